"""The multinomial fit: a target with K > 2 levels, the first sorted level the reference.

:func:`jaxlogloss.fit` comes here when its target has more than two distinct levels
(an array ``y`` of any sortable labels, or a ``TabularData`` read with
``multiclass=True``). It minimises

    f(W, b) = sum_i c_i [-log p_{i, y_i}] / sum_i c_i + (alpha / 2) ||W||_F^2,
    p_i = softmax([0, x_i W + b]),   W (d, K-1), b (K-1)

(:mod:`jaxlogloss.model.multinomial`) by Newton on the full ((d+1)(K-1))^2 Hessian
(or L-BFGS) on standardised features, and reports statsmodels ``MNLogit``'s answer:
coefficients, standard errors from the inverse observed information (the Hessian of the
summed loss, mapped to the raw coefficients), z, p-values, intervals, llf, llnull,
AIC, BIC and McFadden's R^2 (:class:`~jaxlogloss.fitting.multinomial_result.
MultinomialResult`).

Limits (each a ValueError naming the argument): in memory on one device (no stream,
``mesh``, ``process_local``, ``row_range``, ``batch_rows``), penalty "none" or "l2"
(no L1, elastic net or ``penalty_factor``), solvers "newton", "lbfgs" or "auto"
(Newton), ``method="ml"``, no ``offset``, ``cov_type="nonrobust"``. Complete
separation (every row's own class has the largest logit) stops the solver, and
quasi-complete separation is certified after the fit as in the binary case (a
direction of the Hessian's near-null space along which no row's own-class margin
falls): status "separation".
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss import _validation as v
from jaxlogloss.data.codebook import codebook_of
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.fitting.host_scaling import scaling_of
from jaxlogloss.fitting.inference import _invert, inference_from_covariance
from jaxlogloss.fitting.inputs import as_design
from jaxlogloss.fitting.multinomial_result import MultinomialResult
from jaxlogloss.fitting.penalised import resolve_penalty
from jaxlogloss.fitting.result import fit_warnings
from jaxlogloss.fitting.solve import minimise_compiled
from jaxlogloss.fitting.statistics import ModelStatistics
from jaxlogloss.model.class_weight import per_class_weights
from jaxlogloss.model.multinomial import MultinomialObjective, raw_vector
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.scaling import Scaling
from jaxlogloss.precision import enable_x64
from jaxlogloss.solvers.base import DEFAULT_TOL, STATUSES
from jaxlogloss.solvers.registry import make_solver
from jaxlogloss.solvers.separation import quasi_separation_direction

SOLVERS = ("newton", "lbfgs")
DEFAULT_MAX_ITER = {"newton": 100, "lbfgs": 1000}

# fit's keyword arguments a multinomial fit leaves at their defaults, with the words
# of the error when one is set
_UNSUPPORTED = {
    "mesh": (None, "a multinomial fit runs in memory on one device"),
    "process_local": (False, "a multinomial fit runs in one process"),
    "batch_rows": (None, "a multinomial fit does not stream"),
    "row_range": (None, "a multinomial fit does not stream"),
    "offset": (None, "a multinomial fit takes no offset"),
    "groups": (None, "a multinomial fit reports cov_type='nonrobust' only"),
    "cov_type": ("nonrobust", "a multinomial fit reports cov_type='nonrobust' only"),
    "method": ("ml", "a multinomial fit is maximum likelihood (method='ml')"),
    "penalty_factor": (None, "a multinomial fit takes penalty 'none' or 'l2' only"),
    "learning_rate": (None, "a multinomial fit uses newton or lbfgs"),
    "init": (None, "a multinomial fit starts from zero"),
}


def _is_table(X: Any) -> bool:
    return hasattr(X, "xt") and hasattr(X, "feature_names") and hasattr(X, "y")


def multinomial_target(fn: str, X: Any, y: Any) -> tuple[tuple, np.ndarray] | None:
    """(classes sorted, codes (n,) in 0..K-1) when the target has K > 2 levels, else
    None (a binary fit: everything else is checked there, as before).

    The target is ``y``, or a TabularData's ``classes`` and codes. NaN labels and
    ``y`` that NumPy cannot sort are left to the binary checks.
    """
    if _is_table(X):
        classes = tuple(getattr(X, "classes", ()))
        if len(classes) <= 2:
            return None
        return classes, np.asarray(X.y).astype(np.int64)
    if y is None or hasattr(X, "batches"):
        return None
    if isinstance(y, jax.Array) and not y.is_fully_addressable:
        return None
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.dtype.kind == "b":
        return None
    if arr.dtype.kind in "iuf":
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            return None
        if not np.any((arr != 0) & (arr != 1)):  # O(n): binary fits skip the sort
            return None
    try:
        classes, codes = np.unique(arr, return_inverse=True)
    except TypeError:
        return None
    if classes.size <= 2:
        return None
    return tuple(c.item() if hasattr(c, "item") else c for c in classes), codes


def fit_multinomial(
    fn: str, X: Any, target: tuple[tuple, np.ndarray], options: dict[str, Any]
) -> MultinomialResult:
    """:func:`jaxlogloss.fit`'s multinomial branch: check ``options`` (fit's keyword
    arguments) against the limits (module docstring), then :func:`fit_softmax`."""
    for name, (default, why) in _UNSUPPORTED.items():
        value = options.get(name, default)
        simple = isinstance(value, str | bool | int | float | type(None))
        if not (value is default or (simple and value == default)):
            shown = f"{name}={value!r}" if simple else f"{name}="
            raise ValueError(
                f"{fn}: {shown} is not supported with a target of "
                f"{len(target[0])} levels: {why}"
            )
    spec = resolve_penalty(
        fn, options.get("penalty"), options.get("alpha"), options.get("l1_ratio"),
        options.get("l2"),
    )  # fmt: skip
    if spec.name not in ("none", "l2"):
        raise ValueError(
            f"{fn}: penalty={spec.name!r} is not supported with a target of "
            f"{len(target[0])} levels: use penalty 'none' or 'l2'"
        )
    classes, codes = target
    return fit_softmax(
        fn, X, codes, classes, feature_names=options.get("feature_names"),
        sample_weight=options.get("sample_weight"), alpha=spec.alpha,
        class_weight=options.get("class_weight"), solver=options.get("solver", "newton"),
        max_iter=options.get("max_iter"), tol=options.get("tol"),
        dtype=options.get("dtype"), confidence=options.get("confidence", 0.95),
    )  # fmt: skip


def fit_softmax(
    fn: str,
    X: Any,
    codes: Any,
    classes: tuple,
    *,
    feature_names: Any = None,
    sample_weight: Any = None,
    alpha: float = 0.0,
    class_weight: Any = None,
    solver: str = "newton",
    max_iter: int | None = None,
    tol: float | None = None,
    dtype: str | None = None,
    confidence: float = 0.95,
    symmetric: bool = False,
    fit_intercept: bool = True,
) -> MultinomialResult:
    """Fit the K-class softmax model to X (an (n, d) array, FeatureMajor or
    TabularData) and class codes (n,) in 0..K-1 of ``classes``.

    ``symmetric`` (needs alpha > 0): a weight vector for every class, as scikit-learn
    (:mod:`jaxlogloss.model.multinomial`); ``fit_intercept=False``: no intercepts.
    ``class_weight``: "balanced" or a mapping class -> weight, keyed by the labels of
    ``classes`` (by the codes 0..K-1 for a TabularData, as in a binary fit).
    """
    solver = "newton" if solver == "auto" else solver
    if solver not in SOLVERS:
        raise ValueError(
            f"{fn}: solver must be one of auto, newton, lbfgs with a target of "
            f"{len(classes)} levels, got {solver!r}"
        )
    dtype = "float64" if dtype is None else dtype
    if dtype not in DEFAULT_TOL:
        raise ValueError(f"{fn}: dtype must be one of float32, float64, got {dtype!r}")
    tol = DEFAULT_TOL[dtype] if tol is None else v.check_number(fn, "tol", tol, 0, True)
    max_iter = DEFAULT_MAX_ITER[solver] if max_iter is None else max_iter
    max_iter = v.check_count(fn, "max_iter", max_iter)
    if not 0 < confidence < 1:
        raise ValueError(f"{fn}: confidence must be in (0, 1), got {confidence!r}")
    if symmetric and not alpha > 0:
        raise ValueError(f"{fn}: a symmetric multinomial fit needs alpha > 0")
    table = X if _is_table(X) else None
    if table is not None:
        X = FeatureMajor(table.xt)
        feature_names = tuple(table.feature_names)
        if sample_weight is None:
            sample_weight = table.sample_weight
    if isinstance(X, FeatureMajor):  # one layout: one compiled program a shape
        xt = X.xt
        X = xt.T if isinstance(xt, jax.Array) else np.ascontiguousarray(xt.T)
    codes = np.asarray(codes).astype(np.int64)
    k = len(classes)
    with enable_x64(dtype == "float64"):
        design = as_design(fn, X, dtype)
        n, d = design.shape
        v.check_finite(
            fn, "X", design.xt if isinstance(design, FeatureMajor) else design
        )
        if feature_names is None:
            feature_names = tuple(f"x{j}" for j in range(d))
        feature_names = tuple(str(name) for name in feature_names)
        if len(feature_names) != d:
            raise ValueError(
                f"{fn}: feature_names has {len(feature_names)} names but X has {d} "
                "columns"
            )
        if codes.shape != (n,):
            raise ValueError(
                f"{fn}: y has shape {codes.shape} but X has {n} rows; expected ({n},)"
            )
        counts = np.bincount(codes, minlength=k)
        if class_weight is not None:
            keys = list(range(k)) if table is not None else list(classes)
            cw = per_class_weights(keys, counts, class_weight, fn)[codes]
            sample_weight = (
                cw
                if sample_weight is None
                else cw * np.asarray(sample_weight, np.float64)
            )
        sw = v.check_sample_weight(fn, sample_weight, (n,), dtype)
        if sw is None:  # ones: the same compiled program with and without weights
            sw = jax.device_put(np.ones((n,), dtype))
        targets = jax.device_put(np.eye(k, dtype=dtype)[codes])
        problem = Problem(design, targets, sw, jax.device_put(np.asarray(alpha, dtype)))
        scaling = scaling_of(design, sw, problem.l2)
        if not fit_intercept:  # no intercept to absorb a centring
            scaling = Scaling(jnp.zeros_like(scaling.mean), scaling.scale)
        objective = MultinomialObjective(problem, scaling, symmetric, fit_intercept)
        start = time.perf_counter()
        method = make_solver(solver, jax.device_put(np.asarray(tol, dtype)), max_iter)
        theta0 = jax.device_put(np.zeros((objective.n_params,), dtype))
        state = minimise_compiled(method, objective, theta0)
        it = jax.device_get(state.iterate)
        seconds = time.perf_counter() - start
        out = jax.device_get(_at_optimum(objective, state.iterate.theta))
    information, jac, raw_w, raw_b, loss_sum, class_totals = out
    status = STATUSES[int(it.status)]
    if alpha == 0 and status != "separation":  # quasi-complete separation
        theta = np.asarray(it.theta, np.float64)
        with enable_x64(dtype == "float64"):
            direction = quasi_separation_direction(
                np.asarray(information, np.float64), objective.margin_range,
                candidates=(theta,),
            )  # fmt: skip
        if direction is not None:
            status = "separation"
    n_iter = int(it.n_iter)
    m = objective.n_columns
    cov = jac @ _invert(np.asarray(information, np.float64)) @ jac.T
    coef_classes = classes if symmetric else classes[1:]
    names = ("intercept", *feature_names)
    flat = [f"{c}:{name}" for c in coef_classes for name in names]
    coef_flat = np.concatenate([raw_b[None, :], raw_w], axis=0).T.ravel()
    if not fit_intercept:  # the intercepts are 0, not estimates
        keep = np.arange(m * (d + 1)) % (d + 1) != 0
        flat = [f for f, kept in zip(flat, keep, strict=True) if kept]
        coef_flat, cov = coef_flat[keep], cov[np.ix_(keep, keep)]
    inference = inference_from_covariance(flat, coef_flat, cov, confidence)
    total = float(np.sum(class_totals))
    shares = class_totals[class_totals > 0] / total
    llnull = float(total * np.sum(shares * np.log(shares)))
    if not fit_intercept:
        llnull = total * math.log(1 / k)
    stats = ModelStatistics(
        llf=-float(loss_sum), llnull=llnull, nobs=total,
        n_params=(d + fit_intercept) * (k - 1), dtype=dtype,
    )  # fmt: skip
    penalty = 0.5 * alpha * float(np.sum(np.square(raw_w)))
    book = codebook_of(table, feature_names)
    book = type(book)(book.columns, book.target, tuple(classes), book.offset)
    return MultinomialResult(
        classes=tuple(classes), feature_names=feature_names,
        coef=np.asarray(raw_w, np.float64).reshape(d, m),
        intercept=np.asarray(raw_b, np.float64).reshape(m), inference=inference,
        log_loss=float(loss_sum) / total, objective=float(it.value), n_iter=n_iter,
        status=status, solver=solver, l2=float(alpha), tol=float(tol),
        grad_norm=float(np.max(np.abs(it.grad))), n_samples=n, seconds=seconds,
        loss_history=np.asarray(it.loss_history)[: n_iter + 1],
        warnings=_warnings(status, solver, max_iter, n),
        penalty="l2" if alpha > 0 else "none", statistics=stats, codebook=book,
        symmetric=symmetric, fit_intercept=fit_intercept, penalty_value=penalty,
    )  # fmt: skip


def _warnings(status: str, solver: str, max_iter: int, n: int) -> tuple[str, ...]:
    """The binary fit's warnings, but separation says what a multinomial fit offers."""
    if status == "separation":
        return (
            "the classes are (quasi-)separable (no row's own-class logit falls behind "
            "along a direction of W) while ||W|| keeps growing, so the maximum-likelihood estimate does not "
            "exist (coefficients and standard errors are not meaningful); add an L2 "
            "penalty, e.g. --l2 1e-3 (l2=1e-3)",
        )
    return fit_warnings(status, solver, max_iter, n)


@functools.partial(jax.jit)
def _at_optimum(objective: MultinomialObjective, theta: jax.Array) -> tuple:
    """The observed information (the Hessian of the summed loss over theta), the
    Jacobian of the raw parameters (:func:`raw_vector`) over theta, the raw W and b,
    the summed (unpenalised) loss and the weight of each class."""
    p = objective.problem
    c = jnp.ones(p.targets.shape[0], p.targets.dtype)
    if p.sample_weight is not None:
        c = p.sample_weight
    total = jnp.sum(c)
    information = objective.hessian(theta) * total
    jac = jax.jacfwd(lambda t: raw_vector(objective, t))(theta)
    raw = objective.raw_params(theta)
    penalty = 0.5 * p.l2 * jnp.sum(jnp.square(raw.w))
    loss_sum = (objective.value(theta) - penalty) * total
    return information, jac, raw.w, raw.b, loss_sum, c @ p.targets
