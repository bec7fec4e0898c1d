"""K-fold cross-validation of a penalised path: every fold and l1_ratio in one program.

:func:`cv` splits the rows into ``folds`` stratified folds (each class shuffled with
``seed`` and dealt round-robin, so every fold keeps the class proportions to one row).
Fold k is not a copy of X: its training run is the path of
:mod:`jaxlogloss.fitting.path` with sample weights c * [fold != k] (a 0/1 mask), and
its held-out rows are scored with the weights c * [fold == k]. One compiled program
scans the alphas once per l1_ratio: at each alpha it solves the run on every row (the
path on all data, ``CVResult.path``, as glmnet's ``cv.glmnet`` returns it) and then
each fold, warm started from its own previous point, its quadratic model starting from
the all-rows run's Hessian at this alpha (a fold's Hessian differs from it by sampling
noise). The runs go one after another (``lax.map``), not under ``vmap``: a batch of
runs waits for its slowest one, and a batched pass over X measured ~10x one run's.

Scores (:data:`SCORINGS`; held-out rows weighted by the sample weights, not by class
weights): ``log_loss`` and ``brier`` (lower is better), ``roc_auc`` (ties count 1/2)
and ``accuracy`` (higher is better). For each alpha the mean over folds and its standard
error sd / sqrt(folds) give (:func:`one_se_rule`) ``alpha_min``, the best mean, and
``alpha_1se``, glmnet's rule: the largest alpha whose mean is within one standard error
of the best. The grid is the path's default on all rows (one per l1_ratio), shared by
the folds, and the model at ``alpha_min`` is refitted on all rows with
:func:`jaxlogloss.fit`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.fitting.cv_scores import (
    SCORINGS,
    held_out_score,
    one_se_rule,
)
from jaxlogloss.fitting.cv_smooth import held_out_rows, solve_smooth_cv
from jaxlogloss.fitting.path import (
    PathResult,
    check_max_iter,
    path_point,
    path_start,
    scaling_of,
)
from jaxlogloss.fitting.path_data import (
    check_penalty,
    check_penalty_factor,
    path_grid,
    prepare_data,
)
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import unravel
from jaxlogloss.model.scaling import Scaling, to_raw
from jaxlogloss.precision import enable_x64
from jaxlogloss.solvers.base import DEFAULT_TOL, STATUSES

Array = jax.Array


@dataclass(frozen=True)
class CVResult:
    """Cross-validation of a path (K alphas, decreasing).

    Attributes:
      alphas: (K,) the grid of the chosen l1_ratio; mean_score, se_score: (K,).
      alpha_min: the alpha of the best mean score; alpha_1se: the largest alpha whose
        mean is within one standard error of the best.
      l1_ratio: the chosen l1_ratio (the best of a list); l1_ratios: every one tried.
      fold_scores: (R, F, K) every l1_ratio's, fold's and alpha's held-out score.
      alphas_all: (R, K) each l1_ratio's grid.
      coef, intercept: the refit on all rows at alpha_min (raw features); fit: that
        FitResult. n_iter, status: (R, F, K) of the fold paths.
      path: the chosen l1_ratio's path on all rows (a
        :class:`~jaxlogloss.fitting.path.PathResult`), computed in the same program as
        the folds.
    """

    alphas: np.ndarray
    mean_score: np.ndarray
    se_score: np.ndarray
    alpha_min: float
    alpha_1se: float
    l1_ratio: float
    scoring: str
    penalty: str
    coef: np.ndarray
    intercept: float
    feature_names: tuple[str, ...]
    l1_ratios: tuple[float, ...]
    fold_scores: np.ndarray
    alphas_all: np.ndarray
    n_iter: np.ndarray
    status: np.ndarray
    path: PathResult | None = None
    fit: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``jaxlogloss cv --json``."""
        return {
            "alphas": self.alphas.tolist(),
            "mean_score": self.mean_score.tolist(),
            "se_score": self.se_score.tolist(),
            "alpha_min": self.alpha_min,
            "alpha_1se": self.alpha_1se,
            "scoring": self.scoring,
            "coef": dict(zip(self.feature_names, map(float, self.coef), strict=True)),
            "intercept": self.intercept,
            "l1_ratio": self.l1_ratio,
            "penalty": self.penalty,
        }


