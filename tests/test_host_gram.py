"""The centred Gram on the host's BLAS (jaxlogloss.data.host_gram) and the host loop's
Hessians from it (jaxlogloss.fitting.host_curvature): equal to a float64 NumPy
reference and to the compiled curvature program, on every layout of X."""

from __future__ import annotations

import os

import chex
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import logistic_data
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlogloss as jl
from jaxlogloss.data.design import FeatureMajor, host_view
from jaxlogloss.data.host import in_place_design
from jaxlogloss.data.host_gram import host_centered_gram
from jaxlogloss.fitting import host_curvature as hc
from jaxlogloss.fitting import host_loop
from jaxlogloss.precision import enable_x64


def _reference(x, h, mean, scale, u=None):
    """The sums in float64 from their definitions (X as (n, d))."""
    x = np.asarray(x, np.float64)
    xs = (x - mean) / scale
    gram = (xs * h[:, None]).T @ xs
    sums = h @ xs
    moment = None if u is None else u @ x
    return gram, sums, h.sum(), moment


def _inputs(n, d, seed, negative=False, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d) + rng.normal(0, 5, d)
    h = rng.uniform(0, 1, n) if not negative else rng.normal(0, 1, n)
    mean = x.mean(axis=0) if n else np.zeros(d)
    scale = rng.uniform(0.5, 2.0, d)
    return x.astype(dtype), h, mean, scale, rng.standard_normal(n)


@pytest.mark.parametrize("feature_major", [True, False], ids=["feature", "row"])
@pytest.mark.parametrize("negative", [False, True], ids=["sqrt", "general"])
@pytest.mark.parametrize("block_rows", [7, 64, 8192])
def test_host_gram_equals_the_float64_reference(feature_major, negative, block_rows):
    x, h, mean, scale, u = _inputs(203, 5, 0, negative)
    view = np.ascontiguousarray(x.T) if feature_major else x
    out = host_centered_gram(
        view, feature_major, h, mean, scale, u, block_rows=block_rows
    )
    gram, sums, total, moment = _reference(x, h, mean, scale, u)
    chex.assert_shape(out.gram, (5, 5))
    chex.assert_shape(out.sums, (5,))
    np.testing.assert_allclose(out.gram, gram, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.sums, sums, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(out.total, total, rtol=1e-13)
    np.testing.assert_allclose(out.moment, moment, rtol=1e-12, atol=1e-10)
    np.testing.assert_array_equal(out.gram, out.gram.T)
    assert host_centered_gram(view, feature_major, h, mean, scale).moment is None


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40), d=st.integers(1, 6), block=st.integers(1, 50),
    seed=st.integers(0, 2**16), feature_major=st.booleans(),
)  # fmt: skip
def test_host_gram_any_shape_and_block(n, d, block, seed, feature_major):
    """Every row counted once, whatever the block size and the ragged last block."""
    x, h, mean, scale, u = _inputs(n, d, seed)
    view = np.ascontiguousarray(x.T) if feature_major else x
    out = host_centered_gram(view, feature_major, h, mean, scale, u, block_rows=block)
    gram, sums, total, moment = _reference(x, h, mean, scale, u)
    np.testing.assert_allclose(out.gram, gram, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.sums, sums, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.moment, moment, rtol=1e-10, atol=1e-9)
    assert out.total == pytest.approx(total, rel=1e-12)


