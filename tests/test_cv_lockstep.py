"""cv's runs in lockstep (jaxlogloss.fitting.cv_lockstep): L2 and elastic net."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SEED

import jaxlogloss as jl
from jaxlogloss.fitting import cv_lockstep, host_prox
from jaxlogloss.fitting.cv import stratified_folds
from jaxlogloss.fitting.host_scaling import scaling_of
from jaxlogloss.fitting.path_data import prepare_data
from jaxlogloss.model.scaling import Scaling
from jaxlogloss.precision import enable_x64

N, D, K, F = 240, 5, 5, 3
GRID = 0.05 * np.logspace(0, -3, K)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng([SEED, 31])
    X = rng.normal(size=(N, D)) * [1, 2, 0.5, 1, 3] + [0, 1, -2, 0, 5]
    w = np.array([1.2, -0.5, 0, 0, 0.3])
    y = rng.random(N) < 1 / (1 + np.exp(-(X @ w - 1.5)))
    c = rng.integers(1, 4, N).astype(np.float64)
    return X, y.astype(np.float64), c


@pytest.fixture(scope="module")
def result(data):
    X, y, c = data
    with enable_x64():
        return jl.cv(X, y, penalty="l2", alphas=GRID, folds=F, seed=2, tol=1e-10,
                     sample_weight=c, class_weight="balanced")  # fmt: skip


def numpy_objective(X, y, c, w, b, alpha, ratio=0.0):
    """The elastic-net penalised weighted mean log-loss, by hand in float64."""
    z = X @ w + b
    loss = np.logaddexp(0, z) - y * z
    penalty = ratio * np.abs(w).sum() + 0.5 * (1 - ratio) * np.sum(w * w)
    return np.sum(c * loss) / np.sum(c) + alpha * penalty


def sklearn_score(scoring, y, p, c):
    """scikit-learn's metric of probabilities p on labels y, weights c."""
    from sklearn import metrics

    if scoring == "accuracy":
        return metrics.accuracy_score(y, p > 0.5, sample_weight=c)
    name = {
        "log_loss": "log_loss",
        "brier": "brier_score_loss",
        "roc_auc": "roc_auc_score",
    }
    return getattr(metrics, name[scoring])(y, p, sample_weight=c)


def test_l2_cv_scores_equal_sklearn_fold_by_fold(data, result):
    """Each fold's held-out log-loss equals scikit-learn's L2 fit on its training rows
    (C = 1 / (alpha sum c)), scored by scikit-learn; the all-rows path's objective
    equals NumPy's by hand; every point meets the KKT rule."""
    from sklearn.linear_model import LogisticRegression

    X, y, c = data
    fold_of = stratified_folds(y, F, 2)
    balanced = np.where(y == 1, N / (2 * y.sum()), N / (2 * (N - y.sum())))
    cw = c * balanced
    assert result.fold_scores.shape == (1, F, K)
    for k in range(F):
        train, held = fold_of != k, fold_of == k
        for i, a in enumerate(GRID):
            model = LogisticRegression(C=1 / (a * cw[train].sum()), tol=1e-12,
                                       max_iter=10000)  # fmt: skip
            model.fit(X[train], y[train], sample_weight=cw[train])
            p = model.predict_proba(X[held])[:, 1]
            want = sklearn_score("log_loss", y[held], p, c[held])
            np.testing.assert_allclose(result.fold_scores[0, k, i], want, rtol=1e-6)
    for i, a in enumerate(GRID):  # the objective by hand at each all-rows point
        w, b = result.path.coef[i], result.path.intercept[i]
        got = numpy_objective(X, y, cw, w, b, a)
        np.testing.assert_allclose(result.path.objective[i], got, rtol=1e-12)
        model = LogisticRegression(C=1 / (a * cw.sum()), tol=1e-12, max_iter=10000)
        model.fit(X, y, sample_weight=cw)
        ref = numpy_objective(X, y, cw, model.coef_[0], model.intercept_[0], a)
        assert got <= ref + 1e-12  # no worse than scikit-learn's optimum
    assert (result.path.kkt <= 1e-10).all() and (result.status == "converged").all()
    assert set(result.path.status) == {"converged"}
    assert result.alpha_min in GRID and result.alpha_1se >= result.alpha_min


