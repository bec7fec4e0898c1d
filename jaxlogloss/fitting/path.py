"""Regularisation paths: penalised fits over a decreasing alpha grid, warm started.

For a grid alpha_1 > alpha_2 > ... > alpha_K, :func:`fit_path` minimises, at each alpha,

    sum_i c_i l(y_i, x_i w + b) / sum_i c_i
        + alpha sum_j f_j (l1_ratio |w_j| + (1 - l1_ratio) / 2 w_j^2)

(the intercept never penalised; ``f`` the penalty factors, glmnet's ``penalty.factor``)
starting from the previous alpha's solution. :func:`fit_path` solves every penalty on
a working set of features, driven from the host
(:mod:`jaxlogloss.fitting.path_working_set`: with an L1 part most passes read only the
active features' rows and one full pass checks each point; with none the set is every
feature). Each point stops on the raw KKT violation it reports (<= ``tol``), as the
cross-validation runs do, and the quadratic models' algebra is float64 whatever X's
dtype.

:func:`solve_path`, for any penalty, is ONE compiled program, kept as a pure function
(jit or vmap it over l1_ratios or sample-weight masks; the tests' independent
reference for the working set): a ``lax.scan`` over the alphas whose carry is theta
(the parameters on standardised features, one fixed scaling for the path, so a warm
start needs no conversion), the penalty-free loss's value, gradient and logits there
(the next point starts without a pass over X) and the loss Hessian of the quadratic
model. Each point is solved by proximal Newton
(:func:`jaxlogloss.solvers.prox_newton.prox_newton_solve`) on
:class:`~jaxlogloss.fitting.path_objective.PathObjective`, whatever the penalty (with
no L1 part its model step is one Newton solve): the model starts from the previous
point's Hessian, is updated by BFGS after every step and recomputed only where a step
(after a point's first) shrank the KKT violation by less than :data:`REFRESH` (at
100,000 x 50, 20 alphas: 12 Hessians and 74 passes instead of 60 of each;
benchmarks/NOTES.md, issue 12 speed). It stops on the standardised KKT violation
(:mod:`jaxlogloss.solvers.kkt`) and reports the raw one.

:mod:`jaxlogloss.fitting.cv` runs its folds in lockstep
(:mod:`jaxlogloss.fitting.cv_lockstep`).

Default grid (:func:`jaxlogloss.fitting.path_data.alpha_max`, which also handles
unpenalised features): alpha_max is the smallest alpha whose solution is all
zeros,

    alpha_max = max_{j: f_j > 0} |x_j^T c (y - ybar_c)| / (sum c * l1_ratio * f_j),

and the grid is log-spaced from alpha_max down to ``alpha_min_ratio * alpha_max``
(1e-4, or 1e-2 when d > n). For the pure L2 penalty (l1_ratio = 0) that formula is
infinite: as glmnet does, the grid then uses l1_ratio = max(l1_ratio, 1e-3)
(``path_data.L2_RATIO_FLOOR``), i.e. alpha_max = 1000 times the lasso's, where every
coefficient of the L2 fit is already near zero.

Screening (``screening=True``, the default): with an L1 part, each point's working set
starts from the warm start's KKT violators (:mod:`jaxlogloss.fitting.path_working_set`;
the sequential strong rule of Tibshirani et al. 2012 keeps a larger set and measured
slower there). With no L1 part every feature is active: nothing to screen. The path
is the same either way (tested).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.fitting.host_prox import lapack_on_one_thread
from jaxlogloss.fitting.path_data import (
    PathData,
    check_penalty,
    check_penalty_factor,
    data_scaling,
    path_grid,
    prepare_data,
    raw_coefficients,
)
from jaxlogloss.fitting.path_objective import (
    REFRESH,
    PathObjective,
    centred_float32,
    penalty_free,
)
from jaxlogloss.fitting.path_working_set import working_set_path
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import (
    Evaluation,
    InMemoryObjective,
    least_margin,
    unravel,
)
from jaxlogloss.model.scaling import Scaling, to_raw
from jaxlogloss.precision import enable_x64
from jaxlogloss.solvers.base import DEFAULT_PATH_TOL, SEPARATION, STATUSES
from jaxlogloss.solvers.kkt import (
    PenaltyWeights,
    l1_part,
    penalty_weights,
)
from jaxlogloss.solvers.prox_newton import prox_newton_solve
from jaxlogloss.solvers.separation import free_coordinates

Array = jax.Array

REFRESH_AFTER = 1  # ... from the second step of a point on
SECANT = True  # BFGS updates of the kept model between refreshes
MAX_ITER = 100  # proximal Newton steps per point


@dataclass(frozen=True)
class PathResult:
    """A regularisation path (K points, alphas decreasing), on the raw features.

    Attributes:
      alphas: (K,) the grid, decreasing.
      coef: (K, d) the coefficients at each alpha; intercept: (K,).
      objective: (K,) the penalised objective at each point.
      n_iter: (K,) solver iterations per point; status: (K,) their status words.
      kkt: (K,) the largest KKT violation at each point (raw scale).
      penalty, l1_ratio: the penalty; feature_names: the d names.
    """

    alphas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    objective: np.ndarray
    n_iter: np.ndarray
    status: np.ndarray
    kkt: np.ndarray
    penalty: str
    l1_ratio: float
    feature_names: tuple[str, ...] = field(default=())

    @property
    def n_nonzero(self) -> np.ndarray:
        """(K,) the number of nonzero coefficients at each alpha."""
        return np.count_nonzero(self.coef, axis=1)


class PointResult(NamedTuple):
    """One point of a path: theta (standardised), F, iterations, status, raw KKT."""

    theta: Array
    value: Array
    n_iter: Array
    status: Array
    kkt: Array


class PathCarry(NamedTuple):
    """What the scan carries from one alpha to the next: theta, its alpha, the
    penalty-free loss's evaluation there (value, gradient, logits: the next solve
    starts from it without a pass over X) and the loss Hessian its model last used."""

    theta: Array
    alpha: Array
    loss: Evaluation
    hessian: Array


def path_start(
    obj: PathObjective, theta: Array, alpha: Array, hessian: Array | None = None
) -> PathCarry:
    """The carry at the start: the loss's evaluation at theta and its exact Hessian
    there (or ``hessian`` where the caller has one)."""
    ev = obj.evaluate(theta, 1)
    if hessian is None:
        hessian = obj.hessian(theta, ev.aux)
    return PathCarry(theta, alpha, ev, hessian)


def solve_point(
    obj: PathObjective, theta: Array, loss: Evaluation, hessian: Array, alpha: Array,
    l1_ratio: Array, factor: Array, tol: Array, max_iter: int,
) -> Any:  # fmt: skip
    """Proximal Newton at one alpha from theta (``loss``: the evaluation there), its
    model starting from ``hessian`` and refreshed by the rule :data:`REFRESH` (a
    ProxNewtonResult)."""
    return prox_newton_solve(
        obj, theta, alpha=alpha, l1_ratio=l1_ratio,
        penalty_factor=factor, tol=tol, max_iter=max_iter, hessian=hessian,
        refresh=jnp.asarray(REFRESH, theta.dtype), start=loss, secant=SECANT,
        refresh_after=REFRESH_AFTER,
    )  # fmt: skip


def loss_at(problem: Problem, out: Any, weights: PenaltyWeights) -> Evaluation:
    """The penalty-free loss's evaluation at a solution ``out`` of F (its value and
    gradient less the penalty's, its logits)."""
    lam, mu = weights
    theta = out.theta
    value = out.value - 0.5 * jnp.sum(mu * jnp.square(theta)) - l1_part(theta, lam)
    separated = least_margin(out.aux, problem.targets, problem.sample_weight) > 0
    return Evaluation(value, out.grad - mu * theta, None, separated, out.aux)