def test_host_gram_float32_products_and_strided_views():
    """float32 block products (a solver's model) stay within ~1e-6 of the exact sums;
    a float32 X is centred in float64 and rounded (XLA's rule); a non-contiguous view
    is read as it lies; no rows gives zeros."""
    x, h, mean, scale, u = _inputs(5000, 8, 3, dtype=np.float32)
    gram, sums, total, _ = _reference(x, h, mean, scale)
    low = host_centered_gram(x, False, h, mean, scale, product_dtype=np.float32)
    assert low.gram.dtype == np.float64
    np.testing.assert_allclose(
        low.gram, gram, rtol=2e-6, atol=2e-6 * np.abs(gram).max()
    )
    np.testing.assert_allclose(low.sums, sums, atol=1e-5 * np.abs(x).max() * h.sum())
    exact = host_centered_gram(x, False, h, mean, scale)
    np.testing.assert_allclose(exact.gram, gram, rtol=1e-12)
    wide = np.zeros((5000, 16), np.float32)
    wide[:, ::2] = x
    strided = host_centered_gram(wide[:, ::2], False, h, mean, scale, block_rows=999)
    np.testing.assert_allclose(strided.gram, gram, rtol=1e-12)
    empty = host_centered_gram(
        np.zeros((0, 3)), False, np.zeros(0), np.zeros(3), np.ones(3)
    )
    np.testing.assert_array_equal(empty.gram, np.zeros((3, 3)))
    assert empty.total == 0.0


@pytest.mark.parametrize("feature_major", [True, False], ids=["feature", "row"])
def test_host_gram_model_is_the_same_for_float32_and_float64_storage(feature_major):
    """A solver's model (float32 products) from a float32 X equals the one from its
    float64 copy bit for bit: a fit does not depend on how X was stored."""
    x, h, mean, scale, u = _inputs(3000, 6, 9, dtype=np.float32)
    view = np.ascontiguousarray(x.T) if feature_major else x
    a = host_centered_gram(view, feature_major, h, mean, scale, u, np.float32, 512)
    wide = view.astype(np.float64)
    b = host_centered_gram(wide, feature_major, h, mean, scale, u, np.float32, 512)
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)


def test_host_gram_bad_shapes_name_the_argument():
    x, h, mean, scale, _ = _inputs(10, 3, 0)
    with pytest.raises(ValueError, match="h must have shape"):
        host_centered_gram(x, False, h[:-1], mean, scale)
    with pytest.raises(ValueError, match="mean"):
        host_centered_gram(x, True, h, mean, scale)  # (10, 3) read as (d, n)
    with pytest.raises(ValueError, match="x must be 2-D"):
        host_centered_gram(x[0], False, h, mean, scale)


def _objective(X, y, mean, sample_weight=None, l2=0.0):
    """An in-memory objective over the design X, centred at ``mean``, with scales."""
    from jaxlogloss.model.objective import Problem
    from jaxlogloss.model.objectives import InMemoryObjective
    from jaxlogloss.model.scaling import Scaling

    d = X.shape[1]
    scale = np.random.default_rng(5).uniform(0.5, 2, d)
    scaling = Scaling(jnp.asarray(mean), jnp.asarray(scale, jnp.asarray(mean).dtype))
    sw = None if sample_weight is None else jnp.asarray(sample_weight)
    problem = Problem(X, jnp.asarray(y), sw, jnp.asarray(l2, jnp.asarray(y).dtype))
    return InMemoryObjective(problem, scaling)