RATIOS = (0.0, 0.5)


@pytest.fixture(scope="module")
def general(data):
    """The prepared data, the folds, and each run's point at each alpha fitted on its
    own rows alone by jl.fit (value, coef, intercept (R, M, K ...)) at l1_ratio 0
    (Newton) and 0.5 (proximal Newton)."""
    X, y, c = data
    fold_of = stratified_folds(y, F, 0)
    masks = (fold_of[None, :] != np.arange(-1, F)[:, None]).astype(np.float64)
    ref = {"value": [], "coef": [], "intercept": []}
    with enable_x64():
        prepared = prepare_data("cv", X, y, sample_weight=c)
        scaling = scaling_of(prepared.X, prepared.sample_weight)
        for ratio in RATIOS:
            fits = [
                [jl.fit(X[rows], y[rows], penalty="elasticnet", alpha=a,
                        l1_ratio=ratio, sample_weight=c[rows]) for a in GRID]
                for rows in masks.astype(bool)
            ]  # fmt: skip
            ref["value"].append([[f.objective for f in run] for run in fits])
            ref["coef"].append([[f.coef for f in run] for run in fits])
            ref["intercept"].append([[f.intercept for f in run] for run in fits])
    ref = {key: np.asarray(v) for key, v in ref.items()}
    ref["data"] = data
    return prepared, fold_of, masks, scaling, ref


def check_objectives(data, general, ratio, w, b):
    """Every run's objective at our (w, b), by hand in NumPy, equals that at its own
    fit's point to 1e-11 relative."""
    X, y, c = data
    masks, ref = general[2], general[-1]
    r = RATIOS.index(ratio)
    for m, rows in enumerate(masks.astype(bool)):
        for i, a in enumerate(GRID):
            args = (X[rows], y[rows], c[rows])
            ours = numpy_objective(*args, w[m, i], b[m, i], a, ratio)
            theirs = numpy_objective(
                *args, ref["coef"][r][m, i], ref["intercept"][r][m, i], a, ratio
            )
            np.testing.assert_allclose(ours, theirs, rtol=1e-11)


def lockstep(general, ratio, scoring="log_loss"):
    prepared, fold_of, masks, scaling, _ = general
    with enable_x64():
        return jl.fitting.cv.lockstep_cv(
            prepared, scaling, [GRID], [ratio], jnp.ones(D), masks, fold_of, 1e-10,
            100, scoring,
        )[0]  # fmt: skip


