"""Host buffers handed to XLA without copies, and fit's row-major input path."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlogloss as jl
from jaxlogloss.data import host
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.model.scaling import feature_moments
from jaxlogloss.precision import enable_x64


@pytest.mark.parametrize("shape", [(3, 2), (700, 1000)])  # plain and huge-page memory
def test_aligned_empty_is_aligned_and_writable(shape):
    a = host.aligned_empty(shape, np.float32)
    assert a.shape == shape and a.dtype == np.float32
    assert a.ctypes.data % host.ALIGN == 0 and a.flags.c_contiguous
    a[...] = 1.5
    assert float(a.sum()) == 1.5 * a.size


def test_to_jax_shares_an_aligned_array_without_a_copy():
    a = host.aligned_empty((1000, 7), np.float32)
    a[...] = np.arange(7000, dtype=np.float32).reshape(1000, 7)
    j = host.to_jax(a, np.float32)
    assert j.unsafe_buffer_pointer() == a.ctypes.data
    np.testing.assert_array_equal(np.asarray(j), a)


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.standard_normal((3000, 5)).astype(np.float32)[:, ::2],  # strided
        lambda r: r.standard_normal((3000, 5)),  # float64 -> float32 cast
        lambda r: np.asarray(r.standard_normal((9000, 500)), np.float32),  # parallel
        # a transposed row-major X (tiles of TILE_COLUMNS; n not a multiple), cast
        lambda r: r.standard_normal((2 * host.TILE_COLUMNS + 77, 1100)).T,
        lambda r: np.asarray(r.standard_normal((9001, 480)), np.float32).T,
    ],
)
def test_to_jax_copies_when_it_must(rng, make):
    x = make(rng)
    x.flags.writeable = False  # a read-only array cannot be exported: copied
    j = host.to_jax(x, np.float32)
    chex.assert_shape(j, x.shape)
    assert j.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(j), x.astype(np.float32))


@pytest.mark.parametrize("weighted", [False, True])
def test_row_major_moments_match_float64_numpy(rng, x64, weighted):
    n, d = 20_011, 6  # not a multiple of the block
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 10, d) + rng.normal(0, 50, d)
    c = rng.uniform(0, 2, n) if weighted else np.ones(n)
    mean = c @ X / c.sum()
    var = c @ (X - mean) ** 2 / c.sum()
    u = rng.standard_normal(n)  # a first moment X^T u from the same pass
    for design in (jnp.asarray(X), FeatureMajor(jnp.asarray(X.T))):
        sw = None if not weighted else jnp.asarray(c)
        m, v = feature_moments(design, sw, 4096)
        np.testing.assert_allclose(m, mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(v, var, rtol=1e-10)
        m2, v2, xtu = feature_moments(design, sw, 4096, moment=jnp.asarray(u))
        np.testing.assert_array_equal(m2, m)
        np.testing.assert_array_equal(v2, v)
        chex.assert_shape(xtu, (d,))
        np.testing.assert_allclose(xtu, u @ X, rtol=1e-11, atol=1e-11 * np.abs(X).sum())


@pytest.mark.parametrize("layout", ["row_major", "feature_major"])
@pytest.mark.parametrize("case", ["trend", "far", "empty-blocks", "constant"])
def test_one_pass_moments_are_exact(rng, x64, case, layout):
    """The blocks' combined moments (one pass, row- or feature-major blocks) equal
    NumPy's two-pass float64 ones where a one-pass sum of squares would cancel: a
    mean 1e6 times the spread, a trend that moves each block's mean, blocks of
    weight 0, a constant column."""
    n, d, block = 9_001, 4, 1000
    X = rng.standard_normal((n, d))
    c = rng.uniform(0.5, 2, n)
    if case == "trend":
        X += np.linspace(-500, 500, n)[:, None]
    elif case == "far":
        X = X * 1e-3 + 1e3
    elif case == "empty-blocks":
        c[:2500] = 0.0
        c[6000:7100] = 0.0
    else:
        X[:, 1] = 4.0
    mean = c @ X / c.sum()
    var = c @ (X - mean) ** 2 / c.sum()
    design = jnp.asarray(X) if layout == "row_major" else FeatureMajor(jnp.asarray(X.T))
    m, v = jax.jit(lambda X, c: feature_moments(X, c, block))(design, c)
    # a mean near 0 is judged on its column's magnitude (both sums round at it)
    np.testing.assert_allclose(m, mean, rtol=1e-13, atol=1e-13 * np.abs(X).max())
    # a constant column's variance is rounding on both sides: at most (100 eps |x|)^2,
    # where feature scaling calls a column constant (model.scaling.CONSTANT_SPREAD)
    spread = (100 * np.finfo(np.float64).eps * np.abs(X).max()) ** 2
    np.testing.assert_allclose(v, var, rtol=1e-10, atol=spread)
    if case == "constant":
        assert v[1] <= spread


def test_fit_of_numpy_equals_fit_of_feature_major(rng):
    n, d = 3000, 4
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ np.arange(1.0, d + 1)))).astype(float)
    rows = jl.fit(X, y)
    cols = jl.fit(FeatureMajor(np.ascontiguousarray(X.T)), y)
    np.testing.assert_allclose(rows.coef, cols.coef, rtol=1e-8)
    np.testing.assert_allclose(
        rows.inference.std_err, cols.inference.std_err, rtol=1e-8
    )


@pytest.mark.parametrize("order", ["C", "F"])
def test_first_order_fit_of_numpy_equals_fit_of_a_jax_array(rng, order):
    """A first-order fit reads X feature-major: a NumPy X goes there by the host's
    tiled copy (a C-order X is a transposed source), a jax X by XLA's transpose; the
    fits are the same."""
    n, d = 3000, 4
    X = np.asarray(rng.standard_normal((n, d)), order=order)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ np.arange(1.0, d + 1)))).astype(float)
    kw = dict(solver="adam", learning_rate=0.05, max_iter=50)
    host_copy = jl.fit(X, y, **kw)
    with enable_x64():
        device = jl.fit(jnp.asarray(X), y, **kw)
    np.testing.assert_allclose(host_copy.coef, device.coef, rtol=1e-12)


@pytest.mark.parametrize(
    "n, d, dtype, threads",
    [
        (2 * host.TILE_COLUMNS + 77, 9, np.float64, False),  # n not a tile multiple
        (1, 4, np.float64, False),  # one row: variance 0
        (31_000, 70, np.float64, True),  # over PARALLEL_MIN_BYTES: the thread pool
        (62_000, 70, np.float32, True),  # cast: the moments of the float32 values
    ],
)
def test_transposed_copy_and_its_moments_match_numpy(rng, n, d, dtype, threads):
    spread = rng.uniform(0.01, 10, d)
    # large means (the rows summed again about their mean), a constant feature,
    # a zero feature and an integer-valued one
    offset = rng.choice([0.0, 3.0, -40.0, 1e6, 1e9], d)
    X = rng.standard_normal((n, d)) * spread + offset
    X[:, 0], X[:, 1], X[:, 2] = 7.25, 0.0, np.round(X[:, 2])
    out, moments = host.transposed_copy(X, dtype)
    assert (out.nbytes >= host.PARALLEL_MIN_BYTES) == threads
    assert out.dtype == dtype and out.flags.c_contiguous
    assert out.ctypes.data % host.ALIGN == 0
    np.testing.assert_array_equal(out, X.T.astype(dtype))
    # the cast values' moments, in extended precision (a float64 mean of 1e9 is
    # off by ~30 ulps, 4e-6: a 2e-9 relative error in a variance of 0.008)
    ref = X.T.astype(dtype).astype(np.longdouble)
    mean = ref.mean(axis=1)
    var = np.asarray(np.mean((ref - mean[:, None]) ** 2, axis=1), np.float64)
    mean = np.asarray(mean, np.float64)
    assert moments.count == n
    np.testing.assert_allclose(moments.mean, mean, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(moments.var, var, rtol=1e-10, atol=1e-300)
    assert moments.var[0] == 0.0 and moments.var[1] == 0.0


def test_transposed_copy_reports_non_finite_entries_in_its_moments(rng):
    X = rng.standard_normal((5000, 4))
    X[17, 1], X[4000, 3] = np.nan, -np.inf
    _, moments = host.transposed_copy(X, np.float64)
    finite = np.isfinite(moments.mean) & np.isfinite(moments.var)
    np.testing.assert_array_equal(finite, [True, False, True, False])


def test_feature_major_moments_off_the_cpu_take_two_reductions(rng, x64, monkeypatch):
    """A feature-major X on an accelerator keeps the two whole-X reductions (the
    branch is chosen by the default backend at trace time; here a patched one): the
    same moments as the blocked pass."""
    n, d = 5_003, 3
    X = rng.standard_normal((n, d)) * 2 + 7
    c = rng.uniform(0.5, 2, n)
    mean = c @ X / c.sum()
    var = c @ (X - mean) ** 2 / c.sum()
    design = FeatureMajor(jnp.asarray(X.T))
    u = rng.standard_normal(n)

    def moments(X, c):
        return feature_moments(X, c, 1000, moment=u)

    def loops() -> bool:  # whether the traced moments loop over blocks
        text = str(jax.make_jaxpr(lambda *a: moments(*a))(design, c))  # fresh trace
        return "while" in text or "scan" in text

    assert loops()
    blocked = jax.jit(moments)(design, c)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert not loops()
    two = jax.jit(lambda *a: moments(*a))(design, c)  # traced under the patch
    for got in (blocked, two):
        np.testing.assert_allclose(got[0], mean, rtol=1e-13)
        np.testing.assert_allclose(got[1], var, rtol=1e-11)
        np.testing.assert_allclose(got[2], u @ X, rtol=1e-12, atol=1e-12 * n)


def _blas_threads() -> set[int]:
    from threadpoolctl import threadpool_info

    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_blas_on_one_thread_nests_and_restores():
    """BLAS runs on one thread inside the block, nested blocks (and run_parallel's
    own, in the same thread) do not deadlock, and the limit is restored on exit,
    also after an exception."""
    before = _blas_threads()
    if not before:
        pytest.skip("no BLAS library that threadpoolctl controls")
    with host.blas_on_one_thread():
        assert _blas_threads() == {1}
        with host.blas_on_one_thread():
            host.run_parallel(lambda w: None, 2, one_blas_thread=True)
            assert _blas_threads() == {1}
        assert _blas_threads() == {1}
    assert _blas_threads() == before
    with pytest.raises(ZeroDivisionError), host.blas_on_one_thread():
        1 / 0  # noqa: B018
    assert _blas_threads() == before


def test_a_blas_block_outside_the_main_thread_changes_nothing():
    """OpenBLAS takes a new thread count from the main thread only: another thread's
    block neither waits for the main thread's nor sets or restores the limit."""
    import threading

    before = _blas_threads()
    if not before:
        pytest.skip("no BLAS library that threadpoolctl controls")
    entered, leave, seen = threading.Event(), threading.Event(), []

    def hold():
        with host.blas_on_one_thread():
            seen.append(_blas_threads())
            entered.set()
            leave.wait(10)

    other = threading.Thread(target=hold)
    other.start()
    assert entered.wait(10) and seen == [before]  # not limited by its own block
    with host.blas_on_one_thread():  # opened while the other is open
        assert _blas_threads() == {1}
    assert _blas_threads() == before  # restored by the main thread's block
    leave.set()
    other.join(10)
    assert not other.is_alive() and _blas_threads() == before


def test_paths_and_cv_run_their_host_loops_on_one_blas_thread(monkeypatch):
    """fit_path's and cv's host loops (small NumPy algebra between XLA's passes) run
    with BLAS on one thread, and the caller's setting is back afterwards."""
    from jaxlogloss.fitting import cv_lockstep, path_working_set

    before = _blas_threads()
    if not before:
        pytest.skip("no BLAS library that threadpoolctl controls")
    seen = []

    def spy(real):
        def wrapped(*args, **kwargs):
            seen.append(_blas_threads())
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(
        path_working_set, "model_step", spy(path_working_set.model_step)
    )
    monkeypatch.setattr(cv_lockstep, "model_step", spy(cv_lockstep.model_step))
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + rng.normal(size=120) > 0).astype(float)
    jl.fit_path(X, y, penalty="l1", n_alphas=4)
    jl.cv(X, y, penalty="l1", n_alphas=4, folds=3, refit=False)
    assert seen and all(s == {1} for s in seen)
    assert _blas_threads() == before