@pytest.mark.parametrize(
    "layout", ["row", "feature", "rows_in_place", "columns_in_place"]
)  # fmt: skip
@pytest.mark.parametrize("weights_l2", [False, True], ids=["plain", "weights-l2"])
def test_host_curvature_equals_the_compiled_program(layout, weights_l2):
    """The Hessian, total weight and statistics' sums on the host equal the compiled
    curvature program's (exact products), and float32 products stay within 1e-6."""
    n, d = (
        4096,
        6,
    )  # 192 KB: in place from 16 MB up, so the in-place layouts' n is larger
    if layout.endswith("in_place"):
        n = (1 << 24) // (8 * d) + 64
    X, y = logistic_data(n, d, 11)
    with enable_x64():
        if layout == "row":
            design = jnp.asarray(X)
        elif layout == "feature":
            design = FeatureMajor(jnp.asarray(np.ascontiguousarray(X.T)))
        else:
            arr = np.asarray(X, order="C" if layout == "rows_in_place" else "F")
            design = in_place_design(arr)
            assert design is not None and type(design).__name__.startswith(
                "Rows" if layout == "rows_in_place" else "Columns"
            )
        rng = np.random.default_rng(2)
        sw = rng.uniform(0.2, 3.0, n) if weights_l2 else None
        obj = _objective(design, y, X.mean(axis=0), sw, 0.3 if weights_l2 else 0.0)
        theta = jnp.asarray(rng.normal(0, 0.3, d + 1))
        z = host_loop.evaluate(obj, theta)[3]
        assert hc.uses_host_gram(obj, z)
        assert not hc.uses_host_gram(obj, None)
        for with_sums in (True, False):
            flag = np.bool_(with_sums)
            ref = host_loop.curvature(obj, theta, z, flag, np.bool_(False))
            got = hc.host_curvature(obj, theta, z, flag, np.bool_(False))
            chex.assert_shape(got[0], (d + 1, d + 1))
            assert got[0].dtype == np.float64
            np.testing.assert_allclose(
                got[0], np.asarray(ref[0]), rtol=1e-11, atol=1e-14
            )
            assert float(got[1]) == pytest.approx(float(ref[1]), rel=1e-13)
            if with_sums:
                for a, b in zip(got[2], ref[2], strict=True):
                    np.testing.assert_allclose(a, np.asarray(b), rtol=1e-10, atol=1e-12)
            else:
                assert got[2] is None
        low = hc.host_curvature(obj, theta, z, np.bool_(False), np.bool_(True))[0]
        exact = np.asarray(ref[0])
        np.testing.assert_allclose(
            low, exact, rtol=1e-5, atol=1e-6 * np.abs(exact).max()
        )


