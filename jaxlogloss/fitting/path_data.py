"""The data, the penalty's arguments and the alpha grid of a path or a CV run.

:func:`alpha_max` is the smallest alpha whose solution has every penalised coefficient
zero: with p0 the fitted probabilities of the unpenalised model (the intercept and the
features of penalty factor 0; without such features p0 = ybar_c),

    alpha_max = max_{j: f_j > 0} |x_j^T c (y - p0)| / (sum c * l1_ratio * f_j),

(times 1 + :data:`FREE_FIT_MARGIN` when p0 comes from a numerical fit: at the first
point the solver then sees each penalised feature's gradient 1e-7 |g| inside its
bound, so that the model's rounding (a float32 Hessian) cannot leave a coefficient
of 1e-11 there; 1e-9 did, for 1 test seed in 8), which for unit
factors is the issue's max_j |x_j^T c (y - ybar_c)| / (sum c l1_ratio).
For l1_ratio below :data:`L2_RATIO_FLOOR` (the pure L2 penalty, where it is infinite)
the floor is used, as glmnet does. :func:`path_grid` spaces the default grid log-evenly
from alpha_max down to ``alpha_min_ratio`` of it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss import _validation as v
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.data.host import RowMoments, shareable, to_jax, transposed_copy
from jaxlogloss.fitting.host_scaling import scaling_of
from jaxlogloss.model.objective import prepare_problem
from jaxlogloss.model.params import init_params
from jaxlogloss.model.penalties import penalty_names, resolve_l1_ratio
from jaxlogloss.model.scaling import Scaling, host_scaling
from jaxlogloss.solvers.base import DEFAULT_TOL

Array = jax.Array

L2_RATIO_FLOOR = 1e-3  # the grid's l1_ratio for a pure L2 path (glmnet's choice)
FREE_FIT_MARGIN = 1e-7  # alpha_max's relative margin when p0 comes from a fit


class PathData(NamedTuple):
    """Validated data of a path or a CV run, in compiled form (feature-major X)."""

    X: FeatureMajor
    targets: Array
    sample_weight: Array  # the fit's weights: sample weights x class weights
    feature_names: tuple[str, ...]
    score_weight: Array  # the sample weights alone (held-out scores)
    moments: RowMoments | None = None  # X's, from its copy, where the weights are 1


def data_scaling(data: PathData) -> Scaling:
    """The fit's feature scaling (:func:`~jaxlogloss.model.scaling.feature_scaling`):
    from the moments the copy of X took (no pass over X) where it has them, else
    :func:`~jaxlogloss.fitting.host_scaling.scaling_of`."""
    if data.moments is None:
        return scaling_of(data.X, data.sample_weight)
    return host_scaling(data.moments.mean, data.moments.var, 0.0, data.X.dtype)


def check_penalty(fn: str, penalty: Any, l1_ratio: Any) -> float:
    """Validate the penalty (a registered one other than "none") and return the
    l1_ratio it means: its fixed one (l1: 1, l2: 0), or the user's for "elasticnet"."""
    known = [p for p in penalty_names() if p != "none"]
    if penalty not in known:
        names = ", ".join(repr(p) for p in known)
        raise ValueError(f"{fn}: penalty must be one of {names}, got {penalty!r}")
    return resolve_l1_ratio(penalty, l1_ratio, fn)


