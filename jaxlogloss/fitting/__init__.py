"""Fitting: fit, inference, training loops, sweeps, checkpoints, writers."""

from jaxlogloss.fitting.fit import (
    DEFAULT_FIRST_ORDER_STEPS as DEFAULT_FIRST_ORDER_STEPS,
)
from jaxlogloss.fitting.fit import DEFAULT_MAX_ITER as DEFAULT_MAX_ITER
from jaxlogloss.fitting.fit import SOLVERS as SOLVERS
from jaxlogloss.fitting.fit import STREAM_SOLVERS as STREAM_SOLVERS
from jaxlogloss.fitting.fit import fit as fit
from jaxlogloss.fitting.fit import fit_stream as fit_stream
from jaxlogloss.fitting.result import FitResult as FitResult
