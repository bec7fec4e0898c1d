"""jaxlogloss: the log-loss (binary cross-entropy) and logistic regression in JAX.

The public API, in the order data flows through it:

* design matrix layout: :class:`FeatureMajor`, :func:`feature_major`;
* losses: :func:`sigmoid`, :func:`log_loss`, :func:`log_loss_from_logits`,
  :func:`mse_loss`, :func:`softmax_cross_entropy`;
* the linear-logit model: :class:`LinearParams`, :func:`init_params`, :func:`logits`,
  :func:`predict_proba`, :func:`predict`;
* losses over the parameters: :func:`linear_loss` (and :func:`objective` unchecked);
* closed forms: :func:`closed_form_gradient`, :func:`closed_form_hessian` and the
  per-loss ``*_gradient`` / ``*_hessian``;
* verification: :func:`gradcheck`;
* precision: :func:`enable_x64`.
"""

from jaxlogloss.closed_form import (
    closed_form_gradient as closed_form_gradient,
)
from jaxlogloss.closed_form import (
    closed_form_hessian as closed_form_hessian,
)
from jaxlogloss.closed_form import flatten_params as flatten_params
from jaxlogloss.closed_form import log_loss_gradient as log_loss_gradient
from jaxlogloss.closed_form import log_loss_hessian as log_loss_hessian
from jaxlogloss.closed_form import mse_gradient as mse_gradient
from jaxlogloss.closed_form import mse_hessian as mse_hessian
from jaxlogloss.closed_form import softmax_gradient as softmax_gradient
from jaxlogloss.closed_form import softmax_hessian as softmax_hessian
from jaxlogloss.design import FeatureMajor as FeatureMajor
from jaxlogloss.design import feature_major as feature_major
from jaxlogloss.losses import log_loss as log_loss
from jaxlogloss.losses import log_loss_from_logits as log_loss_from_logits
from jaxlogloss.losses import mse_loss as mse_loss
from jaxlogloss.losses import sigmoid as sigmoid
from jaxlogloss.losses import softmax_cross_entropy as softmax_cross_entropy
from jaxlogloss.model import LinearParams as LinearParams
from jaxlogloss.model import init_params as init_params
from jaxlogloss.model import logits as logits
from jaxlogloss.model import predict as predict
from jaxlogloss.model import predict_proba as predict_proba
from jaxlogloss.objective import LOSSES as LOSSES
from jaxlogloss.objective import linear_loss as linear_loss
from jaxlogloss.objective import objective as objective
from jaxlogloss.precision import enable_x64 as enable_x64
from jaxlogloss.verification import GradcheckReport as GradcheckReport
from jaxlogloss.verification import gradcheck as gradcheck

__version__ = "0.1.0"
