"""fit_path: the grid, warm starts, and every point against independent float64 fits."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SEED
from scipy.optimize import minimize

import jaxlogloss as jl
from jaxlogloss.fitting.path_data import alpha_grid

N, D = 240, 5
K = 5  # every L1 / elastic-net path here has K points: one compiled program


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng([SEED, 12])
    X = rng.normal(size=(N, D)) * rng.uniform(0.5, 3.0, size=D) + rng.normal(size=D)
    w = np.array([1.0, -0.8, 0.0, 0.0, 0.4])
    y = (rng.random(N) < 1 / (1 + np.exp(-(X @ w / 2 + 0.3)))).astype(np.float64)
    sw = rng.uniform(0.5, 2.0, size=N)
    return X, y, sw


def objective(X, y, sw, w, b, alpha, r, f):
    z = X @ w + b
    loss = np.sum(sw * (np.logaddexp(0, z) - y * z)) / np.sum(sw)
    return loss + alpha * np.sum(f * (r * np.abs(w) + 0.5 * (1 - r) * w * w))


def reference_fit(X, y, sw, alpha, r, f):
    """Independent: L-BFGS-B on w = u - v (u, v >= 0), smooth, to 1e-13."""
    d = X.shape[1]
    c = sw / sw.sum()

    def fun(t):
        u, v, b = t[:d], t[d : 2 * d], t[-1]
        w = u - v
        z = X @ w + b
        p = 1 / (1 + np.exp(-z))
        val = np.sum(c * (np.logaddexp(0, z) - y * z))
        val += alpha * np.sum(f * (r * (u + v) + 0.5 * (1 - r) * w * w))
        gz = X.T @ (c * (p - y)) + alpha * (1 - r) * f * w
        gu = gz + alpha * r * f
        gv = -gz + alpha * r * f
        return val, np.concatenate([gu, gv, [np.sum(c * (p - y))]])

    bounds = [(0, None)] * (2 * d) + [(None, None)]
    t = np.zeros(2 * d + 1)
    # L-BFGS-B on the split problem can stop early where it is flat (small alpha,
    # pure L1: 2e-3 off in a coefficient for seeds 61 and 92, its objective within
    # 1e-16): restarted from where it stopped until its own KKT violation is small
    for _ in range(10):
        out = minimize(
            fun, t, jac=True, method="L-BFGS-B", bounds=bounds,
            options={"ftol": 1e-15, "gtol": 1e-13, "maxiter": 20000},
        )  # fmt: skip
        t = out.x
        w, b = t[:d] - t[d : 2 * d], t[-1]
        if numpy_kkt(X, y, sw, w, b, alpha, r, f) < 1e-10:
            break
    return w, b


def numpy_kkt(X, y, sw, w, b, alpha, r, f):
    """The KKT violation by hand in NumPy."""
    c = sw / sw.sum()
    p = 1 / (1 + np.exp(-(X @ w + b)))
    g = X.T @ (c * (p - y)) + alpha * (1 - r) * f * w
    lam = alpha * r * f
    viol = np.where(
        w == 0, np.maximum(np.abs(g) - lam, 0), np.abs(g + lam * np.sign(w))
    )
    return max(viol.max(), abs(np.sum(c * (p - y))))


@pytest.fixture(scope="module")
def l1_path(data):
    X, y, sw = data
    return jl.fit_path(X, y, penalty="l1", sample_weight=sw, n_alphas=K,
                       alpha_min_ratio=1e-3)  # fmt: skip


def test_grid_starts_at_alpha_max_all_zero_then_nonzero(data, l1_path):
    X, y, sw = data
    c = sw / sw.sum()
    top = np.max(np.abs(X.T @ (c * (y - np.sum(c * y)))))
    np.testing.assert_allclose(l1_path.alphas[0], top, rtol=1e-12)
    np.testing.assert_allclose(l1_path.alphas, alpha_grid(top, K, 1e-3), rtol=1e-12)
    assert np.all(np.diff(l1_path.alphas) < 0)
    assert np.all(l1_path.coef[0] == 0)
    ybar = np.sum(c * y)
    np.testing.assert_allclose(l1_path.intercept[0], np.log(ybar / (1 - ybar)), 1e-9)
    below = jl.fit_path(X, y, penalty="l1", sample_weight=sw,
                        alphas=top * np.array([1.0, 0.98, 0.96, 0.94, 0.92]))  # fmt: skip
    assert np.all(below.coef[0] == 0) and np.count_nonzero(below.coef[1]) >= 1
    assert np.all(l1_path.status == "converged")


@pytest.mark.parametrize("r", [1.0, 0.5, 0.1])
def test_every_point_equals_an_independent_fit_and_meets_kkt(data, l1_path, r):
    X, y, sw = data
    f = np.ones(D)
    if r == 1.0:
        path = l1_path
    else:
        path = jl.fit_path(X, y, penalty="elasticnet", l1_ratio=r, sample_weight=sw,
                           n_alphas=K, alpha_min_ratio=1e-3)  # fmt: skip
    for k in range(0, K, 2):
        a = path.alphas[k]
        w_ref, b_ref = reference_fit(X, y, sw, a, r, f)
        ours = objective(X, y, sw, path.coef[k], path.intercept[k], a, r, f)
        assert ours <= objective(X, y, sw, w_ref, b_ref, a, r, f) + 1e-10
        np.testing.assert_allclose(path.objective[k], ours, rtol=1e-10)
        np.testing.assert_allclose(path.coef[k], w_ref, atol=2e-5)
        kkt = numpy_kkt(X, y, sw, path.coef[k], path.intercept[k], a, r, f)
        assert kkt < 1e-7
        np.testing.assert_allclose(path.kkt[k], kkt, atol=1e-9)


COEF_ATOL = 2e-7  # two fits to KKT <= 1e-8 agree in coefficients to about this


def test_warm_started_scan_equals_cold_fits(data, l1_path):
    X, y, sw = data
    for k in (2, 4):
        # a constant grid's first point is a cold fit (from the null model)
        cold = jl.fit_path(X, y, penalty="l1", sample_weight=sw,
                           alphas=[l1_path.alphas[k]] * K)  # fmt: skip
        # both solved to a KKT violation <= 1e-8 (the default tol): a coefficient is
        # off by up to violation / curvature (~0.05 here): 2e-7, not 1e-8 (seed 9 of
        # 24 differed by 3.2e-8)
        np.testing.assert_allclose(cold.coef[0], l1_path.coef[k], atol=COEF_ATOL)
        assert np.array_equal(cold.coef[0] == 0, l1_path.coef[k] == 0)


def test_screening_changes_nothing(data, l1_path):
    X, y, sw = data  # l1_path screens (the default)
    plain = jl.fit_path(X, y, penalty="l1", sample_weight=sw, n_alphas=K,
                        alpha_min_ratio=1e-3, screening=False)  # fmt: skip
    np.testing.assert_allclose(plain.coef, l1_path.coef, atol=COEF_ATOL)
    assert np.array_equal(plain.coef == 0, l1_path.coef == 0)
    np.testing.assert_allclose(plain.objective, l1_path.objective, rtol=1e-12)


def test_l2_path_equals_sklearn(data):
    from sklearn.linear_model import LogisticRegression

    X, y, sw = data
    path = jl.fit_path(X, y, penalty="l2", sample_weight=sw, n_alphas=K)
    top = np.max(np.abs(X.T @ (sw * (y - np.average(y, weights=sw))))) / sw.sum()
    np.testing.assert_allclose(path.alphas[0], top / 1e-3, rtol=1e-12)
    for k in (1, 3):
        C = 1 / (sw.sum() * path.alphas[k])
        sk = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
        sk.fit(X, y, sample_weight=sw)
        np.testing.assert_allclose(path.coef[k], sk.coef_[0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(path.intercept[k], sk.intercept_[0], atol=1e-6)


def test_wide_l2_path_equals_sklearn(rng):
    from sklearn.linear_model import LogisticRegression

    n, d = 150, 34  # wider than fit's Newton rule: the path's Newton solves still apply
    X = rng.normal(size=(n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    path = jl.fit_path(X, y, penalty="l2", n_alphas=K, alpha_min_ratio=1e-3)
    assert set(path.status) == {"converged"}
    # the stop is at 1e-8 on standardised features; the raw violation reported is
    # s_j g_j + m_j g_b, so at most (s_j + |m_j|) 1e-8 (seed 30: 1.09e-8)
    assert path.kkt.max() < 1e-8 * np.max(X.std(axis=0) + np.abs(X.mean(axis=0)))
    for k in (2, 4):
        sk = LogisticRegression(C=1 / (n * path.alphas[k]), solver="newton-cholesky",
                                tol=1e-12, max_iter=1000).fit(X, y)  # fmt: skip
        np.testing.assert_allclose(path.coef[k], sk.coef_[0], rtol=1e-6, atol=1e-8)


def test_penalty_factors(data):
    from sklearn.linear_model import LogisticRegression

    X, y, sw = data
    f = np.array([0.0, 1.0, 2.0, 1.0, 0.5])
    path = jl.fit_path(X, y, penalty="l1", sample_weight=sw, penalty_factor=f,
                       n_alphas=K)  # fmt: skip
    # alpha_max: the residual of the unpenalised fit on x0 (factor 0)
    free = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000)
    p0 = free.fit(X[:, :1], y, sample_weight=sw).predict_proba(X[:, :1])[:, 1]
    score = np.abs(X.T @ (sw * (y - p0))) / sw.sum()
    np.testing.assert_allclose(path.alphas[0], np.max(score[1:] / f[1:]), rtol=1e-6)
    assert path.coef[0, 0] != 0 and np.all(path.coef[0, 1:] == 0)  # x0 unpenalised
    np.testing.assert_allclose(path.coef[0, 0], free.coef_[0, 0], rtol=1e-6)
    a = path.alphas[2]
    w_ref, b_ref = reference_fit(X, y, sw, a, 1.0, f)
    np.testing.assert_allclose(path.coef[2], w_ref, atol=2e-5)


def test_class_weight_is_multiplied_into_the_weights(data):
    X, y, _ = data
    path = jl.fit_path(X, y, penalty="l1", class_weight="balanced", n_alphas=K)
    n1 = y.sum()
    cw = np.where(y == 1, N / (2 * n1), N / (2 * (N - n1)))
    same = jl.fit_path(X, y, penalty="l1", sample_weight=cw, n_alphas=K)
    np.testing.assert_allclose(path.coef, same.coef, atol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"penalty": "l3"}, "penalty must be one of"),
        ({"penalty": "elasticnet", "l1_ratio": 1.5}, "l1_ratio must be"),
        ({"alphas": [0.1, -1.0]}, "alphas must be"),
        ({"n_alphas": 0}, "n_alphas must be"),
        ({"penalty_factor": [1.0, -1.0, 1, 1, 1]}, "penalty_factor must be"),
        ({"alpha_min_ratio": 2.0}, "alpha_min_ratio must be"),
    ],
)
def test_bad_arguments_name_themselves(data, kwargs, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=f"fit_path: {match}"):
        jl.fit_path(X, y, **kwargs)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("d", [6, 20, 130])
def test_model_hessians_equal_a_float64_reference(x64, jit, d):
    """The path's model Hessian (from a kept centred float32 copy, flat (d = 6, 130)
    or in row blocks (d = 20, n not a multiple of the block), and from the objective
    without one) equals the weighted float64 Hessian over theta = [w / s, b'] on
    fresh data, to float32 rounding; an extreme logit (p(1 - p) = 0) and zero
    weights included."""
    import chex
    import jax
    import jax.numpy as jnp
    from conftest import logistic_data

    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.fitting.path_objective import (
        BLOCK_ROWS,
        blocked,
        centred_float32,
        centred_hessian,
        penalty_free,
    )
    from jaxlogloss.model.objective import Problem
    from jaxlogloss.model.scaling import Scaling

    rng = np.random.default_rng(SEED + 7)
    n = 3001
    X, _ = logistic_data(n, d, SEED + 7)
    c = rng.uniform(0, 2, n)
    c[:5] = 0.0
    z = rng.normal(0, 2, n)
    z[5] = 800.0
    mean, scale = X.mean(0), X.std(0) + 0.5
    xs = np.column_stack([(X - mean) / scale, np.ones(n)])
    p = 1 / (1 + np.exp(-z))
    expected = (xs * (c * p * (1 - p))[:, None]).T @ xs / c.sum()
    scaling = Scaling(jnp.asarray(mean), jnp.asarray(scale))
    xt = jnp.asarray(X.T)
    args = (jnp.asarray(c), jnp.asarray(z), scaling)
    maybe = jax.jit if jit else (lambda f: f)
    centred = maybe(centred_float32)(xt, scaling)
    assert blocked(d) == (d == 20)
    if blocked(d):  # ones row; zero padding to whole blocks of rows
        n_blocks = -(-n // BLOCK_ROWS)
        chex.assert_shape(centred, (n_blocks, d + 1, BLOCK_ROWS))
        flat = np.asarray(centred).transpose(1, 0, 2).reshape(d + 1, -1)
        np.testing.assert_array_equal(flat[d, :n], 1.0)
        np.testing.assert_array_equal(flat[:, n:], 0.0)
        np.testing.assert_allclose(flat[:d, :n], (X - mean).T, rtol=1e-6, atol=1e-6)
    else:
        chex.assert_shape(centred, (d, n))
    chex.assert_type(centred, jnp.float32)
    problem = Problem(FeatureMajor(xt), jnp.zeros(n), jnp.asarray(c), 0.0)
    objective = penalty_free(problem, scaling)  # no kept copy: one per Hessian
    for hess in (
        maybe(centred_hessian)(centred, *args),
        maybe(lambda z_: objective.hessian(None, z_))(jnp.asarray(z)),
    ):
        chex.assert_shape(hess, (d + 1, d + 1))
        chex.assert_type(hess, jnp.float64)
        np.testing.assert_allclose(hess, expected, rtol=2e-5, atol=1e-7)
        np.testing.assert_allclose(hess, np.asarray(hess).T, rtol=1e-14, atol=0)


@pytest.mark.parametrize("fn", ["fit_path", "cv"])
def test_a_nan_in_x_is_named_by_row_and_column(fn):
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(np.float64)
    X[7, 2] = np.nan
    with pytest.raises(
        ValueError, match=rf"{fn}: X must be finite, got NaN at index \(7, 2\)"
    ):
        getattr(jl, fn)(X, y)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weights", [None, "sample", "class"])
def test_path_scaling_from_the_copy_equals_the_scaling_pass(x64, order, weights):
    """prepare_data's copy of a NumPy X brings the features' moments (one pass with
    the copy and the finiteness check); with weights, or X shared without a copy
    (F order), the scaling is scaling_of's own pass. Either way it is that scaling."""
    from jaxlogloss.data import host
    from jaxlogloss.fitting.host_scaling import scaling_of
    from jaxlogloss.fitting.path_data import data_scaling, prepare_data

    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(3000, 5)) * [1, 10, 0.1, 1, 1] + [0, 5e3, -2, 0, 0]
    X[:, 3] = 4.0  # constant: scale 1
    X = np.asarray(X, order=order)
    y = (X[:, 0] + rng.normal(size=3000) > 0).astype(np.float64)
    kw = {
        None: {},
        "sample": {"sample_weight": rng.uniform(0.5, 2, 3000)},
        "class": {"class_weight": "balanced"},
    }[weights]
    data = prepare_data("fit_path", X, y, **kw)
    copied = not host.shareable(X.T, np.float64)  # F order: copied unless aligned
    assert (data.moments is not None) == (weights is None and copied)
    got = data_scaling(data)
    expected = scaling_of(data.X, data.sample_weight)
    for a, e in zip(got, expected, strict=True):
        assert a.dtype == e.dtype == np.float64
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=1e-12)
    assert float(got.scale[3]) == 1.0