def test_host_curvature_float32_objective():
    """A float32 fit's Gram is formed on the host too: float32 products summed in
    float64, returned in float32, within float32's rounding (1e-6 of its largest
    entry) of the float64 Hessian of the same values, as the compiled program is."""
    X, y = logistic_data(3000, 4, 7)
    X32 = X.astype(np.float32)
    obj = _objective(jnp.asarray(X32), y.astype(np.float32), X32.mean(axis=0))
    theta = jnp.asarray(np.array([0.1, -0.2, 0.3, 0.0, 0.05], np.float32))
    z = host_loop.evaluate(obj, theta)[3]
    assert hc.uses_host_gram(obj, z)
    got = hc.host_curvature(obj, theta, z, np.bool_(True), np.bool_(False))
    ref = host_loop.curvature(obj, theta, z, np.bool_(True), np.bool_(False))
    assert got[0].dtype == np.float32
    np.testing.assert_allclose(got[0], np.asarray(ref[0]), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(got[2][4], np.asarray(ref[2][4]), rtol=1e-4, atol=1e-3)
    with enable_x64():
        wide = _objective(
            jnp.asarray(X32, jnp.float64), y, X32.mean(axis=0).astype(np.float64)
        )
        theta64 = jnp.asarray(np.asarray(theta, np.float64))
        z64 = host_loop.evaluate(wide, theta64)[3]
        exact = np.asarray(
            host_loop.curvature(wide, theta64, z64, np.bool_(False), np.bool_(False))[0]
        )
    bound = 1e-6 * np.abs(exact).max()
    assert np.abs(got[0] - exact).max() <= bound
    assert np.abs(np.asarray(ref[0], np.float64) - exact).max() <= bound


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_float32_fits_with_the_host_gram_equal_the_compiled_gram(monkeypatch, solver):
    X, y = logistic_data(3000, 5, 6)
    fits = []
    for limit in (10**12, 0):  # the compiled Gram, then the host's
        monkeypatch.setattr(hc, "HOST_GRAM_MIN_ELEMENTS", limit)
        fits.append(jl.fit(X.astype(np.float32), y, solver=solver, dtype="float32"))
    compiled, host = fits
    assert host.status == compiled.status == "converged"
    np.testing.assert_allclose(host.coef, compiled.coef, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        host.inference.std_err, compiled.inference.std_err, rtol=1e-4
    )


def test_host_curvature_does_not_apply_off_the_host():
    """Not for a multiclass target, a mesh, unknown logits, or where X is below the
    size limit."""
    X, y = logistic_data(100, 3, 1)
    with enable_x64():
        obj = _objective(jnp.asarray(X), y, X.mean(axis=0))
        z = jnp.zeros(100)
        assert hc.uses_host_gram(obj, z)
        multi = obj.problem._replace(targets=jnp.ones((100, 2)))
        assert not hc.uses_host_gram(type(obj)(multi, obj.scaling), z)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(hc, "HOST_GRAM_MIN_ELEMENTS", 10**9)
            assert not hc.uses_host_gram(obj, z)
    view, feature_major = host_view(np.zeros((3, 2)))
    assert view.shape == (3, 2) and not feature_major


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_fits_with_the_host_gram_equal_the_compiled_gram(monkeypatch, solver, order):
    """jl.fit's coefficients and standard errors do not depend on where the Gram is
    formed (float64 X, sample weights, an L2 penalty)."""
    X, y = logistic_data(2000, 5, 4)
    X = np.asarray(X, order=order)
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    fits = []
    for limit in (10**12, 0):  # the compiled Gram, then the host's
        monkeypatch.setattr(hc, "HOST_GRAM_MIN_ELEMENTS", limit)
        fits.append(jl.fit(X, y, solver=solver, sample_weight=sw, l2=0.01))
    compiled, host = fits
    assert host.status == compiled.status == "converged"
    np.testing.assert_allclose(host.coef, compiled.coef, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(
        host.inference.std_err, compiled.inference.std_err, rtol=1e-9
    )
    np.testing.assert_allclose(host.log_loss, compiled.log_loss, rtol=1e-12)
    np.testing.assert_allclose(host.intercept, compiled.intercept, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 60), d=st.integers(1, 5), block=st.integers(1, 20),
    stride=st.integers(2, 9), seed=st.integers(0, 2**16), feature_major=st.booleans(),
)  # fmt: skip
def test_host_gram_row_stride_is_the_scaled_sample(
    n, d, block, stride, seed, feature_major
):
    """row_stride s: the sums over rows 0, s, 2s, ... scaled by sum h / (their sum
    of h), whatever the block size; the total weight stays exact."""
    x, h, mean, scale, _ = _inputs(n, d, seed)
    view = np.ascontiguousarray(x.T) if feature_major else x
    out = host_centered_gram(
        view, feature_major, h, mean, scale, block_rows=block, row_stride=stride
    )
    gram, sums, _, _ = _reference(x[::stride], h[::stride], mean, scale)
    ratio = h.sum() / h[::stride].sum()
    np.testing.assert_allclose(out.gram, gram * ratio, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.sums, sums * ratio, rtol=1e-10, atol=1e-10)
    assert out.total == pytest.approx(h.sum(), rel=1e-12)
    assert out.moment is None


def test_host_gram_row_stride_estimates_the_whole_gram():
    """On rows in no particular order, and on rows sorted by a feature, every 8th
    row's scaled Gram is within a few percent of the whole's (the model's error)."""
    x, h, mean, scale, _ = _inputs(40_000, 4, 21)
    whole = host_centered_gram(x, False, h, mean, scale).gram
    for rows in (x, x[np.argsort(x[:, 0])]):
        est = host_centered_gram(rows, False, h, mean, scale, row_stride=8).gram
        worst = np.abs(est - whole).max() / np.abs(np.diag(whole)).max()
        assert 0 < worst < 0.05


def test_host_gram_row_stride_bad_values():
    x, h, mean, scale, u = _inputs(10, 3, 0)
    for bad in (0, -2):
        with pytest.raises(ValueError, match="row_stride must be >= 1"):
            host_centered_gram(x, False, h, mean, scale, row_stride=bad)
    with pytest.raises(ValueError, match="no u"):
        host_centered_gram(x, False, h, mean, scale, u, row_stride=2)
    with pytest.raises(ValueError, match="h >= 0"):
        host_centered_gram(x, False, h - 2, mean, scale, row_stride=2)


def test_sample_stride_keeps_enough_rows():
    assert hc.sample_stride(100_000, 100) == 1  # below twice the sample: every row
    assert hc.sample_stride(1_000_000, 100) == 7  # >= 131,072 rows kept
    assert hc.sample_stride(1_000_000, 500) == 1  # 1024 x 500 rows needed
    for n, d in ((300_000, 3), (5_000_000, 200), (2_000_000, 40)):
        s = hc.sample_stride(n, d)
        assert -(-n // s) >= max(hc.SAMPLE_MIN_ROWS, hc.SAMPLE_ROWS_PER_FEATURE * d)


def _record_strides(monkeypatch):
    import jaxlogloss.data.host_gram as hg

    strides = []
    real = hg.host_centered_gram

    def recorded(*args, **kwargs):
        strides.append(kwargs.get("row_stride", 1))
        return real(*args, **kwargs)

    monkeypatch.setattr(hc, "host_centered_gram", recorded)
    return strides


@pytest.mark.parametrize("sort", [False, True], ids=["shuffled", "sorted"])
def test_newton_samples_only_its_first_model_from_zero(monkeypatch, sort):
    """A float64 Newton fit from theta = 0 forms its first model Gram from every s-th
    row and every later Hessian (the inference step's included) from all rows; its
    coefficients and standard errors equal those of a fit that samples none."""
    X, y = logistic_data(6000, 4, 8)
    if sort:
        order = np.argsort(X[:, 0])
        X, y = X[order], y[order]
    strides = _record_strides(monkeypatch)
    whole = jl.fit(X, y, solver="newton")
    assert set(strides) == {1}
    strides.clear()
    monkeypatch.setattr(hc, "SAMPLE_MIN_ROWS", 500)
    monkeypatch.setattr(hc, "SAMPLE_ROWS_PER_FEATURE", 1)
    sampled = jl.fit(X, y, solver="newton")
    assert strides[0] == 12 and set(strides[1:]) == {1} and len(strides) >= 3
    assert sampled.status == whole.status == "converged"
    np.testing.assert_allclose(sampled.coef, whole.coef, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(sampled.intercept, whole.intercept, rtol=1e-8)
    np.testing.assert_allclose(
        sampled.inference.std_err, whole.inference.std_err, rtol=1e-7
    )
    strides.clear()  # a start away from zero: no sample
    jl.fit(X, y, solver="newton", init=(np.full(4, 0.1), 0.0))
    assert set(strides) == {1}


@pytest.mark.parametrize("feature_major", [True, False], ids=["feature", "row"])
def test_host_gram_threads_agree_and_restore_blas(monkeypatch, feature_major):
    """The blocks shared among 1, 2 or 3 threads give the same sums (to rounding),
    the same threads bit for bit every call, and BLAS's own thread count is back
    after the call."""
    from threadpoolctl import threadpool_info

    import jaxlogloss.data.host_gram as hg

    x, h, mean, scale, u = _inputs(3001, 7, 12)
    view = np.ascontiguousarray(x.T) if feature_major else x
    before = [lib["num_threads"] for lib in threadpool_info()]
    results = {}
    for threads in (1, 2, 3):
        monkeypatch.setattr(hg, "GRAM_THREADS", threads)
        assert hg.gram_workers(10) == threads and hg.gram_workers(1) == 1
        results[threads] = host_centered_gram(
            view, feature_major, h, mean, scale, u, block_rows=128
        )
        again = host_centered_gram(
            view, feature_major, h, mean, scale, u, block_rows=128
        )
        for a, b in zip(results[threads], again, strict=True):
            np.testing.assert_array_equal(a, b)
    gram, sums, total, moment = _reference(x, h, mean, scale, u)
    for out in results.values():
        np.testing.assert_allclose(out.gram, gram, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out.sums, sums, rtol=1e-12, atol=1e-11)
        np.testing.assert_allclose(out.moment, moment, rtol=1e-12, atol=1e-10)
    assert [lib["num_threads"] for lib in threadpool_info()] == before
    monkeypatch.setattr(hg, "GRAM_THREADS", None)  # the default: one a core
    assert hg.gram_workers(100) == min(os.cpu_count() or 1, 8)


def test_host_grams_in_two_threads_leave_blas_as_it_was(monkeypatch):
    """Fits in several threads each form threaded Grams: every result equals the
    one-thread one, and BLAS's thread count is the same afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    import jaxlogloss.data.host_gram as hg

    monkeypatch.setattr(hg, "GRAM_THREADS", 2)
    x, h, mean, scale, u = _inputs(4000, 6, 13)
    ref = host_centered_gram(x, False, h, mean, scale, u, block_rows=100)
    before = [lib["num_threads"] for lib in threadpool_info()]

    def one(_):
        return host_centered_gram(x, False, h, mean, scale, u, block_rows=100)

    with ThreadPoolExecutor(3) as pool:
        outs = list(pool.map(one, range(12)))
    for out in outs:
        for a, b in zip(out, ref, strict=True):
            np.testing.assert_array_equal(a, b)
    assert [lib["num_threads"] for lib in threadpool_info()] == before


@pytest.mark.filterwarnings("ignore:os.fork")
def test_a_threaded_gram_in_a_child_forked_during_a_gram(monkeypatch):
    """A child forked while the parent held the BLAS limit's and the pool's locks (a
    Gram under way) forms its own threaded Gram (fresh locks, a fresh pool) with the
    same sums."""
    from test_host_loop import _in_forked_child

    import jaxlogloss.data.host_gram as hg
    from jaxlogloss.data import host

    monkeypatch.setattr(hg, "GRAM_THREADS", 2)
    x, h, mean, scale, _ = _inputs(2000, 4, 3)
    ref = host_centered_gram(x, False, h, mean, scale, block_rows=100)

    def child():
        out = host_centered_gram(x, False, h, mean, scale, block_rows=100)
        return bool(np.array_equal(out.gram, ref.gram))

    with host.blas_on_one_thread(), host._POOL_LOCK:  # as if a Gram were under way
        assert _in_forked_child(child)


def test_a_sampled_model_refused_at_its_unit_step_is_formed_whole(monkeypatch):
    """A feature present in 3 rows, none of them in the sample (every 12th row):
    the sampled model's step is refused at t = 1 and the model formed whole; the
    fit, its steps and standard errors are those of a fit that samples nothing."""
    X, y = logistic_data(6000, 4, 8)
    rare = np.zeros((6000, 1))
    rare[[1, 2001, 4001]] = 1.0
    X = np.hstack([X, rare])
    y[[1, 2001]], y[4001] = 1.0, 0.0  # not separated by it
    strides = _record_strides(monkeypatch)
    whole = jl.fit(X, y, solver="newton")
    monkeypatch.setattr(hc, "SAMPLE_MIN_ROWS", 500)
    monkeypatch.setattr(hc, "SAMPLE_ROWS_PER_FEATURE", 1)
    strides.clear()
    sampled = jl.fit(X, y, solver="newton")
    assert strides[:2] == [12, 1] and set(strides[2:]) == {1}
    assert sampled.status == whole.status == "converged"
    assert sampled.n_iter == whole.n_iter
    np.testing.assert_allclose(sampled.coef, whole.coef, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(
        sampled.inference.std_err, whole.inference.std_err, rtol=1e-7
    )


def test_a_float32_newton_fit_samples_its_first_model(monkeypatch):
    X, y = logistic_data(6000, 4, 8)
    X32 = X.astype(np.float32)
    strides = _record_strides(monkeypatch)
    whole = jl.fit(X32, y, solver="newton", dtype="float32")
    monkeypatch.setattr(hc, "SAMPLE_MIN_ROWS", 500)
    monkeypatch.setattr(hc, "SAMPLE_ROWS_PER_FEATURE", 1)
    strides.clear()
    sampled = jl.fit(X32, y, solver="newton", dtype="float32")
    assert strides[0] == 12 and set(strides[1:]) == {1}
    assert sampled.status == whole.status == "converged"
    np.testing.assert_allclose(sampled.coef, whole.coef, rtol=1e-4, atol=1e-5)