def stratified_folds(y: Any, folds: int, seed: int = 0) -> np.ndarray:
    """(n,) fold index of each row: each class's rows shuffled (seeded) and dealt
    round-robin, starting where the previous class stopped (fold sizes differ by at
    most one, and each class's count per fold by at most one)."""
    labels = np.asarray(y)
    rng = np.random.default_rng(seed)
    out = np.empty(labels.shape[0], np.int32)
    offset = 0
    for value in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == value))
        out[rows] = (offset + np.arange(rows.size)) % folds
        offset = (offset + rows.size) % folds
    return out


def check_folds(fn: str, folds: Any, y: Any) -> int:
    """folds: an integer >= 2 and <= the rows of the rarest class."""
    counts = np.unique(np.asarray(y), return_counts=True)[1]
    rarest = int(counts.min()) if counts.size else 0
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ValueError(f"{fn}: folds must be an integer >= 2, got {folds!r}")
    if folds > rarest:
        raise ValueError(
            f"{fn}: folds must be <= {rarest}, the rows of the rarest class, got {folds}"
        )
    return int(folds)


@functools.partial(jax.jit, static_argnames=("max_iter", "scoring", "screening"))
def compiled_cv(
    problem: Problem, scaling: Scaling, score_weight: Array, grids: Array,
    ratios: Array, factor: Array, train_masks: Array, tol: Array, max_iter: int,
    scoring: str, screening: bool = False,
) -> tuple[Any, ...]:  # fmt: skip
    """Every run's path: for each l1_ratio (R) one scan over the alphas that solves
    the all-rows run (mask 0, all ones) and then each fold (masks 1..M-1) with the
    all-rows run's Hessian as its model's. The runs go one after another
    (``lax.map``): under ``vmap`` a batch of runs waits for its slowest one, and a
    batched pass over X measured ~10x one run's (benchmarks/NOTES.md, issue 12
    speed). Returns held-out scores, iterations, statuses, objective values, KKT
    violations (R, M, K) and the raw coef (R, M, K, d) and intercepts (R, M, K)."""
    d = factor.shape[0]
    weights = problem.sample_weight * train_masks  # (M, n)

    def theta0(c: Array) -> Array:
        ybar = jnp.sum(c * problem.targets) / jnp.sum(c)
        return jnp.zeros((d + 1,), c.dtype).at[d].set(jnp.log(ybar / (1 - ybar)))

    def one(ratio_grid: tuple[Array, Array]) -> tuple[Any, ...]:
        ratio, grid = ratio_grid
        full = problem._replace(sample_weight=weights[0])
        start = path_start(full, scaling, theta0(weights[0]), grid[0])
        folds = jax.lax.map(
            lambda c: path_start(problem._replace(sample_weight=c), scaling,
                                 theta0(c), grid[0], start.hessian),
            weights[1:],
        )  # fmt: skip
        args = (ratio, factor, tol, max_iter, screening)

        def body(carries: Any, alpha: Array) -> Any:
            top, rest = carries
            top, out = path_point(full, scaling, top, alpha, *args)

            def fold(run: tuple[Array, Any]) -> Any:
                own = problem._replace(sample_weight=run[0])
                return path_point(own, scaling, run[1], alpha, *args,
                                  hessian=top.hessian)  # fmt: skip

            rest, outs = jax.lax.map(fold, (weights[1:], rest))
            both = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), out, outs)
            return (top, rest), both

        out = jax.lax.scan(body, (start, folds), grid)[1]  # fields (K, M, ...)
        out = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), out)  # (M, K, ...)

        def scores(run: tuple[Array, Array]) -> Array:
            h = score_weight * (1 - run[1])

            def score(t: Array) -> Array:
                raw = to_raw(unravel(t, d, None), scaling)
                return held_out_score(problem.X, problem.targets, h, raw.w, raw.b,
                                      scoring)  # fmt: skip

            return jax.lax.map(score, run[0])

        held = jax.lax.map(scores, (out.theta, train_masks))
        raw = jax.vmap(jax.vmap(lambda t: to_raw(unravel(t, d, None), scaling)))(
            out.theta
        )
        return held, out.n_iter, out.status, out.value, out.kkt, raw.w, raw.b

    return jax.lax.map(one, (ratios, grids))