@pytest.mark.parametrize(
    "ratio, scoring",
    [(0.0, "log_loss"), (0.0, "brier"), (0.0, "roc_auc"), (0.0, "accuracy"),
     (0.5, "roc_auc")],
)  # fmt: skip
def test_lockstep_runs_equal_each_runs_own_path(data, general, ratio, scoring):
    """Every lockstep run (all rows, each fold left out) reaches the objective and
    coefficients of jl.fit on that run's rows alone at each alpha, exact zeros
    included; the held-out scores equal scikit-learn's metrics of those models."""
    X, y, c = data
    _, fold_of, _, _, ref = general
    r = RATIOS.index(ratio)
    scores, _, status, value, kkt, w, b = lockstep(general, ratio, scoring)
    np.testing.assert_allclose(value[0], ref["value"][r][0], rtol=1e-11)
    assert np.isnan(value[1:]).all()  # the folds' objective is not reported
    check_objectives(data, general, ratio, w, b)
    np.testing.assert_allclose(w, ref["coef"][r], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b, ref["intercept"][r], rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(w == 0, ref["coef"][r] == 0)
    assert (kkt <= 1e-10).all() and (status == 1).all()  # 1: converged
    for k in range(F):
        held = fold_of == k
        for i in range(K):
            z = X[held] @ ref["coef"][r][k + 1, i] + ref["intercept"][r][k + 1, i]
            want = sklearn_score(scoring, y[held], 1 / (1 + np.exp(-z)), c[held])
            np.testing.assert_allclose(scores[k + 1, i], want, rtol=1e-7)


def test_batched_gradient_and_values_equal_numpy_by_hand(rng):
    """Values and gradients of M runs on standardised parameters, against float64
    NumPy (z = X~ theta_w + theta_b with X~ = (X - mean) / scale)."""
    n, d, m = 50, 4, 3
    X = rng.normal(size=(n, d)) * 2 + 1
    y = (rng.random(n) < 0.4).astype(np.float64)
    weights = rng.random((m, n)) * (rng.random((m, n)) < 0.8)
    weights /= weights.sum(axis=1, keepdims=True)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    theta = rng.normal(size=(m, d + 1))
    theta[0, :d] = 30.0  # extreme logits in run 0
    with enable_x64():
        grad, z = cv_lockstep.batched_gradient(
            jnp.asarray(X.T), jnp.asarray(y), jnp.asarray(weights),
            Scaling(jnp.asarray(mean), jnp.asarray(scale)), jnp.asarray(theta),
        )  # fmt: skip
        value = cv_lockstep.batched_values(z, jnp.asarray(y), jnp.asarray(weights))
    Xs = np.c_[(X - mean) / scale, np.ones(n)]
    zr = theta @ Xs.T
    p = 1 / (1 + np.exp(-zr))
    np.testing.assert_allclose(z, zr, rtol=1e-12, atol=1e-12)
    want = np.sum(weights * (np.logaddexp(0, zr) - y * zr), axis=1)
    np.testing.assert_allclose(value, want, rtol=1e-12)
    np.testing.assert_allclose(grad, (weights * (p - y)) @ Xs, rtol=1e-10, atol=1e-14)


def test_bfgs_update_meets_the_secant_equation_and_models_fall_back(rng):
    p = 4
    a = rng.normal(size=(p, p))
    b = a @ a.T + p * np.eye(p)
    s, y = rng.normal(size=p), rng.normal(size=p)
    y = y if s @ y > 0 else -y
    new = host_prox.bfgs_update(b, s, y)
    np.testing.assert_allclose(new @ s, y, rtol=1e-10)
    assert host_prox.bfgs_update(b, s, -y) is None  # no curvature: no update
    batch, ok = host_prox.bfgs_updates(
        np.stack([b, b]), np.stack([s, s]), np.stack([y, -y])
    )
    np.testing.assert_array_equal(ok, [True, False])
    np.testing.assert_allclose(batch[0], new, rtol=1e-14)
    np.testing.assert_array_equal(batch[1], b)
    exact = np.stack([np.eye(p), np.eye(p) * 0.5])
    models = cv_lockstep._Models(exact)  # base: run 0's, the identity
    models.penalty(np.full(p, 0.01))
    g = rng.normal(size=(2, p))
    np.testing.assert_allclose(models.directions(g), -g / np.array([[1.01], [0.51]]))
    models.base = np.diag([0.2, 1, 1, 1])
    models.hess[1] = models.base - 0.5 * np.eye(p)  # a stale update: indefinite
    models.penalty(models.mu)  # run 1 restarts from the base
    np.testing.assert_array_equal(models.hess[1], models.base)
    np.testing.assert_allclose(models.matrix[1], np.diag([0.21, 1.01, 1.01, 1.01]))
    np.testing.assert_allclose(
        models.directions(g)[1], -g[1] / [0.21, 1.01, 1.01, 1.01]
    )
    before = models.matrix.copy()
    steps, changes = np.stack([s, s]), np.stack([y, -y])  # run 1: no curvature
    models.secants(np.array([0, 1]), steps, changes)
    np.testing.assert_allclose(models.matrix[0] @ s, y, rtol=1e-10)
    np.testing.assert_array_equal(models.matrix[1], before[1])
    updated = models.matrix[0] - np.diag(models.mu)
    models.penalty(np.full(p, 0.02))  # a new alpha keeps the updated model
    np.testing.assert_allclose(models.matrix[0], updated + 0.02 * np.eye(p))


def test_l2_cv_budget_and_float32(data):
    """max_iter bounds every point (status max_iter); float32 finds the same alpha."""
    X, y, c = data
    with enable_x64():
        short = jl.cv(X, y, penalty="l2", alphas=GRID, folds=F, max_iter=1,
                      refit=False)  # fmt: skip
        full = jl.cv(X, y, penalty="l2", alphas=GRID, folds=F, refit=False)
    assert (short.n_iter <= 1).all() and "max_iter" in set(short.status.ravel())
    single = jl.cv(X, y, penalty="l2", alphas=GRID, folds=F, dtype="float32")
    np.testing.assert_allclose(single.mean_score, full.mean_score, rtol=1e-4)
    assert single.alpha_min == pytest.approx(full.alpha_min)
    assert np.isfinite(single.coef).all()


@pytest.mark.parametrize("ratio", RATIOS)
def test_armijo_fallback_gives_the_same_runs(general, monkeypatch, ratio):
    """With the gradient-merit test made impossible every step goes through the
    Armijo backtracking on F: the same optimum, every run converged."""
    ref = general[-1]
    r = RATIOS.index(ratio)
    monkeypatch.setattr(cv_lockstep, "MERIT", 2.0)  # kkt_new <= -kkt_old: never
    _, _, status, value, kkt, w, b = lockstep(general, ratio)
    np.testing.assert_allclose(value[0], ref["value"][r][0], rtol=1e-11)
    check_objectives(general[-1]["data"], general, ratio, w, b)
    np.testing.assert_allclose(w, ref["coef"][r], rtol=1e-6, atol=1e-8)
    assert (kkt <= 1e-10).all() and (status == 1).all()


def test_penalty_factors_reach_each_runs_own_fit(data):
    """Per-feature factors (one unpenalised feature) with an elastic net: the all-rows
    path and every fold's held-out log-loss equal jl.fit with the same factors on
    that run's rows (scored by scikit-learn)."""
    X, y, c = data
    factor = [0.0, 1.0, 2.0, 1.0, 0.5]
    grid = GRID[:3]
    with enable_x64():
        res = jl.cv(X, y, penalty="elasticnet", l1_ratio=0.7, alphas=grid, folds=F,
                    seed=4, sample_weight=c, penalty_factor=factor, refit=False,
                    tol=1e-10)  # fmt: skip
        fold_of = stratified_folds(y, F, 4)
        for i, a in enumerate(grid):
            full = jl.fit(X, y, penalty="elasticnet", alpha=a, l1_ratio=0.7,
                          sample_weight=c, penalty_factor=factor)  # fmt: skip
            np.testing.assert_allclose(
                res.path.coef[i], full.coef, rtol=1e-6, atol=1e-8
            )
            np.testing.assert_array_equal(res.path.coef[i] == 0, full.coef == 0)
            assert res.path.coef[i][0] != 0  # the unpenalised feature
            for k in range(F):
                train, held = fold_of != k, fold_of == k
                own = jl.fit(X[train], y[train], penalty="elasticnet", alpha=a,
                             l1_ratio=0.7, sample_weight=c[train],
                             penalty_factor=factor)  # fmt: skip
                p = 1 / (1 + np.exp(-(X[held] @ own.coef + own.intercept)))
                want = sklearn_score("log_loss", y[held], p, c[held])
                np.testing.assert_allclose(res.fold_scores[0, k, i], want, rtol=1e-7)
    assert (res.path.kkt <= 1e-10).all() and (res.status == "converged").all()


def _fold_setup(X, y, c, d):
    fold_of = stratified_folds(y, F, 1)
    masks = (fold_of[None, :] != np.arange(-1, F)[:, None]).astype(np.float64)
    cm = c * masks
    weights = cm / cm.sum(axis=1, keepdims=True)
    rows, fold_c = cv_lockstep.held_out_rows(fold_of, F, c)
    prepared = prepare_data("cv", X, y, sample_weight=c)
    scaling = scaling_of(prepared.X, prepared.sample_weight)
    layout = cv_lockstep.fold_layout(prepared.X.xt, rows, fold_c, scaling)
    mean, scale = (np.asarray(a) for a in scaling)
    Xs = np.c_[(X - mean) / scale, np.ones(X.shape[0])]
    return weights, scaling, layout, Xs


@pytest.mark.parametrize("d", [D, 20])  # flat and blocked (path_objective.blocked)
def test_start_hessians_from_fold_grams_equal_each_runs_own(data, rng, d):
    """At a start with zero slopes every run's exact Hessian, summed from the folds'
    Grams, equals a float64 NumPy Hessian of the run's weighted rows, weights and
    unequal fold sizes included."""
    X, y, c = data
    X = X if d == D else rng.normal(size=(N, d))
    with enable_x64():
        weights, scaling, layout, Xs = _fold_setup(X, y, c, d)
        ybar = weights @ y
        theta0 = np.zeros((F + 1, d + 1))
        theta0[:, d] = np.log(ybar / (1 - ybar))
        got = cv_lockstep.start_hessians(layout, scaling, theta0)
        with pytest.raises(ValueError, match="zero slopes"):
            cv_lockstep.start_hessians(layout, scaling, theta0 + 0.1)
    for m in range(F + 1):
        p = ybar[m]
        want = (Xs * (weights[m] * p * (1 - p))[:, None]).T @ Xs
        np.testing.assert_allclose(got[m], want, rtol=2e-6, atol=1e-7)  # float32 sums
        np.testing.assert_array_equal(got[m], got[m].T)


@pytest.mark.parametrize("d", [D, 20])
def test_shared_hessians_are_each_runs_hessian_at_the_all_rows_logits(data, rng, d):
    """shared_hessians at any logits z0 (an extreme one included): run m's Hessian of
    its own weighted rows with every row's p taken at z0, against float64 NumPy;
    jit-compiled and eager programs agree."""
    X, y, c = data
    X = X if d == D else rng.normal(size=(N, d))
    z0 = rng.normal(size=N) * 2
    z0[0] = 40.0  # p(1 - p) ~ 4e-18
    with enable_x64():
        weights, scaling, layout, Xs = _fold_setup(X, y, c, d)
        got = cv_lockstep.shared_hessians(layout, jnp.asarray(z0), scaling)
        with jax.disable_jit():
            eager = cv_lockstep.shared_hessians(layout, jnp.asarray(z0), scaling)
    chex.assert_shape(got, (F + 1, d + 1, d + 1))
    p = 1 / (1 + np.exp(-z0))
    for m in range(F + 1):
        want = (Xs * (weights[m] * p * (1 - p))[:, None]).T @ Xs
        np.testing.assert_allclose(got[m], want, rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose(eager[m], got[m], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("ratio", [0.0, 0.5])
def test_blocked_model_hessians_reach_each_runs_own_fit(ratio):
    """d = 20 keeps the centred copy in row blocks (path_objective.blocked): every
    run of the lockstep still reaches the objective of jl.fit on its own rows."""
    from jaxlogloss.fitting.path_objective import blocked

    rng = np.random.default_rng([SEED, 37])
    n, d, folds = 300, 20, 3
    assert blocked(d)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2, d) + rng.normal(size=d)
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, :3].sum(1) * 0.5))).astype(float)
    grid = 0.03 * np.logspace(0, -2, 3)
    fold_of = stratified_folds(y, folds, 0)
    masks = (fold_of[None, :] != np.arange(-1, folds)[:, None]).astype(np.float64)
    with enable_x64():
        prepared = prepare_data("cv", X, y)
        scaling = scaling_of(prepared.X, prepared.sample_weight)
        _, _, status, _, kkt, w, b = jl.fitting.cv.lockstep_cv(
            prepared, scaling, [grid], [ratio], jnp.ones(d), masks, fold_of, 1e-10,
            100, "log_loss",
        )[0]  # fmt: skip
        assert (kkt <= 1e-10).all() and (status == 1).all()
        for m, rows in enumerate(masks.astype(bool)):
            for i, a in enumerate(grid):
                ref = jl.fit(X[rows], y[rows], penalty="elasticnet", alpha=a,
                             l1_ratio=ratio)  # fmt: skip
                args = (X[rows], y[rows], np.ones(rows.sum()))
                ours = numpy_objective(*args, w[m, i], b[m, i], a, ratio)
                theirs = numpy_objective(*args, ref.coef, ref.intercept, a, ratio)
                assert ours <= theirs * (1 + 1e-11)


