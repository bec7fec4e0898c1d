"""Vmapped sweeps equal the same runs one by one; grouping; solver sweeps."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxlogloss as jl
from jaxlogloss.fitting.fit import fit
from jaxlogloss.fitting.sweeps import sweep
from jaxlogloss.fitting.train import train


@pytest.fixture
def data(rng):
    X = rng.standard_normal((300, 3)).astype(np.float32)
    y = (rng.random(300) < 1 / (1 + np.exp(-(X @ [1.0, -1.0, 0.5])))).astype(np.float32)
    return X, y


def one_run(X, y, settings, k, init_scale, **kw):
    seed = int(settings["seed"][k])
    params = jax.tree.map(
        lambda leaf: init_scale * jax.random.normal(jax.random.key(seed), leaf.shape),
        jl.init_params(X.shape[1]),
    )
    return train(
        params, X, y, learning_rate=float(settings["learning_rate"][k]),
        l2=float(settings["l2"][k]), key=jax.random.key(seed), standardize=True, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("batch_size", [None, 50])
def test_sweep_equals_the_same_runs_one_by_one(data, batch_size):
    X, y = data
    kw = dict(optimizer="adam", steps=120, chunk_size=40, batch_size=batch_size)
    result = sweep(
        X, y, solver="adam", learning_rates=[0.01, 0.1], l2s=[0.0, 0.05], seeds=[0, 1],
        init_scale=0.5, steps=120, chunk_size=40, batch_size=batch_size,
    )  # fmt: skip
    assert result.n_runs == 8
    assert result.loss_history.shape == (8, 4)
    for k in [0, 3, 6]:
        single = one_run(X, y, result.settings, k, 0.5, **kw)
        np.testing.assert_allclose(
            result.params.w[k], single.params.w, rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            result.final_loss[k], single.history["loss"][-1], rtol=1e-5
        )
        assert result.status[k] == single.status


def test_grouped_sweep_equals_one_group(data):
    X, y = data
    kw = dict(
        solver="sgd",
        learning_rates=[0.05, 0.2, 0.4],
        seeds=[0, 1],
        steps=60,
        chunk_size=30,
    )
    whole = sweep(X, y, **kw)
    grouped = sweep(
        X, y, memory_budget=4 * 6 * 300 * 4, **kw
    )  # 4 runs a call -> 2 calls
    np.testing.assert_allclose(grouped.params.w, whole.params.w, rtol=1e-6)
    np.testing.assert_array_equal(grouped.status, whole.status)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_solver_sweep_over_l2_equals_individual_fits(rng, solver):
    X = rng.standard_normal((200, 3))
    y = (rng.random(200) < 1 / (1 + np.exp(-(X @ [1.0, -1.0, 0.5])))).astype(float)
    l2s = [0.0, 1e-3, 1e-1]
    with jl.enable_x64():
        result = sweep(X, y, solver=solver, l2s=l2s, steps=200, tol=1e-10)
    # L-BFGS may stop a hair above tol at the rounding floor ("stalled")
    ok = {"converged"} if solver == "newton" else {"converged", "stalled"}
    assert set(result.status) <= ok
    for k, alpha in enumerate(l2s):
        single = fit(X, y, solver=solver, l2=alpha)
        assert result.final_loss[k] == pytest.approx(single.objective, rel=1e-12)
        np.testing.assert_allclose(
            result.params.w[k], single.coef, rtol=1e-5, atol=1e-8
        )


def test_many_inits_of_the_convex_log_loss_reach_one_optimum(data):
    X, y = data
    inits = jl.LinearParams(
        w=np.random.default_rng(0).normal(scale=5.0, size=(64, 3)).astype(np.float32),
        b=np.random.default_rng(1).normal(scale=5.0, size=64).astype(np.float32),
    )
    result = sweep(X, y, solver="lbfgs", inits=inits, steps=200)
    assert result.n_runs == 64
    assert np.ptp(result.final_loss) < 1e-5
    assert set(result.status) <= {"converged", "stalled"}


def test_bad_sweeps(data):
    X, y = data
    with pytest.raises(ValueError, match="solver must be one of"):
        sweep(X, y, solver="bfgs")
    with pytest.raises(ValueError, match="learning_rates must not be empty"):
        sweep(X, y, learning_rates=[])
    with pytest.raises(ValueError, match="every l2 must be a finite number >= 0"):
        sweep(X, y, l2s=[-1.0])
    with pytest.raises(ValueError, match="every learning rate must be a number > 0"):
        sweep(X, y, learning_rates=[0.0])
    with pytest.raises(ValueError, match="solver 'newton' needs a convex binary loss"):
        sweep(X, y, solver="newton", loss="mse")
