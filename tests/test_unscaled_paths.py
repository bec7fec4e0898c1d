"""Paths and cross-validation on features of very different scales (10^-3 .. 10^3,
offset means, a near-duplicate pair: scikit-learn's breast cancer data is of this
kind). Every point meets the raw KKT rule it reports (checked by hand in NumPy), the
cross-validation runs equal the paths of their rows, and float32 runs end at their
precision's floor ("converged" or "stalled"), never spinning to max_iter."""

from __future__ import annotations

import numpy as np
import pytest

import jaxlogloss as jl
from jaxlogloss.fitting.cv import stratified_folds

N, D, K = 400, 12, 8
TOL = 1e-8  # the float64 path tolerance (DEFAULT_PATH_TOL)
PENALTIES = [("l2", {}), ("l1", {}), ("elasticnet", {"l1_ratio": 0.5})]


@pytest.fixture
def unscaled(rng):
    scale = 10.0 ** rng.uniform(-3, 3, D)
    scale[[0, 1]] = [1e-3, 1e3]  # both ends, always
    z = rng.normal(size=(N, D))
    z[:, 4] = z[:, 3] + 0.05 * rng.normal(size=N)  # a near-duplicate pair
    X = (z + 3 * rng.normal(size=D)) * scale
    w = np.zeros(D)
    w[[0, 1, 3]] = [1.0, -0.7, 0.5]
    y = (rng.random(N) < 1 / (1 + np.exp(-(z @ w)))).astype(np.float64)
    return X, y


def ratio_of(penalty, kw):
    return {"l2": 0.0, "l1": 1.0}.get(penalty, kw.get("l1_ratio"))


def raw_kkt(X, y, coef, intercept, alpha, r):
    """The largest KKT violation of the mean log-loss + alpha (r |w|_1 + (1-r)/2 |w|^2)
    on the raw coefficients, in NumPy float64."""
    z = X @ coef + intercept
    resid = 1 / (1 + np.exp(-z)) - y
    g = X.T @ resid / len(y) + alpha * (1 - r) * coef
    lam = alpha * r
    viol = np.where(
        coef == 0, np.maximum(np.abs(g) - lam, 0), np.abs(g + lam * np.sign(coef))
    )
    return max(viol.max(), abs(resid.mean()))


def mean_log_loss(X, y, coef, intercept):
    z = X @ coef + intercept
    return float(np.mean(np.logaddexp(0, z) - y * z))


@pytest.mark.parametrize(("penalty", "kw"), PENALTIES)
def test_path_meets_the_raw_rule_it_reports(unscaled, penalty, kw):
    X, y = unscaled
    p = jl.fit_path(X, y, penalty=penalty, n_alphas=K, **kw)
    assert (p.status == "converged").all(), p.status
    assert (p.kkt <= TOL).all(), p.kkt
    r = ratio_of(penalty, kw)
    by_hand = [
        raw_kkt(X, y, p.coef[k], p.intercept[k], a, r) for k, a in enumerate(p.alphas)
    ]
    np.testing.assert_allclose(by_hand, p.kkt, rtol=0, atol=1e-9)
    assert max(by_hand) <= 2 * TOL


@pytest.mark.parametrize(("penalty", "kw"), PENALTIES)
def test_float32_path_ends_at_its_floor(unscaled, penalty, kw):
    X, y = unscaled
    ref = jl.fit_path(X, y, penalty=penalty, n_alphas=K, **kw)
    p = jl.fit_path(X, y, penalty=penalty, alphas=ref.alphas, dtype="float32", **kw)
    assert set(p.status) <= {"converged", "stalled"}, p.status
    assert p.n_iter.max() < 40, p.n_iter  # at the floor it stops, not at max_iter
    np.testing.assert_allclose(p.objective, ref.objective, rtol=1e-5)


@pytest.mark.parametrize(("penalty", "kw"), PENALTIES)
def test_cv_runs_equal_the_paths_of_their_rows(unscaled, penalty, kw):
    """Run 0 is the path on all rows; fold k's held-out score is that of the path on
    the other folds' rows (a cross-validation whose model solve read the raw
    violation never moved from zero on such data)."""
    X, y = unscaled
    folds = 3
    c = jl.cv(X, y, penalty=penalty, n_alphas=K, folds=folds, refit=False, **kw)
    assert (c.path.status == "converged").all() and (c.status == "converged").all()
    p = jl.fit_path(X, y, penalty=penalty, alphas=c.alphas, **kw)
    np.testing.assert_allclose(c.path.objective, p.objective, rtol=1e-12)
    assert c.path.n_nonzero[-1] > 0
    fold_of = stratified_folds(y, folds, 0)
    for k in range(folds):
        train, held = fold_of != k, fold_of == k
        pk = jl.fit_path(X[train], y[train], penalty=penalty, alphas=c.alphas, **kw)
        scores = [
            mean_log_loss(X[held], y[held], pk.coef[i], pk.intercept[i])
            for i in range(K)
        ]
        np.testing.assert_allclose(c.fold_scores[0, k], scores, rtol=1e-6)


@pytest.mark.parametrize(("penalty", "kw"), PENALTIES)
def test_float32_cv_ends_at_its_floor(unscaled, penalty, kw):
    X, y = unscaled
    ref = jl.cv(X, y, penalty=penalty, n_alphas=K, folds=3, refit=False, **kw)
    c = jl.cv(
        X, y, penalty=penalty, alphas=ref.alphas, folds=3, refit=False,
        dtype="float32", **kw,
    )  # fmt: skip
    statuses = {*c.path.status, *np.ravel(c.status)}
    assert statuses <= {"converged", "stalled"}, statuses
    assert max(c.path.n_iter.max(), c.n_iter.max()) < 40
    np.testing.assert_allclose(c.path.objective, ref.path.objective, rtol=1e-5)


@pytest.mark.parametrize(("penalty", "kw"), PENALTIES)
def test_cv_on_few_rows_converges(rng, penalty, kw):
    """60 rows, 18 features, 3 folds: a fold's logits are far from the all-rows
    run's, so the shared model Hessians (taken there) are poor; a fold that stays
    slow near its optimum gets its own exact Hessian and converges (it ran to
    max_iter)."""
    n, d = 60, 18
    z = rng.normal(size=(n, d))
    X = (z + 2 * rng.normal(size=d)) * 10.0 ** rng.uniform(-2, 2, d)
    w = rng.normal(size=d) * (rng.random(d) < 0.4) * 1.5
    y = (rng.random(n) < 1 / (1 + np.exp(-(z @ w)))).astype(np.float64)
    y[:6] = [0, 1, 0, 1, 0, 1]  # both classes, whatever the draw
    c = jl.cv(X, y, penalty=penalty, n_alphas=K, folds=3, refit=False, **kw)
    statuses = {*c.path.status, *np.ravel(c.status)}
    assert statuses == {"converged"}, (statuses, c.n_iter)
    assert c.n_iter.max() < 60, c.n_iter
