"""K-fold cross-validation of a penalised path: every fold advanced in lockstep.

:func:`cv` splits the rows into ``folds`` stratified folds (each class shuffled with
``seed`` and dealt round-robin, so every fold keeps the class proportions to one row).
Fold k is not a copy of X: its training run is the path of its rows (sample weights
c * [fold != k], a 0/1 mask) and its held-out rows are scored with the weights
c * [fold == k]. For each l1_ratio the runs -- all rows first (the path on all data,
``CVResult.path``, as glmnet's ``cv.glmnet`` returns it), then each fold -- go down
the alpha grid together (:mod:`jaxlogloss.fitting.cv_lockstep`): one compiled program
computes every run's gradient a step, and each run's proximal Newton step is taken on
the host, so the M runs cost about two passes over X a step instead of M. Each point
meets the path's KKT rule (largest raw violation <= tol).

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.fitting.cv_lockstep import (
    held_out_rows,
    lockstep_start,
    solve_lockstep,
)
from jaxlogloss.fitting.cv_scores import (
    SCORINGS,
    held_out_score,
    one_se_rule,
    weighted_auc,
)
from jaxlogloss.fitting.host_prox import lapack_on_one_thread
from jaxlogloss.fitting.path import (
    PathResult,
    check_max_iter,
    data_scaling,
    mark_free_separation,
)
from jaxlogloss.fitting.path_data import (
    check_penalty,
    check_penalty_factor,
    path_grid,
    prepare_data,
    raw_coefficients,
)
from jaxlogloss.model.scaling import Scaling
from jaxlogloss.precision import enable_x64
from jaxlogloss.solvers.base import DEFAULT_PATH_TOL, STATUSES

Array = jax.Array

# the scores and the one-SE rule live in cv_scores; kept importable from here
__all__ = [
    "SCORINGS", "CVResult", "check_folds", "cv", "held_out_score", "lockstep_cv",
    "one_se_rule", "refit_at", "stratified_folds", "weighted_auc",
]  # fmt: skip


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


@lapack_on_one_thread  # the host loop's small NumPy algebra (host_prox)
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
        penalty_factor, tol, max_iter, dtype: as in :func:`jaxlogloss.fit_path`.
      screening: accepted as in :func:`jaxlogloss.fit_path`; the lockstep runs do not
        screen (their active-set model solve only activates violating features).
      l1_ratio: one number in [0, 1] or a list (penalty "elasticnet"); each gets its
        own grid, run in turn, and the best mean score picks one.
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
        tol = DEFAULT_PATH_TOL[dtype] if tol is None else float(tol)
        scaling = data_scaling(data)
        runs = lockstep_cv(
            data, scaling, grids, ratios, factor, masks, fold_of, tol,
            check_max_iter(fn, max_iter), scoring,
        )  # fmt: skip
        scores, n_iter, status, value, kkt, w, b = (
            np.stack(parts) for parts in zip(*runs, strict=True)
        )
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
            X if y is None else data.X,  # an array: its prepared copy, not a second
            y, penalty=penalty, alpha=alpha_min, l1_ratio=ratios[r],
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


def lockstep_cv(
    data: Any, scaling: Scaling, grids: np.ndarray, ratios: Sequence[float],
    factor: Array, masks: np.ndarray, fold_of: np.ndarray, tol: float, max_iter: int,
    scoring: str,
) -> list[tuple[np.ndarray, ...]]:  # fmt: skip
    """Each l1_ratio's runs by :func:`~jaxlogloss.fitting.cv_lockstep.solve_lockstep`
    from one shared start: held-out scores (M, K) (run 0's NaN), iterations,
    statuses, objective values, KKT violations (M, K), raw coef (M, K, d) and
    intercepts (M, K)."""
    c = np.asarray(data.sample_weight, np.float64) * masks
    y = np.asarray(data.targets, np.float64)
    ybar = (c @ y) / c.sum(axis=1)
    d = data.X.shape[1]
    theta0 = np.zeros((masks.shape[0], d + 1))
    theta0[:, d] = np.log(ybar) - np.log1p(-ybar)
    weights = jnp.asarray(c / c.sum(axis=1, keepdims=True), data.targets.dtype)
    folds = masks.shape[0] - 1
    rows, h, fold_c = held_out_rows(
        fold_of, folds, np.asarray(data.score_weight), np.asarray(data.sample_weight)
    )
    xt, targets = data.X.xt, data.targets
    start = lockstep_start(xt, targets, weights, scaling, theta0, rows, fold_c)
    runs = []
    for grid, ratio in zip(grids, ratios, strict=True):
        out = solve_lockstep(
            xt, targets, weights, scaling, start, grid, float(ratio),
            np.asarray(factor, np.float64), tol, max_iter, rows, h, scoring,
        )  # fmt: skip
        mark_free_separation(out, data, c, scaling, factor)  # each run on its rows
        w, b = raw_coefficients(out["theta"], scaling)
        scores = np.concatenate([np.full((1, len(grid)), np.nan), out["scores"]])
        runs.append(
            (scores, out["n_iter"], out["status"], out["value"], out["kkt"], w, b)
        )
    return runs


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