def path_point(
    obj: PathObjective, carry: PathCarry, alpha: Array, l1_ratio: Array,
    factor: Array, tol: Array, max_iter: int,
) -> tuple[PathCarry, PointResult]:  # fmt: skip
    """One alpha of a path, warm started from ``carry`` (theta, its evaluation and
    the model Hessian)."""
    weights = penalty_weights(obj.scaling, alpha, l1_ratio, factor)
    out = solve_point(
        obj, carry.theta, carry.loss, carry.hessian, alpha, l1_ratio, factor, tol,
        max_iter,
    )  # fmt: skip
    nxt = PathCarry(out.theta, alpha, loss_at(obj.problem, out, weights), out.hessian)
    return nxt, PointResult(out.theta, out.value, out.n_iter, out.status, out.kkt)


def solve_path(
    problem: Problem,
    scaling: Scaling,
    theta0: Array,
    alphas: Array,
    l1_ratio: Array,
    factor: Array,
    tol: Array,
    max_iter: int,
) -> PointResult:
    """The path as one ``lax.scan`` over ``alphas`` carrying theta, its gradient and
    the model Hessian (pure: vmap it over l1_ratio or the alphas). Stacked
    PointResults. A float64 path keeps a centred float32 copy of X for its model
    Hessians (:func:`~jaxlogloss.fitting.path_objective.centred_float32`)."""
    centred = None
    if problem.targets.dtype == jnp.float64:
        centred = centred_float32(problem.X.xt, scaling)
    obj = penalty_free(problem, scaling, centred)

    def body(carry: PathCarry, alpha: Array) -> tuple[PathCarry, PointResult]:
        return path_point(obj, carry, alpha, l1_ratio, factor, tol, max_iter)

    start = path_start(obj, theta0, alphas[0])
    return jax.lax.scan(body, start, alphas)[1]