@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_default_path_tolerance_keeps_scores_and_objectives(data, penalty):
    """cv and fit_path stop at KKT 1e-8 by default (solvers.base.DEFAULT_PATH_TOL):
    every point within it, its objective within 1e-12 (relative) of a run to 1e-11,
    the held-out scores to 1e-7 (240 rows) and the picked alphas unchanged; the refit keeps fit's
    1e-10."""
    from jaxlogloss.solvers.base import DEFAULT_PATH_TOL

    assert DEFAULT_PATH_TOL["float64"] == 1e-8
    X, y, c = data
    kw = dict(penalty=penalty, alphas=GRID, folds=F, seed=2, sample_weight=c)
    if penalty == "elasticnet":
        kw["l1_ratio"] = 0.5
    with enable_x64():
        loose, tight = jl.cv(X, y, **kw), jl.cv(X, y, tol=1e-11, refit=False, **kw)
        path_kw = {k: v for k, v in kw.items() if k not in ("folds", "seed")}
        p_loose, p_tight = (
            jl.fit_path(X, y, **path_kw),
            jl.fit_path(X, y, tol=1e-11, **path_kw),
        )
    assert (loose.path.kkt <= 1e-8).all() and set(p_loose.status) == {"converged"}
    assert (tight.path.kkt <= 1e-11).all()
    np.testing.assert_allclose(loose.path.objective, tight.path.objective, rtol=1e-12)
    np.testing.assert_allclose(p_loose.objective, p_tight.objective, rtol=1e-12)
    np.testing.assert_allclose(loose.fold_scores, tight.fold_scores, rtol=1e-7)
    assert (loose.alpha_min, loose.alpha_1se) == (tight.alpha_min, tight.alpha_1se)
    assert loose.fit.tol == 1e-10 and loose.fit.grad_norm <= 1e-10


