"""The fits' feature scaling, and the objective at theta = 0 for a run that starts there.

:func:`scaling_of` scales X (each feature's weighted mean and scale,
:func:`~jaxlogloss.model.scaling.feature_scaling`'s rule): where X is in host memory
on one CPU device, by NumPy threads over X
(:func:`~jaxlogloss.model.scaling.host_feature_scaling`, one read of X, no XLA
program), else by one compiled pass.

:func:`scaling_and_start` also gives, for a binary fit from theta = 0 on one device,
f and df/dtheta at 0, where every logit is 0 (:mod:`jaxlogloss.model.zero_point`): the
only product with X there, X^T v with v_i = c_i l'(y_i, 0), comes from the same read
of X, so the solver's first point needs no evaluation. On the host that read is
:func:`~jaxlogloss.data.host_moments.host_moments` between two small programs (the
slopes v, over n; the scaling and the point, over d); elsewhere one compiled pass
(:func:`~jaxlogloss.model.zero_point.scaling_and_zero_point`). At 10^6 x 100 float32
the host read took 0.18-0.19 s against the compiled pass's 0.40 s, and a first call
traces no pass over X (~0.3 s of a CLI process; benchmarks/NOTES.md, "host moments").
An X of at most :data:`HOST_SCALING_MAX_ELEMENTS` elements gets no point at 0: its
first evaluation costs less than compiling the two programs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlogloss.data.design import host_view, on_host
from jaxlogloss.data.host_moments import host_moments
from jaxlogloss.fitting.compiled import fast_compile
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.scaling import (
    Scaling,
    feature_scaling,
    host_feature_scaling,
    scaling_dtype,
)
from jaxlogloss.model.zero_point import (
    ZeroPoint,
    scaling_and_zero_point,
    zero_point_applies,
    zero_point_from_moments,
    zero_slopes,
)

# one compiled program per shape and dtype for fit, fit_path, cv and the multinomial
# fit where X is not in host memory
_compiled_scaling = fast_compile(feature_scaling)
_compiled_zero_point = fast_compile(
    scaling_and_zero_point, static_argnames=("loss", "penalty")
)
_compiled_slopes = fast_compile(zero_slopes, static_argnames="loss")
_compiled_from_moments = fast_compile(
    zero_point_from_moments, static_argnames=("loss", "penalty")
)
HOST_SCALING_MAX_ELEMENTS = 1 << 22  # X's elements up to which a fit gets no point at 0


def scaling_of(X: Any, sample_weight: Any = None, l2: Any = 0.0) -> Scaling:
    """:func:`~jaxlogloss.model.scaling.feature_scaling` of X: by NumPy threads
    (:func:`~jaxlogloss.model.scaling.host_feature_scaling`) for an X in host memory
    on one CPU device -- no XLA program --, else compiled."""
    if _scaled_on_host(X, sample_weight, l2):
        return host_feature_scaling(X, sample_weight, l2)
    return _compiled_scaling(X, sample_weight, l2)


def _scaled_on_host(X: Any, sample_weight: Any, l2: Any) -> bool:
    """Whether X, its weights and ``l2`` are all in host memory on one CPU device."""
    return host_view(X) is not None and on_host(sample_weight, l2)


def scaling_and_start(
    problem: Problem, loss: str, penalty: str, mesh: Any, zero_start: bool = True
) -> tuple[Scaling, ZeroPoint | None]:
    """:func:`scaling_of` ``problem.X`` and, where ``zero_start`` and X has more than
    :data:`HOST_SCALING_MAX_ELEMENTS` elements, for binary targets on one device, the
    objective at theta = 0 from the same read of X (module docstring): a run from 0
    then starts without an evaluation
    (:func:`~jaxlogloss.fitting.host_loop.minimise_host`); else None."""
    X, sw, l2 = problem.X, problem.sample_weight, problem.l2
    if not (
        zero_start
        and zero_point_applies(problem, mesh)
        and X.size > HOST_SCALING_MAX_ELEMENTS
    ):
        return scaling_of(X, sw, l2), None
    if _scaled_on_host(X, sw, l2):
        return host_zero_point(problem, loss, penalty)
    return _compiled_zero_point(problem, loss=loss, penalty=penalty)


def host_zero_point(
    problem: Problem, loss: str, penalty: str
) -> tuple[Scaling, ZeroPoint]:
    """:func:`~jaxlogloss.model.zero_point.scaling_and_zero_point` with X read by
    NumPy threads (module docstring): the slopes, X's moments and X^T v on the host,
    then the scaling and the point (no pass over X in either program)."""
    x, feature_major = host_view(problem.X)
    dtype = np.dtype(scaling_dtype(problem.X, problem.sample_weight, problem.l2))
    slope, loss_sum, slope_sum = _compiled_slopes(problem, loss=loss)
    c = problem.sample_weight
    mean, var, xtv = host_moments(
        x, feature_major, None if c is None else np.asarray(c, np.float64),
        np.asarray(slope, np.float64),
    )  # fmt: skip
    return _compiled_from_moments(
        problem, mean.astype(dtype), var.astype(dtype), xtv, loss_sum, slope_sum,
        loss=loss, penalty=penalty,
    )  # fmt: skip