def prepare_data(
    fn: str,
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    class_weight: Any = None,
    feature_names: Any = None,
    dtype: str = "float64",
) -> PathData:
    """Validate (X, y, weights) -- an (n, d) array or a TabularData -- and return them
    feature-major, with the class weights multiplied into the sample weights."""
    if dtype not in DEFAULT_TOL:
        raise ValueError(f"{fn}: dtype must be one of float32, float64, got {dtype!r}")
    moments, x_finite = None, False
    if hasattr(X, "xt") and hasattr(X, "feature_names") and hasattr(X, "y"):
        data = X
        X, y = FeatureMajor(jnp.asarray(np.asarray(data.xt, dtype))), data.y
        feature_names = tuple(data.feature_names)
        if sample_weight is None:
            sample_weight = data.sample_weight
    elif y is None:
        raise TypeError(f"{fn}: y is required unless X is a jaxlogloss.TabularData")
    else:
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(f"{fn}: X must be an (n, d) matrix, got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.floating) and arr.dtype.kind not in "iu":
            raise TypeError(f"{fn}: X must be numeric, got dtype {arr.dtype}")
        X, moments = checked_feature_major(fn, arr, dtype)
        x_finite = True  # checked on the way in: prepare_problem makes no second scan
    d = X.shape[1]
    names = tuple(f"x{j}" for j in range(d)) if feature_names is None else feature_names
    if len(names) != d:
        raise ValueError(
            f"{fn}: feature_names has {len(names)} names but X has {d} columns"
        )
    _, X, targets, sw, _ = prepare_problem(
        fn, init_params(d, dtype=X.dtype), X, y, loss="log_loss",
        sample_weight=sample_weight, x_finite=x_finite,
    )  # fmt: skip
    n = targets.shape[0]
    sw = jnp.ones((n,), targets.dtype) if sw is None else sw
    score_weight = sw
    if class_weight is not None:
        from jaxlogloss.model.class_weight import class_weights

        mult = class_weights(np.asarray(targets), class_weight, fn)
        sw = sw * jnp.asarray(mult, targets.dtype)
    if sample_weight is not None or class_weight is not None:
        moments = None  # weighted moments: scaling_of's pass
    names = tuple(str(s) for s in names)
    return PathData(X, targets, sw, names, score_weight, moments)


def checked_feature_major(
    fn: str, arr: np.ndarray, dtype: str
) -> tuple[FeatureMajor, RowMoments | None]:
    """(n, d) ``arr`` as a FeatureMajor design of ``dtype``, checked finite, and its
    features' moments where they come with the copy (:func:`transposed_copy`: the
    copy, the check and the scaling's moments in one pass), else None."""
    if shareable(arr.T, dtype) or arr.size == 0:  # no copy: the check's own pass
        v.check_finite(fn, "X", arr)
        return FeatureMajor(to_jax(arr.T, dtype)), None
    xt, moments = transposed_copy(arr, dtype)
    if not (np.isfinite(moments.mean).all() and np.isfinite(moments.var).all()):
        v.check_finite(fn, "X", arr)  # raises, naming the (row, column) of the entry
        moments = None  # finite entries whose squares overflow: scaling_of's pass
    return FeatureMajor(jnp.from_dlpack(xt)), moments


def raw_coefficients(theta: np.ndarray, scaling: Any) -> tuple[np.ndarray, np.ndarray]:
    """(coef (..., d), intercept (...)) on the raw features from theta (..., d+1) on
    standardised ones, in NumPy for any number of leading axes (points, runs):
    w = theta_w / s, b = theta_b - m . w."""
    mean, scale = (np.asarray(a, np.float64) for a in scaling)
    d = mean.shape[0]
    t = np.asarray(theta, np.float64)
    w = t[..., :d] / scale
    return w, t[..., d] - w @ mean


def check_penalty_factor(fn: str, penalty_factor: Any, d: int, dtype: Any) -> Array:
    """(d,) non-negative finite penalty factors (ones when None)."""
    if penalty_factor is None:
        return jnp.ones((d,), dtype)
    f = np.asarray(penalty_factor, dtype=np.float64)
    if f.shape != (d,) or not np.all(np.isfinite(f)) or np.any(f < 0):
        raise ValueError(
            f"{fn}: penalty_factor must be {d} finite numbers >= 0, got "
            f"{np.asarray(penalty_factor)!r}"
        )
    return jnp.asarray(f, dtype)


@jax.jit
def alpha_max(
    X: Any, targets: Array, c: Array, l1_ratio: Any, factor: Array, fitted: Any = None
) -> Array:
    """The smallest alpha with all-zero penalised coefficients (module docstring);
    ``fitted``: the unpenalised model's probabilities (None: the weighted mean of y).
    Features with factor 0 are skipped; l1_ratio below :data:`L2_RATIO_FLOOR` uses it."""
    xt = X.xt if isinstance(X, FeatureMajor) else X.T
    if fitted is None:
        fitted = jnp.sum(c * targets) / jnp.sum(c)
    score = jnp.abs(xt @ (c * (targets - fitted))) / jnp.sum(c)
    ratio = jnp.maximum(l1_ratio, L2_RATIO_FLOOR)
    per = jnp.where(factor > 0, score / jnp.where(factor > 0, factor, 1.0), 0.0)
    return jnp.max(per) / ratio


def unpenalised_fit(
    X: Any, targets: Any, c: Any, free: np.ndarray, iters: int = 100
) -> np.ndarray:
    """p0: the probabilities of the weighted logistic fit on the intercept and the
    ``free`` features (NumPy Newton/IRLS, float64; small: len(free) + 1 parameters).
    Where the free features separate the classes beta runs away and exp(-A beta)
    overflows to inf: p is then 0 there, as it should be (no warning)."""
    xt = np.asarray(X.xt if isinstance(X, FeatureMajor) else np.asarray(X).T)
    A = np.vstack([np.ones(xt.shape[1]), xt[free]]).T.astype(np.float64)
    y, w = np.asarray(targets, np.float64), np.asarray(c, np.float64) / np.sum(c)
    beta = np.zeros(A.shape[1])
    with np.errstate(over="ignore"):
        for _ in range(iters):
            p = 1 / (1 + np.exp(-(A @ beta)))
            grad = A.T @ (w * (p - y))
            hess = (A * (w * p * (1 - p))[:, None]).T @ A
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
            beta -= step
            if np.max(np.abs(grad)) < 1e-13:
                break
        return 1 / (1 + np.exp(-(A @ beta)))


def alpha_grid(top: float, n_alphas: int, min_ratio: float) -> np.ndarray:
    """n_alphas log-spaced from ``top`` down to ``min_ratio * top``."""
    return top * np.logspace(0.0, math.log10(min_ratio), n_alphas)


def check_alphas(fn: str, alphas: Any) -> np.ndarray:
    """A user's grid: finite numbers >= 0, returned sorted decreasing."""
    a = np.asarray(alphas, dtype=np.float64).ravel()
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(
            f"{fn}: alphas must be a non-empty list of finite numbers >= 0, got "
            f"{alphas!r}"
        )
    return np.sort(a)[::-1].copy()


def path_grid(
    fn: str, data: PathData, l1_ratio: float, factor: Array, alphas: Any,
    n_alphas: int, alpha_min_ratio: float | None,
) -> np.ndarray:  # fmt: skip
    """The user's grid (checked, sorted decreasing) or the default one."""
    if alphas is not None:
        return check_alphas(fn, alphas)
    if isinstance(n_alphas, bool) or not isinstance(n_alphas, int) or n_alphas < 1:
        raise ValueError(f"{fn}: n_alphas must be an integer >= 1, got {n_alphas!r}")
    n, d = data.X.shape
    if alpha_min_ratio is None:
        alpha_min_ratio = 1e-2 if d > n else 1e-4
    if not (isinstance(alpha_min_ratio, int | float) and 0 < alpha_min_ratio <= 1):
        raise ValueError(
            f"{fn}: alpha_min_ratio must be in (0, 1], got {alpha_min_ratio!r}"
        )
    f = np.asarray(factor)
    fitted = None
    if np.any(f == 0):  # free features: the residual of their unpenalised fit
        free = np.flatnonzero(f == 0)
        fitted = unpenalised_fit(data.X, data.targets, data.sample_weight, free)
        fitted = jnp.asarray(fitted, data.targets.dtype)
    top = float(
        alpha_max(data.X, data.targets, data.sample_weight, l1_ratio, factor, fitted)
    )
    if fitted is not None:  # p0 is a numerical fit: a margin for its rounding
        top *= 1 + FREE_FIT_MARGIN
    if not top > 0:
        raise ValueError(
            f"{fn}: alpha_max is 0 (no penalised feature is correlated with y); "
            "pass alphas"
        )
    return alpha_grid(top, n_alphas, float(alpha_min_ratio))
