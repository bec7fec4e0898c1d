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
  :func:`fit` (Newton/IRLS, L-BFGS, first-order; ``method="firth"``) with
  :class:`FitResult` (:class:`MultinomialResult` for K > 2 classes),
  :func:`firth_profile_intervals`;
* regularisation: :func:`fit_path` (:class:`PathResult`), :func:`cv`
  (:class:`CVResult`);
* statistics: :func:`lr_test`, :func:`load_model` (``FitResult.save``);
* precision: :func:`enable_x64`.
"""

import importlib
from typing import Any

from jaxlogloss import _moved  # noqa: E402  (old module paths, deprecated)
from jaxlogloss.data.design import FeatureMajor as FeatureMajor
from jaxlogloss.data.design import feature_major as feature_major
from jaxlogloss.fitting.cv import CVResult as CVResult
from jaxlogloss.fitting.cv import cv as cv
from jaxlogloss.fitting.firth_profile import (
    firth_profile_intervals as firth_profile_intervals,
)
from jaxlogloss.fitting.fit import FitResult as FitResult
from jaxlogloss.fitting.fit import fit as fit
from jaxlogloss.fitting.fit import fit_stream as fit_stream
from jaxlogloss.fitting.load import load_model as load_model
from jaxlogloss.fitting.model_tests import lr_test as lr_test
from jaxlogloss.fitting.multinomial_result import (
    MultinomialResult as MultinomialResult,
)
from jaxlogloss.fitting.path import PathResult as PathResult
from jaxlogloss.fitting.path import fit_path as fit_path
from jaxlogloss.fitting.sweeps import SweepResult as SweepResult
from jaxlogloss.fitting.sweeps import sweep as sweep
from jaxlogloss.fitting.train import TrainResult as TrainResult
from jaxlogloss.fitting.train import train as train
from jaxlogloss.losses.pointwise import log_loss as log_loss
from jaxlogloss.losses.pointwise import log_loss_from_logits as log_loss_from_logits
from jaxlogloss.losses.pointwise import mse_loss as mse_loss
from jaxlogloss.losses.pointwise import sigmoid as sigmoid
from jaxlogloss.losses.pointwise import softmax_cross_entropy as softmax_cross_entropy
from jaxlogloss.losses.registry import LOSSES as LOSSES
from jaxlogloss.metrics import accuracy as accuracy
from jaxlogloss.metrics import brier_score as brier_score
from jaxlogloss.metrics import evaluate as evaluate
from jaxlogloss.metrics import expected_calibration_error as expected_calibration_error
from jaxlogloss.metrics import reliability_curve as reliability_curve
from jaxlogloss.metrics import roc_auc as roc_auc
from jaxlogloss.model.closed_form import (
    closed_form_gradient as closed_form_gradient,
)
from jaxlogloss.model.closed_form import (
    closed_form_hessian as closed_form_hessian,
)
from jaxlogloss.model.closed_form import flatten_params as flatten_params
from jaxlogloss.model.closed_form import log_loss_gradient as log_loss_gradient
from jaxlogloss.model.closed_form import log_loss_hessian as log_loss_hessian
from jaxlogloss.model.closed_form import mse_gradient as mse_gradient
from jaxlogloss.model.closed_form import mse_hessian as mse_hessian
from jaxlogloss.model.closed_form import softmax_gradient as softmax_gradient
from jaxlogloss.model.closed_form import softmax_hessian as softmax_hessian
from jaxlogloss.model.objective import linear_loss as linear_loss
from jaxlogloss.model.objective import objective as objective
from jaxlogloss.model.params import LinearParams as LinearParams
from jaxlogloss.model.params import init_params as init_params
from jaxlogloss.model.params import logits as logits
from jaxlogloss.model.params import predict as predict
from jaxlogloss.model.params import predict_proba as predict_proba
from jaxlogloss.model.verification import GradcheckReport as GradcheckReport
from jaxlogloss.model.verification import gradcheck as gradcheck
from jaxlogloss.parallel.mesh import data_mesh as data_mesh
from jaxlogloss.precision import enable_x64 as enable_x64
from jaxlogloss.solvers.base import SolverResult as SolverResult
from jaxlogloss.solvers.first_order import make_optimizer as make_optimizer

_moved.install()

# the names that need pyarrow load on first use: ``import jaxlogloss`` imports no
# pyarrow (nor matplotlib, rich or a peer library); ``jl.read_table`` and
# ``from jaxlogloss import read_table`` work as before
_LAZY = {
    "DataError": "jaxlogloss.data.files",
    "TabularData": "jaxlogloss.data.table",
    "read_table": "jaxlogloss.data.table",
    "open_stream": "jaxlogloss.data.stream",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "CVResult",
    "DataError",
    "FeatureMajor",
    "FitResult",
    "GradcheckReport",
    "LOSSES",
    "LinearParams",
    "MultinomialResult",
    "PathResult",
    "SolverResult",
    "SweepResult",
    "TabularData",
    "TrainResult",
    "accuracy",
    "brier_score",
    "closed_form_gradient",
    "closed_form_hessian",
    "cv",
    "data_mesh",
    "enable_x64",
    "evaluate",
    "expected_calibration_error",
    "feature_major",
    "firth_profile_intervals",
    "fit",
    "fit_path",
    "fit_stream",
    "flatten_params",
    "gradcheck",
    "init_params",
    "linear_loss",
    "load_model",
    "log_loss",
    "log_loss_from_logits",
    "log_loss_gradient",
    "log_loss_hessian",
    "logits",
    "lr_test",
    "make_optimizer",
    "mse_gradient",
    "mse_hessian",
    "mse_loss",
    "objective",
    "open_stream",
    "predict",
    "predict_proba",
    "read_table",
    "reliability_curve",
    "roc_auc",
    "sigmoid",
    "softmax_cross_entropy",
    "softmax_gradient",
    "softmax_hessian",
    "sweep",
    "train",
]

__version__ = "0.1.0"