@functools.partial(jax.jit, static_argnames="max_iter")
def compiled_path(
    problem: Problem, scaling: Scaling, theta0: Array, alphas: Array, l1_ratio: Array,
    factor: Array, tol: Array, max_iter: int,
) -> tuple[Array, Array, PointResult]:  # fmt: skip
    """:func:`solve_path` compiled, with the raw (coef, intercept) of every point."""
    out = solve_path(problem, scaling, theta0, alphas, l1_ratio, factor, tol, max_iter)
    d = factor.shape[0]
    raw = jax.vmap(lambda t: to_raw(unravel(t, d, None), scaling))(out.theta)
    return raw.w, raw.b, out


def check_max_iter(fn: str, max_iter: Any) -> int:
    """The iteration budget per point (None: :data:`MAX_ITER`)."""
    if max_iter is None:
        return MAX_ITER
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"{fn}: max_iter must be an integer >= 1, got {max_iter!r}")
    return max_iter


def start_point(data: PathData) -> np.ndarray:
    """theta at the null model: w = 0 and b = logit of the weighted mean of y (the
    same on any feature scaling, as w = 0; NumPy float64: eager JAX ops cost ~3 ms
    here)."""
    c = np.asarray(data.sample_weight, np.float64)
    ybar = (c @ np.asarray(data.targets, np.float64)) / np.sum(c)
    theta = np.zeros(data.X.shape[1] + 1)
    theta[-1] = np.log(ybar) - np.log1p(-ybar)
    return theta


def mark_free_separation(
    out: dict[str, np.ndarray], data: Any, weights: Any, scaling: Scaling, factor: Any
) -> None:
    """Each run's statuses (``out["status"]`` (K,) or (M, K), ``out["theta"]`` (..., K,
    d + 1) standardised; ``weights`` (n,) or (M, n), the runs' row weights) set to
    separation where the penalty leaves features free (factor 0) and at one of the
    run's points those features and the intercept alone classify every row of
    positive weight right (``margin_range`` of an objective on the free rows, gathered
    once): the loss then falls along them at every alpha with the penalty unchanged,
    so no point of the run has a minimiser. Last point first."""
    free = free_coordinates(1.0, np.asarray(factor))  # every alpha of a grid is > 0
    if free is None:
        return
    idx = np.flatnonzero(free[:-1])
    thetas = out["theta"][..., np.r_[idx, free.size - 1]]
    thetas = thetas.reshape(-1, *thetas.shape[-2:])  # (M, K, f + 1)
    status = out["status"].reshape(thetas.shape[:2])  # a view: written through
    weights = np.asarray(weights, data.targets.dtype).reshape(len(thetas), -1)
    rows = FeatureMajor(data.X.xt[idx])
    part = Scaling(*(np.asarray(a)[idx] for a in scaling))
    for run, w, theta_run in zip(status, weights, thetas, strict=True):
        objective = InMemoryObjective(Problem(rows, data.targets, w, 0.0), part)
        if any(objective.margin_range(t)[0] > 0 for t in theta_run[::-1]):
            run[:] = SEPARATION


