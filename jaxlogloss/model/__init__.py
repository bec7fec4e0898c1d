"""The linear model: parameters, the objective over them, closed forms, checks, scaling."""

from jaxlogloss.model.params import LinearParams as LinearParams
from jaxlogloss.model.params import as_params as as_params
from jaxlogloss.model.params import check_model_inputs as check_model_inputs
from jaxlogloss.model.params import init_params as init_params
from jaxlogloss.model.params import linear_logits as linear_logits
from jaxlogloss.model.params import logits as logits
from jaxlogloss.model.params import predict as predict
from jaxlogloss.model.params import predict_proba as predict_proba
