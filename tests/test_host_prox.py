"""The host-driven proximal Newton of in-memory L1 / elastic-net fits
(jaxlogloss.fitting.host_prox) against the compiled solver and by hand."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jaxlogloss as jl
import jaxlogloss.fitting.host_loop as host_loop
from jaxlogloss.fitting import host_prox, model_precision
from jaxlogloss.precision import enable_x64
from jaxlogloss.solvers import quadratic_l1


def model(rng, p):
    a = rng.normal(size=(p, p))
    return a @ a.T / p + 0.1 * np.eye(p), rng.normal(size=p), rng.normal(size=p)


def model_kkt(h, g, theta, lam, u):
    """The largest violation of the model's optimality conditions at u, by hand."""
    m = g + h @ (u - theta)
    at_zero = np.maximum(np.abs(m) - lam, 0)
    off_zero = np.abs(m + lam * np.sign(u))
    return np.max(np.where(u == 0, at_zero, off_zero))


@pytest.mark.parametrize("p", [1, 6, 12])
def test_active_set_and_coordinate_descent_minimise_the_model(rng, p):
    h, g, theta = model(rng, p)
    theta[: p // 2] = 0.0  # a warm start's zeros
    lam = np.abs(rng.normal(size=p)) * 0.5
    lam[-1] = 0.0  # a free coordinate (the intercept)
    u, ok = host_prox.active_set_solve(h, g, theta, lam, 1e-12)
    assert ok and model_kkt(h, g, theta, lam, u) < 1e-10
    # the fallback starts where the active-set run stopped: from a perturbed optimum
    # (same support) coordinate descent returns to it
    u0 = np.where(u != 0, u + 0.1 * rng.normal(size=p), 0.0)
    cd = host_prox.coordinate_descent(h, g, theta, lam, u0, 1e-14, 20000)
    assert model_kkt(h, g, theta, lam, cd) < 1e-8
    np.testing.assert_allclose(cd, u, atol=1e-7)
    if p != 6:  # one size against the compiled solve (each size compiles ~2 s)
        return
    with enable_x64():
        ref, ref_ok = quadratic_l1.active_set_solve(
            jnp.asarray(h), jnp.asarray(g), jnp.asarray(theta), jnp.asarray(lam), 1e-12
        )
    assert bool(ref_ok)
    np.testing.assert_allclose(u, np.asarray(ref), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(u == 0, np.asarray(ref) == 0)


@pytest.mark.parametrize("p", [1, 7])
def test_with_no_l1_part_the_model_step_is_one_newton_solve(rng, p):
    """lam = 0 everywhere (a pure L2 path's model): u = theta - H^-1 g, as NumPy
    solves it, whatever theta's zeros."""
    h, g, theta = model(rng, p)
    theta[: p // 2] = 0.0
    u, ok = host_prox.active_set_solve(h, g, theta, np.zeros(p), 1e-12)
    assert ok
    np.testing.assert_allclose(u, theta - np.linalg.solve(h, g), rtol=1e-10, atol=1e-12)
    assert model_kkt(h, g, theta, np.zeros(p), u) < 1e-10


def test_active_set_fails_cleanly_on_a_nan_model():
    """A model NumPy cannot factor (NaN) ends the run with ok False and a finite u:
    fit then falls back to coordinate descent from it."""
    h = np.full((2, 2), np.nan)
    u, ok = host_prox.active_set_solve(
        h, np.array([1.0, -1.0]), np.array([0.5, 0.0]), np.zeros(2), 1e-12
    )
    assert not ok and np.isfinite(u).all()


def test_active_set_fails_cleanly_on_an_indefinite_model():
    """LAPACK's posv reports a matrix that is not positive definite (info > 0): ok
    False, u the start."""
    h = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    theta = np.array([0.5, 0.5])
    u, ok = host_prox.active_set_solve(
        h, np.array([1.0, -1.0]), theta, np.zeros(2), 1e-12
    )
    assert not ok
    np.testing.assert_array_equal(u, theta)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 6)) * [1, 3, 0.5, 1, 2, 1] + [0, 1, 0, -2, 0, 4]
    y = rng.random(400) < 1 / (1 + np.exp(-(X @ [1, -0.4, 0, 0, 0.5, 0] - 0.3)))
    return X, y.astype(np.float64)


@pytest.mark.parametrize(
    "options",
    [
        {"penalty": "l1", "alpha": 0.02},
        {"penalty": "elasticnet", "alpha": 0.05, "l1_ratio": 0.3},
        {"penalty": "l1", "alpha": 0.01, "penalty_factor": [0, 1, 1, 2, 1, 1],
         "class_weight": "balanced"},
        {"penalty": "l1", "alpha": 0.02, "max_iter": 1},
    ],
    ids=["l1", "elasticnet", "factors_weights", "max_iter"],
)  # fmt: skip
def test_host_fit_equals_the_compiled_solver(data, options, monkeypatch):
    X, y = data
    if "max_iter" in options:  # a stopped run's iterate is its models': exact here
        monkeypatch.setattr(model_precision, "FLOAT32_MODELS", False)
    with enable_x64():
        host = jl.fit(X, y, **options)
        monkeypatch.setattr(host_loop, "HOST_LOOP_MIN_ELEMENTS", None)
        compiled = jl.fit(X, y, **options)
    assert host.status == compiled.status and host.n_iter == compiled.n_iter
    np.testing.assert_allclose(host.coef, compiled.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(host.coef == 0, compiled.coef == 0)
    np.testing.assert_allclose(host.objective, compiled.objective, rtol=1e-13)
    np.testing.assert_allclose(host.kkt_violation, compiled.kkt_violation, atol=1e-12)
    if host.status == "converged":
        assert host.kkt_violation < 1e-9


def test_host_fit_reports_separation_when_nothing_is_penalised(monkeypatch):
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    y = np.array([0.0, 0, 0, 1, 1, 1])
    with enable_x64():
        host = jl.fit(X, y, penalty="l1", alpha=0.1, penalty_factor=[0.0])
        monkeypatch.setattr(host_loop, "HOST_LOOP_MIN_ELEMENTS", None)
        compiled = jl.fit(X, y, penalty="l1", alpha=0.1, penalty_factor=[0.0])
    assert host.status == compiled.status == "separation"


@pytest.mark.parametrize("d", [0, 1, 7])
def test_raw_kkt_of_one_point_equals_the_batched_rule_and_by_hand(rng, d):
    theta = rng.normal(size=(3, d + 1))
    theta[:, : d // 2] = 0.0  # zeros take the |g| - lam branch
    grad = rng.normal(size=(3, d + 1)) * 0.1
    lam = np.r_[rng.uniform(0.01, 0.2, size=d), 0.0]
    mean, scale = rng.normal(size=d), rng.uniform(0.5, 2.0, size=d)
    batched = host_prox.raw_kkt(theta, grad, lam, mean, scale)
    for k in range(3):
        one = host_prox.raw_kkt(theta[k], grad[k], lam, mean, scale)
        assert np.ndim(one) == 0
        g_w = scale * grad[k, :d] + mean * grad[k, d]
        lam_w, w = scale * lam[:d], theta[k, :d]
        viol = np.where(
            w == 0, np.maximum(np.abs(g_w) - lam_w, 0), np.abs(g_w + lam_w * np.sign(w))
        )
        want = max(viol.max(initial=0.0), abs(grad[k, d]))
        np.testing.assert_allclose(one, want, rtol=1e-15)
        np.testing.assert_allclose(batched[k], want, rtol=1e-15)
