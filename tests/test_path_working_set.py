"""The working-set path (fitting/path_working_set.py) against the compiled all-features
path and float64 NumPy references: the same points, exact zeros, a growing working
set, padding, penalty factors, weights, float32 and the iteration budget."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SEED

import jaxlogloss as jl
import jaxlogloss.fitting.path_working_set as ws
from jaxlogloss.fitting import path as compiled
from jaxlogloss.fitting.host_scaling import scaling_of
from jaxlogloss.fitting.path_data import prepare_data
from jaxlogloss.model.objective import Problem

N, D = 400, 24  # |W| stays <= D / 2 on the first points: gathered, padded blocks


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng([SEED, 31])
    X = rng.normal(size=(N, D)) * rng.uniform(0.5, 3.0, size=D) + rng.normal(size=D)
    w = np.zeros(D)
    w[:4] = [1.0, -0.8, 0.5, 0.3]
    y = (rng.random(N) < 1 / (1 + np.exp(-(X @ w / 2 + 0.3)))).astype(np.float64)
    sw = rng.uniform(0.5, 2.0, size=N)
    return X, y, sw


def both_paths(X, y, sw, grid, ratio, factor, screening=True, max_iter=100):
    """(working set, compiled solve_path) outputs on the same prepared data."""
    data = prepare_data("t", X, y, sample_weight=sw)
    scaling = scaling_of(data.X, data.sample_weight)
    theta0 = compiled.start_point(data)
    out = ws.working_set_path(
        data.X.xt, data.targets, data.sample_weight, scaling,
        np.asarray(theta0, np.float64), grid, ratio, factor, 1e-10, max_iter,
        screening,
    )  # fmt: skip
    problem = Problem(data.X, data.targets, data.sample_weight, 0.0)
    _, _, ref = compiled.compiled_path(
        problem, scaling, theta0, jnp.asarray(grid), jnp.asarray(ratio),
        jnp.asarray(factor), jnp.asarray(1e-10), 100,
    )  # fmt: skip
    return out, ref


def numpy_objective(X, y, sw, w, b, alpha, r, f):
    z = X @ w + b
    loss = np.sum(sw * (np.logaddexp(0, z) - y * z)) / np.sum(sw)
    return loss + alpha * np.sum(f * (r * np.abs(w) + 0.5 * (1 - r) * w * w))


@pytest.mark.parametrize("ratio", [1.0, 0.5])
@pytest.mark.parametrize("screening", [True, False])
def test_equals_the_compiled_path(x64, data, ratio, screening):
    X, y, sw = data
    factor = np.ones(D)
    factor[5] = 0.0  # a free feature: always in the working set
    factor[6] = 3.0
    top = jl.fit_path(X, y, penalty="elasticnet", l1_ratio=ratio, sample_weight=sw,
                      penalty_factor=factor, n_alphas=1).alphas[0]  # fmt: skip
    grid = top * np.logspace(0, -2.5, 8)
    out, ref = both_paths(X, y, sw, grid, ratio, factor, screening)
    np.testing.assert_array_equal(out["status"], 1)
    np.testing.assert_allclose(out["value"], np.asarray(ref.value), rtol=1e-12)
    np.testing.assert_allclose(out["theta"], np.asarray(ref.theta), atol=1e-7)
    np.testing.assert_array_equal(out["theta"] == 0, np.asarray(ref.theta) == 0)
    assert np.all(out["kkt"] <= 1e-10)
    # F by hand in NumPy at every point, on the raw coefficients
    data = prepare_data("t", X, y, sample_weight=sw)
    mean, scale = (np.asarray(a) for a in scaling_of(data.X, data.sample_weight))
    w = out["theta"][:, :D] / scale
    b = out["theta"][:, D] - w @ mean
    for k, alpha in enumerate(grid):
        f = numpy_objective(X, y, sw, w[k], b[k], alpha, ratio, factor)
        assert out["value"][k] == pytest.approx(f, rel=1e-12)


def test_a_long_jump_grows_the_working_set(x64, data, monkeypatch):
    """From alpha_max straight to 1e-3 of it, features the warm start does not flag
    violate their KKT condition at the restricted solution: they join W and the
    point still meets the rule on every feature."""
    X, y, sw = data
    blocks = []  # |W| of each restricted solve
    real = ws._Restricted.solve

    def spy(self, block, *args):
        blocks.append(block.k)
        return real(self, block, *args)

    monkeypatch.setattr(ws._Restricted, "solve", spy)
    top = jl.fit_path(X, y, penalty="l1", sample_weight=sw, n_alphas=1).alphas[0]
    grid = np.array([top, 0.05 * top])
    out, ref = both_paths(X, y, sw, grid, 1.0, np.ones(D), screening=False)
    assert len(blocks) > 2 and blocks[-1] > blocks[1]  # W grew within the point
    np.testing.assert_allclose(out["value"], np.asarray(ref.value), rtol=1e-12)
    assert out["kkt"][-1] <= 1e-10 and out["status"][-1] == 1


def test_block_gradient_and_hessian_on_padded_rows(x64, data):
    """A block of k = 3 gathered rows padded to 8 gives the k features' gradient and
    Hessian over theta as float64 NumPy does (padding contributes nothing)."""
    X, y, sw = data
    rng = np.random.default_rng(SEED)
    feats = np.array([2, 7, 11])
    mean, scale = X.mean(0), X.std(0)
    xt = jnp.asarray(X.T)
    block = ws._Block(xt, feats, mean, scale)
    assert block.size == ws.MIN_BLOCK and not block.full and block.k == 3
    theta_w = rng.normal(size=4) * 0.3
    c = sw / sw.sum()
    padded = np.zeros(block.size + 1)
    padded[block.slots] = theta_w
    grad, z = ws.block_gradient(
        block.rows, jnp.asarray(y), jnp.asarray(c), *block.scaling, padded
    )  # fmt: skip
    grad_w, z_w = block.gradient(jnp.asarray(y), jnp.asarray(c), theta_w)
    np.testing.assert_array_equal(grad_w, np.asarray(grad)[block.slots])
    np.testing.assert_array_equal(np.asarray(z_w), np.asarray(z))
    xs = np.column_stack([(X[:, feats] - mean[feats]) / scale[feats], np.ones(N)])
    zz = xs @ theta_w
    p = 1 / (1 + np.exp(-zz))
    np.testing.assert_allclose(np.asarray(z), zz, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        np.asarray(grad)[block.slots], xs.T @ (c * (p - y)), rtol=1e-10, atol=1e-14
    )
    np.testing.assert_array_equal(np.delete(np.asarray(grad), block.slots), 0)
    hess = block.hessian(jnp.asarray(c), z)
    expected = (xs * (c * p * (1 - p))[:, None]).T @ xs
    np.testing.assert_allclose(hess, expected, rtol=2e-5, atol=1e-8)
    loss = float(ws.block_loss(z, jnp.asarray(y), jnp.asarray(c)))
    assert loss == pytest.approx(np.sum(c * (np.logaddexp(0, zz) - y * zz)), rel=1e-12)


def test_float32_path_matches_float64(data):
    X, y, sw = data
    p32 = jl.fit_path(X, y, penalty="l1", sample_weight=sw, n_alphas=6,
                      alpha_min_ratio=1e-2, dtype="float32")  # fmt: skip
    with jl.enable_x64():
        p64 = jl.fit_path(X, y, penalty="l1", sample_weight=sw, alphas=p32.alphas)
    assert set(p32.status) == {"converged"}
    np.testing.assert_allclose(p32.objective, p64.objective, rtol=1e-5)
    np.testing.assert_allclose(p32.coef, p64.coef, atol=2e-3)


def test_iteration_budget_gives_max_iter(x64, data):
    X, y, sw = data
    res = jl.fit_path(X, y, penalty="l1", sample_weight=sw, n_alphas=4,
                      alpha_min_ratio=1e-2, max_iter=1)  # fmt: skip
    assert res.status[0] == "converged"  # alpha_max: the start is the solution
    assert "max_iter" in set(res.status[1:])
    assert np.all(res.n_iter <= 1)


def test_gradient_at_logits_equals_numpy(x64, data):
    """The checking pass: the full gradient over theta and the loss from given logits,
    as float64 NumPy computes them."""
    X, y, sw = data
    rng = np.random.default_rng(SEED + 1)
    mean, scale = X.mean(0), X.std(0)
    theta = rng.normal(size=D + 1) * 0.2
    xs = np.column_stack([(X - mean) / scale, np.ones(N)])
    z = xs @ theta
    c = sw / sw.sum()
    grad, loss = ws.gradient_at_logits(
        jnp.asarray(X.T), jnp.asarray(y), jnp.asarray(c), jnp.asarray(mean),
        jnp.asarray(scale), jnp.asarray(z),
    )  # fmt: skip
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(grad, xs.T @ (c * (p - y)), rtol=1e-10, atol=1e-14)
    assert float(loss) == pytest.approx(
        np.sum(c * (np.logaddexp(0, z) - y * z)), rel=1e-12
    )


def test_pad_working_set_takes_the_features_nearest_to_entering():
    """W (the intercept, features 0 and 3) widened to 5 features by the largest
    |g_j| / lam_j off it; a free coordinate (lam 0) is never ranked (it is on W)."""
    on = np.zeros(8, bool)
    on[[0, 3, 7]] = True  # feature 0, feature 3, the intercept (index d = 7)
    g = np.array([0.9, 0.1, 0.5, 0.0, 0.3, 0.2, 0.05, 0.4])
    lam = np.array([1.0, 1.0, 1.0, 1.0, 0.5, 2.0, 0.01, 0.0])
    ws.pad_working_set(on, g, lam, 5)
    # ratios off W: 0.1, 0.5, 0.6, 0.1, 5.0 for features 1, 2, 4, 5, 6
    np.testing.assert_array_equal(np.flatnonzero(on), [0, 2, 3, 4, 6, 7])
    full = on.copy()
    ws.pad_working_set(full, g, lam, 4)  # already wider than 4: unchanged
    np.testing.assert_array_equal(full, on)
    ws.pad_working_set(full, g, lam, 64)  # capped at d
    assert full.all()


def test_gathered_blocks_hold_real_features(x64, data, monkeypatch):
    """Every gathered block's rows are features (none zero-padded) and a point whose
    W fits in the last block reuses it: fewer blocks than points."""
    X, y, sw = data
    made = []
    real = ws._Block.__init__

    def spy(self, xt, feats, mean, scale):
        real(self, xt, feats, mean, scale)
        made.append((self.k, self.size, self.full))

    monkeypatch.setattr(ws._Block, "__init__", spy)
    top = jl.fit_path(X, y, penalty="l1", sample_weight=sw, n_alphas=1).alphas[0]
    grid = top * np.logspace(0, -1.2, 12)
    made.clear()
    out, ref = both_paths(X, y, sw, grid, 1.0, np.ones(D))
    gathered = [(k, size) for k, size, full in made if not full]
    assert gathered and all(k == size for k, size in gathered)
    assert len(made) < len(grid)
    np.testing.assert_allclose(out["value"], np.asarray(ref.value), rtol=1e-12)
    assert np.all(out["kkt"] <= 1e-10)


def test_second_order_ratio_scales_the_miss_by_the_squared_step():
    grid = np.array([1.0, 0.5, 0.25, 0.0625])  # log-steps: log 2, log 2, log 4
    assert ws.second_order_ratio(grid, 0) == 0.0
    assert ws.second_order_ratio(grid, 1) == 0.0
    assert ws.second_order_ratio(grid, 2) == pytest.approx(1.0)
    assert ws.second_order_ratio(grid, 3) == pytest.approx(4.0)
    repeated = np.array([1.0, 0.5, 0.5, 0.25])  # no step before point 3: no scale
    assert ws.second_order_ratio(repeated, 3) == 0.0


def _smooth_path(X, y, sw, grid):
    """The pure-L2 working-set path (no L1 part: the carried correction applies)."""
    data = prepare_data("t", X, y, sample_weight=sw)
    scaling = scaling_of(data.X, data.sample_weight)
    theta0 = np.asarray(compiled.start_point(data), np.float64)
    return ws.working_set_path(
        data.X.xt, data.targets, data.sample_weight, scaling, theta0, grid, 0.0,
        np.ones(X.shape[1]), 1e-10, 100, True,
    )  # fmt: skip


@pytest.mark.parametrize("ratio", [None, 1e6])
def test_carried_miss_reaches_the_same_points(x64, data, monkeypatch, ratio):
    """A pure-L2 grid: each point's first Newton step plus the last point's miss (the
    default, None) reaches the points the plain Newton steps reach (ratio 0: no
    guess); a wild guess (ratio 1e6) does not shrink the violation, is refused and
    the plain step is taken: the same steps as without a guess."""
    X, y, sw = data
    grid = np.logspace(0, -4, 60)
    guesses = []
    gradient = ws._Block.gradient
    monkeypatch.setattr(  # count the passes: a refused guess costs one more
        ws._Block, "gradient", lambda self, *a: guesses.append(1) or gradient(self, *a)
    )
    if ratio is not None:
        monkeypatch.setattr(ws, "second_order_ratio", lambda grid, k: ratio)
    out = _smooth_path(X, y, sw, grid)
    passes = len(guesses)
    monkeypatch.setattr(ws, "second_order_ratio", lambda grid, k: 0.0)
    plain = _smooth_path(X, y, sw, grid)
    plain_passes = len(guesses) - passes
    np.testing.assert_array_equal(out["status"], 1)
    assert np.all(out["kkt"] <= 1e-10)
    np.testing.assert_allclose(out["theta"], plain["theta"], atol=1e-8)
    np.testing.assert_allclose(out["value"], plain["value"], rtol=1e-12)
    if ratio == 1e6:  # guesses tried (at most one a point after the first), each
        np.testing.assert_array_equal(out["n_iter"], plain["n_iter"])  # refused:
        assert plain_passes < passes <= plain_passes + len(grid) - 1  # a pass each
    else:
        assert plain_passes == plain["n_iter"].sum()  # ratio 0: no guess, no pass


def test_carried_miss_saves_steps_on_a_dense_grid(x64, monkeypatch):
    """The 256-strength L2 path of ``benchmarks/fit_speed.py``'s sweep (20,000 x 20,
    fixed data): 406 steps against 497 without the carried miss when written; at
    least 10% fewer, the same coefficients to the path's tolerance."""
    from jaxlogloss.bench import make_data

    X, y = make_data(20_000, 20, seed=1)
    X, y = X.astype(np.float64), y.astype(np.float64)
    grid = list(np.logspace(-6, 0, 256)[::-1])
    out = jl.fit_path(X, y, penalty="l2", alphas=grid)
    monkeypatch.setattr(ws, "second_order_ratio", lambda grid, k: 0.0)
    plain = jl.fit_path(X, y, penalty="l2", alphas=grid)
    assert set(out.status) == {"converged"} and np.all(out.kkt <= 1e-8)
    assert out.n_iter.sum() < 0.9 * plain.n_iter.sum()
    np.testing.assert_allclose(out.coef, plain.coef, atol=1e-6)