@lapack_on_one_thread  # the host loop's small NumPy algebra (host_prox)
def fit_path(
    X: Any,
    y: Any = None,
    *,
    penalty: str = "l1",
    l1_ratio: float = 1.0,
    alphas: Any = None,
    n_alphas: int = 100,
    alpha_min_ratio: float | None = None,
    sample_weight: Any = None,
    class_weight: Any = None,
    penalty_factor: Any = None,
    feature_names: Any = None,
    tol: float | None = None,
    max_iter: int | None = None,
    screening: bool = True,
    dtype: str = "float64",
) -> PathResult:
    """Fit a penalised logistic regression at every alpha of a decreasing grid.

    Args:
      X, y: (n, d) features and labels in {0, 1}, or a TabularData (y omitted).
      penalty: "l1", "l2" or "elasticnet" (objective: module docstring).
      l1_ratio: the elastic net mix in [0, 1] (penalty "elasticnet" only).
      alphas: the grid (sorted decreasing); default: n_alphas log-spaced points from
        :func:`alpha_max` down to alpha_min_ratio times it.
      alpha_min_ratio: default 1e-4, or 1e-2 when d > n.
      sample_weight, class_weight: row weights; class_weight "balanced" or a mapping
        label -> weight (multiplied into sample_weight).
      penalty_factor: (d,) per-feature factors f_j >= 0 (0: unpenalised).
      tol: each point's stopping tolerance on its largest KKT violation (default
        1e-8 float64 (:data:`~jaxlogloss.solvers.base.DEFAULT_PATH_TOL`: objectives
        within ~1e-13 of the optimum), 1e-5 float32).
      max_iter: iterations per point (default 100; 1000 for L-BFGS).
      screening: with an L1 part, start each point's working set from the warm
        start's KKT violators (:mod:`~jaxlogloss.fitting.path_working_set`; module
        docstring). The path is the same either way.
      dtype: "float64" or "float32".
    """
    fn = "fit_path"
    ratio = check_penalty(fn, penalty, l1_ratio)
    with enable_x64(dtype == "float64"):
        data = prepare_data(
            fn, X, y, sample_weight=sample_weight, class_weight=class_weight,
            feature_names=feature_names, dtype=dtype,
        )  # fmt: skip
        n, d = data.X.shape
        factor = check_penalty_factor(fn, penalty_factor, d, data.targets.dtype)
        grid = path_grid(fn, data, ratio, factor, alphas, n_alphas, alpha_min_ratio)
        tol = DEFAULT_PATH_TOL[dtype] if tol is None else float(tol)
        max_iter = check_max_iter(fn, max_iter)
        scaling = data_scaling(data)
        theta0 = start_point(data)
        # every penalty on the host-driven working set (path_working_set): one
        # stopping rule, the raw KKT violation each point reports; the model's
        # algebra in float64 whatever X's dtype
        out = working_set_path(
            data.X.xt, data.targets, data.sample_weight, scaling, theta0, grid,
            ratio, np.asarray(factor, np.float64), tol, max_iter, screening,
        )  # fmt: skip
        mark_free_separation(out, data, data.sample_weight, scaling, factor)
        w, b = raw_coefficients(out["theta"], scaling)
        out = PointResult(
            out["theta"], out["value"], out["n_iter"], out["status"], out["kkt"]
        )
        return PathResult(
            alphas=grid,
            coef=np.asarray(w, np.float64),
            intercept=np.asarray(b, np.float64),
            objective=np.asarray(out.value, np.float64),
            n_iter=np.asarray(out.n_iter),
            status=np.array(STATUSES)[np.asarray(out.status)],
            kkt=np.asarray(out.kkt, np.float64),
            penalty=penalty,
            l1_ratio=ratio,
            feature_names=data.feature_names,
        )