def test_finite_entries_whose_squares_overflow_fall_back_to_the_scaling_pass(x64):
    """The copy's moments overflow (1e200 squared); X is finite, so no error, and the
    scaling comes from scaling_of's pass instead."""
    from jaxlogloss.fitting.path_data import prepare_data

    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(500, 3))
    X[:, 1] *= 1e200
    y = (X[:, 0] > 0).astype(np.float64)
    data = prepare_data("fit_path", X, y)
    assert data.moments is None


@pytest.mark.parametrize("order", ["C", "F"])
def test_prepare_data_scans_x_for_finiteness_at_most_once(x64, monkeypatch, order):
    """A NumPy X is checked on the way in (by the copy's moments, or one scan where it
    is shared or its squares overflow); prepare_problem is told so and scans none."""
    from jaxlogloss import _validation as v
    from jaxlogloss.data import host
    from jaxlogloss.fitting.path_data import prepare_data

    rng = np.random.default_rng(SEED)
    X = np.asarray(rng.normal(size=(2 * v.LARGE // 4 + 1, 4)), order=order)
    y = (X[:, 0] > 0).astype(np.float64)
    scans = []
    real = v._all_finite_host
    monkeypatch.setattr(
        v, "_all_finite_host", lambda h: scans.append(h.size) or real(h)
    )
    prepare_data("fit_path", X, y)
    shared = host.shareable(X.T, np.float64)  # no copy: the check's own scan
    assert scans.count(X.size) == (1 if shared else 0)
    X[:, 1] *= 1e200  # moments overflow: one scan (finite), still not two
    scans.clear()
    prepare_data("fit_path", X, y)
    assert scans.count(X.size) == 1