def test_own_hessians_are_each_flagged_runs_hessian_at_its_logits(data, rng):
    """own_hessians: the flagged runs' Hessians at their own logits z[m] (float64
    NumPy reference), the others' left as given."""
    X, y, c = data
    z = rng.normal(size=(F + 1, N)) * 2
    own = np.zeros(F + 1, bool)
    own[[1, F]] = True
    with enable_x64():
        weights, scaling, layout, Xs = _fold_setup(X, y, c, D)
        base = np.asarray(
            cv_lockstep.shared_hessians(layout, jnp.asarray(z[0]), scaling)
        )
        got = cv_lockstep.own_hessians(
            base.copy(), layout, jnp.asarray(z), scaling, own
        )
    for m in range(F + 1):
        if not own[m]:
            np.testing.assert_array_equal(got[m], base[m])
            continue
        p = 1 / (1 + np.exp(-z[m]))
        want = (Xs * (weights[m] * p * (1 - p))[:, None]).T @ Xs
        np.testing.assert_allclose(got[m], want, rtol=2e-6, atol=1e-7)


def test_a_near_singular_model_keeps_its_own_curvature(rng):
    """A run whose Hessian rounded just below positive definite (a float32 Gram of
    few rows) gets a floor on its diagonal, not the all-rows run's matrix; a matrix
    far from definite (a stale update) restarts from that base."""
    p = 6
    a = rng.normal(size=(p, p - 1))
    near = a @ a.T  # rank p - 1
    near -= 1e-9 * np.abs(np.diag(near)).max() * np.eye(p)  # rounded below zero
    base = np.eye(p)
    bad = -np.eye(p)
    models = cv_lockstep._Models(np.stack([base, near, bad]))
    np.linalg.cholesky(models.matrix)  # all three usable
    np.testing.assert_allclose(models.hess[1], near, atol=1e-5 * np.abs(near).max())
    assert not np.allclose(models.hess[1], base)
    np.testing.assert_array_equal(models.hess[2], base)
