"""Pointwise losses, their derivatives and the loss registry."""

from jaxlogloss.losses.pointwise import log_loss as log_loss
from jaxlogloss.losses.pointwise import log_loss_from_logits as log_loss_from_logits
from jaxlogloss.losses.pointwise import log_loss_pointwise as log_loss_pointwise
from jaxlogloss.losses.pointwise import (
    logit_log_loss_pointwise as logit_log_loss_pointwise,
)
from jaxlogloss.losses.pointwise import mse_loss as mse_loss
from jaxlogloss.losses.pointwise import mse_pointwise as mse_pointwise
from jaxlogloss.losses.pointwise import reduce_loss as reduce_loss
from jaxlogloss.losses.pointwise import sigmoid as sigmoid
from jaxlogloss.losses.pointwise import softmax_cross_entropy as softmax_cross_entropy
from jaxlogloss.losses.pointwise import (
    softmax_cross_entropy_labels_pointwise as softmax_cross_entropy_labels_pointwise,
)
from jaxlogloss.losses.pointwise import (
    softmax_cross_entropy_pointwise as softmax_cross_entropy_pointwise,
)
