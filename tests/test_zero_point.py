"""The objective at theta = 0 from the scaling's pass (model/zero_point.py) and the fit
that starts from it without a pass of its own (fitting/host_loop.py)."""

from __future__ import annotations

import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlogloss as jl
from jaxlogloss.data import host
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.fitting import host_loop, host_scaling
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import InMemoryObjective
from jaxlogloss.model.scaling import feature_scaling
from jaxlogloss.model.zero_point import scaling_and_zero_point
from jaxlogloss.precision import enable_x64

FIT = sys.modules["jaxlogloss.fitting.fit"]  # the module (the package exports fit)


def _numpy_zero_point(X, y, c, l2):
    """f and df/dtheta at theta = 0 in float64 NumPy, from the definitions: the
    log-loss at z = 0 is log 2 a row, its slope 1/2 - y; theta's w is the raw w
    times the scale sqrt(var + 4 l2), and b is b + mean . w."""
    X = np.asarray(X, np.float64)
    total = c.sum()
    mean = c @ X / total
    var = c @ (X - mean) ** 2 / total
    scale = np.sqrt(var + 4 * l2)
    scale = np.where(scale > 100 * np.finfo(np.float64).eps, scale, 1.0)
    v = c * (0.5 - y)
    gw = (X - mean).T @ v / total / scale
    return np.log(2.0), np.append(gw, v.sum() / total)


def _problem(X, y, c, l2, layout, dtype):
    design = jnp.asarray(X) if layout == "row" else FeatureMajor(jnp.asarray(X.T))
    weights = None if c is None else jnp.asarray(c, dtype)
    return Problem(design, jnp.asarray(y, dtype), weights, jnp.asarray(l2, dtype))


@pytest.mark.parametrize("run", ["eager", "jit", "host"])
@pytest.mark.parametrize("layout", ["row", "feature"])
@pytest.mark.parametrize(
    "case", ["plain", "weighted", "l2", "float32-held", "one-class", "constant"]
)
def test_zero_point_equals_the_evaluation_at_zero(rng, x64, case, layout, run):
    """The scaling equals feature_scaling's and (f, df/dtheta) at 0 equal both the
    objective's own evaluation (a pass over X) and a NumPy float64 reference, on
    fresh data: weights with zeros, an L2 term, a float32 X held by a float64 fit,
    one class only, a constant feature; from the compiled pass (eager or jitted) and
    from the host's read of X (host_scaling.host_zero_point: NumPy threads)."""
    n, d = 3_001, 5
    X = rng.standard_normal((n, d)) * rng.uniform(0.2, 5, d) + rng.normal(0, 3, d)
    y = (rng.random(n) < 0.3).astype(np.float64)
    c, l2 = None, 0.0
    if case == "weighted":
        c = rng.uniform(0, 2, n)
        c[:100] = 0.0
    elif case == "l2":
        l2 = 0.05
    elif case == "float32-held":
        X = X.astype(np.float32)
    elif case == "one-class":
        y[:] = 1.0
    elif case == "constant":
        X[:, 2] = 4.0
    problem = _problem(X, y, c, l2, layout, jnp.float64)
    if run == "host":
        scaling, at_zero = host_scaling.host_zero_point(problem, "log_loss", "l2")
    else:
        jitted = jax.jit(scaling_and_zero_point, static_argnames=("loss", "penalty"))
        scaling, at_zero = (jitted if run == "jit" else scaling_and_zero_point)(problem)
    chex.assert_shape(at_zero.grad, (d + 1,))
    chex.assert_type([at_zero.value, at_zero.grad, *scaling], jnp.float64)
    ref = feature_scaling(problem.X, problem.sample_weight, problem.l2)
    # the host sums in another order: equal to a few ulps of the column's magnitude
    tol = 1e-15 if run != "host" else 1e-14
    atol = tol * float(np.abs(np.asarray(X, np.float64)).mean(axis=0).max())
    np.testing.assert_allclose(scaling.mean, ref.mean, rtol=tol, atol=atol)
    np.testing.assert_allclose(scaling.scale, ref.scale, rtol=tol)
    ev = InMemoryObjective(problem, scaling).evaluate(jnp.zeros(d + 1), 1)
    np.testing.assert_allclose(at_zero.value, ev.value, rtol=1e-15)
    gmax = np.abs(np.asarray(ev.grad)).max()
    np.testing.assert_allclose(at_zero.grad, ev.grad, rtol=1e-12, atol=1e-13 * gmax)
    value, grad = _numpy_zero_point(X, y, np.ones(n) if c is None else c, l2)
    np.testing.assert_allclose(at_zero.value, value, rtol=1e-15)
    np.testing.assert_allclose(at_zero.grad, grad, rtol=1e-10, atol=1e-12 * gmax)


def test_zero_point_in_float32(rng):
    """A float32 fit's point at 0: float32, within float32 rounding of float64."""
    n, d = 2_000, 4
    X = rng.standard_normal((n, d)).astype(np.float32) + 2
    y = (rng.random(n) < 0.6).astype(np.float32)
    _, at_zero = scaling_and_zero_point(_problem(X, y, None, 0.0, "row", jnp.float32))
    chex.assert_type([at_zero.value, at_zero.grad], jnp.float32)
    value, grad = _numpy_zero_point(X, y.astype(np.float64), np.ones(n), 0.0)
    np.testing.assert_allclose(at_zero.value, value, rtol=1e-6)
    np.testing.assert_allclose(at_zero.grad, grad, rtol=1e-4, atol=1e-5)


