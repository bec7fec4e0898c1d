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
* data: :func:`read_table`, :class:`TabularData`, :class:`DataError`, built-in data
  sets in :mod:`jaxlogloss.datasets`;
* metrics: :func:`accuracy`, :func:`roc_auc`, :func:`brier_score`,
  :func:`expected_calibration_error`, :func:`reliability_curve`, :func:`evaluate`;
* training and solvers: :func:`make_optimizer`, :func:`train`, :func:`sweep`,
  :func:`fit` (Newton/IRLS, L-BFGS, first-order) with :class:`FitResult`;
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
from jaxlogloss.convergence import SolverResult as SolverResult
from jaxlogloss.data import DataError as DataError
from jaxlogloss.data import TabularData as TabularData
from jaxlogloss.data import read_table as read_table
from jaxlogloss.design import FeatureMajor as FeatureMajor
from jaxlogloss.design import feature_major as feature_major
from jaxlogloss.distributed import data_mesh as data_mesh
from jaxlogloss.fitting import FitResult as FitResult
from jaxlogloss.fitting import fit as fit
from jaxlogloss.losses import log_loss as log_loss
from jaxlogloss.losses import log_loss_from_logits as log_loss_from_logits
from jaxlogloss.losses import mse_loss as mse_loss
from jaxlogloss.losses import sigmoid as sigmoid
from jaxlogloss.losses import softmax_cross_entropy as softmax_cross_entropy
from jaxlogloss.metrics import accuracy as accuracy
from jaxlogloss.metrics import brier_score as brier_score
from jaxlogloss.metrics import evaluate as evaluate
from jaxlogloss.metrics import expected_calibration_error as expected_calibration_error
from jaxlogloss.metrics import reliability_curve as reliability_curve
from jaxlogloss.metrics import roc_auc as roc_auc
from jaxlogloss.model import LinearParams as LinearParams
from jaxlogloss.model import init_params as init_params
from jaxlogloss.model import logits as logits
from jaxlogloss.model import predict as predict
from jaxlogloss.model import predict_proba as predict_proba
from jaxlogloss.objective import LOSSES as LOSSES
from jaxlogloss.objective import linear_loss as linear_loss
from jaxlogloss.objective import objective as objective
from jaxlogloss.optimizers import make_optimizer as make_optimizer
from jaxlogloss.precision import enable_x64 as enable_x64
from jaxlogloss.stream import open_stream as open_stream
from jaxlogloss.streaming import fit_stream as fit_stream
from jaxlogloss.sweeps import SweepResult as SweepResult
from jaxlogloss.sweeps import sweep as sweep
from jaxlogloss.training import TrainResult as TrainResult
from jaxlogloss.training import train as train
from jaxlogloss.verification import GradcheckReport as GradcheckReport
from jaxlogloss.verification import gradcheck as gradcheck

__version__ = "0.1.0"