def cv(
    X: Any, y: Any = None, *, penalty: str = "l1",
    l1_ratio: float | Sequence[float] = 1.0, alphas: Any = None, n_alphas: int = 100,
    alpha_min_ratio: float | None = None, folds: int = 5, scoring: str = "log_loss",
    seed: int = 0, sample_weight: Any = None, class_weight: Any = None,
    penalty_factor: Any = None, feature_names: Any = None, refit: bool = True,
    tol: float | None = None, max_iter: int | None = None,
    screening: bool = True, dtype: str = "float64",
) -> CVResult:  # fmt: skip
    """Cross-validate a penalised logistic regression over an alpha grid.

    Args:
      X, y, penalty, alphas, n_alphas, alpha_min_ratio, sample_weight, class_weight,
        penalty_factor, tol, max_iter, screening, dtype: as in
        :func:`jaxlogloss.fit_path`.
      l1_ratio: one number in [0, 1] or a list (penalty "elasticnet"); each gets its
        own grid, all run in one program, and the best mean score picks one.
      folds: the number of stratified folds (2 .. rows of the rarest class).
      scoring: "log_loss", "brier" (lower is better), "roc_auc", "accuracy".
      seed: seeds the fold assignment (:func:`stratified_folds`).
      refit: refit on all rows at alpha_min with :func:`jaxlogloss.fit`.
    """
    fn = "cv"
    ratios_in = list(l1_ratio) if isinstance(l1_ratio, list | tuple) else [l1_ratio]
    if not ratios_in:
        raise ValueError(f"{fn}: l1_ratio must not be an empty list")
    ratios = [check_penalty(fn, penalty, r) for r in ratios_in]
    if penalty != "elasticnet":
        ratios = ratios[:1]
    if scoring not in SCORINGS:
        known = ", ".join(repr(s) for s in SCORINGS)
        raise ValueError(f"{fn}: scoring must be one of {known}, got {scoring!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"{fn}: seed must be an integer, got {seed!r}")
    with enable_x64(dtype == "float64"):
        data = prepare_data(
            fn, X, y, sample_weight=sample_weight, class_weight=class_weight,
            feature_names=feature_names, dtype=dtype,
        )  # fmt: skip
        labels = np.asarray(data.targets)
        folds = check_folds(fn, folds, labels)
        d = data.X.shape[1]
        dt = data.targets.dtype
        factor = check_penalty_factor(fn, penalty_factor, d, dt)
        grids = np.stack(
            [
                path_grid(fn, data, r, factor, alphas, n_alphas, alpha_min_ratio)
                for r in ratios
            ]
        )
        fold_of = stratified_folds(labels, folds, seed)
        # run 0 trains on every row (the path on all rows, as glmnet's cv fits it);
        # run k >= 1 leaves fold k - 1 out
        masks = (fold_of[None, :] != np.arange(-1, folds)[:, None]).astype(dt)
        tol = DEFAULT_TOL[dtype] if tol is None else float(tol)
        scaling = scaling_of(data.X, data.sample_weight)
        if all(r == 0 for r in ratios):  # pure L2: every run in lockstep
            scores, n_iter, status, value, kkt, w, b = smooth_cv(
                data, scaling, grids[0], factor, masks, fold_of, tol,
                check_max_iter(fn, max_iter), scoring,
            )  # fmt: skip
        else:
            problem = Problem(data.X, data.targets, data.sample_weight, 0.0)
            scores, n_iter, status, value, kkt, w, b = compiled_cv(
                problem, scaling, data.score_weight, jnp.asarray(grids, dt),
                jnp.asarray(ratios, dt), factor, jnp.asarray(masks),
                jnp.asarray(tol, dt), check_max_iter(fn, max_iter), scoring, screening,
            )  # fmt: skip
    scores = np.asarray(scores, np.float64)[:, 1:]
    mean = scores.mean(axis=1)
    se = scores.std(axis=1, ddof=1) / np.sqrt(folds)
    higher = SCORINGS[scoring]
    best_per = [
        one_se_rule(grids[r], mean[r], se[r], higher)[0] for r in range(len(ratios))
    ]
    picks = np.array([mean[r, i] for r, i in enumerate(best_per)])
    r = int(np.argmax(picks) if higher else np.argmin(picks))
    i_min, i_1se = one_se_rule(grids[r], mean[r], se[r], higher)
    alpha_min = float(grids[r, i_min])
    path = PathResult(
        alphas=grids[r], coef=np.asarray(w[r, 0], np.float64),
        intercept=np.asarray(b[r, 0], np.float64),
        objective=np.asarray(value[r, 0], np.float64), n_iter=np.asarray(n_iter[r, 0]),
        status=np.array(STATUSES)[np.asarray(status[r, 0])],
        kkt=np.asarray(kkt[r, 0], np.float64), penalty=penalty, l1_ratio=ratios[r],
        feature_names=data.feature_names,
    )  # fmt: skip
    result = None
    coef, intercept = np.full(d, np.nan), float("nan")
    if refit:
        result = refit_at(
            X, y, penalty=penalty, alpha=alpha_min, l1_ratio=ratios[r],
            sample_weight=sample_weight, class_weight=class_weight,
            penalty_factor=penalty_factor, feature_names=feature_names, dtype=dtype,
            init=(path.coef[i_min], path.intercept[i_min]),  # the all-rows run's point
        )  # fmt: skip
        coef, intercept = np.asarray(result.coef, np.float64), float(result.intercept)
    return CVResult(
        alphas=grids[r], mean_score=mean[r], se_score=se[r], alpha_min=alpha_min,
        alpha_1se=float(grids[r, i_1se]), l1_ratio=ratios[r], scoring=scoring,
        penalty=penalty, coef=coef, intercept=intercept,
        feature_names=data.feature_names, l1_ratios=tuple(ratios), fold_scores=scores,
        alphas_all=grids, n_iter=np.asarray(n_iter)[:, 1:],
        status=np.array(STATUSES)[np.asarray(status)[:, 1:]], path=path, fit=result,
    )  # fmt: skip


def smooth_cv(
    data: Any, scaling: Scaling, grid: np.ndarray, factor: Array, masks: np.ndarray,
    fold_of: np.ndarray, tol: float, max_iter: int, scoring: str,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """The pure L2 runs by :func:`~jaxlogloss.fitting.cv_smooth.solve_smooth_cv`, in
    :func:`compiled_cv`'s layout (one l1_ratio; run 0's held-out score NaN)."""
    c = np.asarray(data.sample_weight, np.float64) * masks
    y = np.asarray(data.targets, np.float64)
    ybar = (c @ y) / c.sum(axis=1)
    d = data.X.shape[1]
    theta0 = np.zeros((masks.shape[0], d + 1))
    theta0[:, d] = np.log(ybar) - np.log1p(-ybar)
    dt = data.targets.dtype
    weights = jnp.asarray(c / c.sum(axis=1, keepdims=True), dt)
    rows, h = held_out_rows(fold_of, masks.shape[0] - 1, np.asarray(data.score_weight))
    out = solve_smooth_cv(
        data.X.xt, data.targets, weights, scaling, theta0, grid,
        np.asarray(factor, np.float64), tol, max_iter, rows, h, scoring,
    )  # fmt: skip
    mean, scale = (np.asarray(a, np.float64) for a in scaling)
    w = out["theta"][..., :d] / scale
    b = out["theta"][..., d] - w @ mean
    scores = np.concatenate([np.full((1, len(grid)), np.nan), out["scores"]])
    return tuple(  # fmt: skip
        a[None]
        for a in (scores, out["n_iter"], out["status"], out["value"], out["kkt"], w, b)
    )


def refit_at(
    X: Any, y: Any, *, penalty: str, alpha: float, l1_ratio: float, **options: Any
) -> Any:
    """:func:`jaxlogloss.fit` on all rows at ``alpha`` (l1_ratio for "elasticnet"),
    warm started from ``options["init"]`` (the all-rows path's point there: the same
    optimum, so the solver only confirms it and the fit adds its inference)."""
    from jaxlogloss.fitting.fit import fit

    if penalty == "elasticnet":
        options["l1_ratio"] = l1_ratio
    return fit(X, y, penalty=penalty, alpha=alpha, **options)