@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    weighted=st.booleans(),
)
def test_zero_point_property(n, d, seed, weighted):
    """For any small X, targets and weights (one row included): the point at 0 equals
    the NumPy float64 definition."""
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, d)) * 3
    y = (r.random(n) < 0.5).astype(np.float64)
    c = r.uniform(0.1, 2, n) if weighted else None
    with enable_x64():
        _, at_zero = scaling_and_zero_point(_problem(X, y, c, 0.0, "row", jnp.float64))
        value, grad = _numpy_zero_point(X, y, np.ones(n) if c is None else c, 0.0)
        np.testing.assert_allclose(at_zero.value, value, rtol=1e-14)
        np.testing.assert_allclose(at_zero.grad, grad, rtol=1e-9, atol=1e-12)


def _evaluated_at(monkeypatch):
    """The thetas the host loop evaluates (each a pass over X)."""
    seen: list[np.ndarray] = []
    at = host_loop.evaluate_point

    def spy(objective, theta):
        seen.append(np.array(theta))
        return at(objective, theta)

    monkeypatch.setattr(host_loop, "evaluate_point", spy)
    return seen


@pytest.fixture
def compiled_scaling(monkeypatch):
    """Every X scaled by the compiled pass (which gives the point at 0), and every
    NumPy X read in place (the row- and column-major views over its memory)."""
    monkeypatch.setattr(host_scaling, "HOST_SCALING_MAX_ELEMENTS", 0)
    monkeypatch.setattr(host, "IN_PLACE_MIN_BYTES", 0)


def _data(rng, n=4_000, d=6, dtype=np.float64):
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 4, d) + rng.normal(0, 2, d)
    w = rng.standard_normal(d) / 2
    y = (rng.random(n) < 1 / (1 + np.exp(-(X - X.mean(0)) @ w))).astype(np.float64)
    return X.astype(dtype), y


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize(
    "case", ["C", "F", "float32-held", "weighted-l2", "float32-fit"]
)
def test_a_fit_from_zero_skips_its_first_pass(
    rng, compiled_scaling, monkeypatch, solver, case
):
    """A host-loop fit from 0 takes its first point from the scaling's pass: no
    evaluation at theta = 0, and the same fit (iterations, optimum, standard errors)
    as with the point evaluated."""
    X, y = _data(rng, dtype=np.float32 if "float32" in case else np.float64)
    kw = {}
    if case == "F":
        X = np.asfortranarray(X)
    elif case == "weighted-l2":
        kw = {"sample_weight": rng.uniform(0.5, 2, len(y)), "l2": 0.01}
    elif case == "float32-fit":
        kw = {"dtype": "float32"}
    seen = _evaluated_at(monkeypatch)
    fast = jl.fit(X, y, solver=solver, **kw)
    assert seen and all(np.any(t) for t in seen)  # never at theta = 0
    passes = len(seen)
    start = host_scaling.scaling_and_start
    monkeypatch.setattr(FIT, "scaling_and_start", lambda *a: start(*a[:4], False))
    seen.clear()
    slow = jl.fit(X, y, solver=solver, **kw)
    assert not np.any(seen[0])  # the point at 0 evaluated by a pass
    assert len(seen) == passes + 1  # and every other point the same
    assert fast.converged and slow.converged
    assert fast.n_iter == slow.n_iter
    tight = kw.get("dtype") != "float32"
    np.testing.assert_allclose(
        fast.coef, slow.coef, rtol=1e-8 if tight else 1e-4, atol=1e-10
    )
    np.testing.assert_allclose(
        fast.inference.std_err, slow.inference.std_err, rtol=1e-7 if tight else 1e-3
    )


@pytest.mark.parametrize("start", ["offset", "init", "l1"])
def test_a_fit_that_does_not_start_at_zero_evaluates_its_start(
    rng, compiled_scaling, monkeypatch, start
):
    """With an offset (logits not 0 at theta = 0), an init, or a proximal solver the
    scaling's pass computes no point at 0, and a Newton fit's first point is an
    evaluation at its start."""
    X, y = _data(rng)
    kw = {
        "offset": {"offset": rng.normal(0, 0.5, len(y)), "solver": "newton"},
        "init": {"init": (np.full(X.shape[1], 0.01), 0.0), "solver": "newton"},
        "l1": {"penalty": "l1", "alpha": 0.01},
    }[start]
    asked: list[bool] = []
    scaling_and_start = host_scaling.scaling_and_start

    def spy(*args):
        asked.append(args[4])
        return scaling_and_start(*args)

    monkeypatch.setattr(FIT, "scaling_and_start", spy)
    seen = _evaluated_at(monkeypatch)
    r = jl.fit(X, y, **kw)
    assert r.converged
    assert asked == [False]
    if start != "l1":
        assert len(seen) == 1 + r.n_iter  # the start, then one trial a step
        if start == "offset":
            assert not np.any(seen[0])  # theta = 0, its logits the offset
        else:
            assert np.any(seen[0])
