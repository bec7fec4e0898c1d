"""A C- or F-ordered NumPy X read where it lies (jaxlogloss.data.host.in_place_design,
jaxlogloss.data.design.RowsAtOffset and ColumnsAtOffset): no copy, the same products,
the same fits."""

from __future__ import annotations

import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import logistic_data

import jaxlogloss as jl
from jaxlogloss.data import host
from jaxlogloss.data.design import (
    ColumnsAtOffset,
    HeldInPlace,
    RowsAtOffset,
    blocked_value_grad,
    host_rows,
    matvec,
    rmatvec,
    row_block,
    row_major,
)
from jaxlogloss.data.gram import centered_gram
from jaxlogloss.fitting import inputs
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.scaling import feature_moments
from jaxlogloss.precision import enable_x64


def misaligned(values: np.ndarray, skip: int, order: str = "C") -> np.ndarray:
    """A C- (or F-) contiguous copy of ``values`` starting ``skip`` bytes past a
    64-byte boundary (NumPy's large arrays start 16 bytes into a page)."""
    raw = np.empty(values.nbytes + 128, np.uint8)
    start = -raw.ctypes.data % 64 + skip
    flat = raw[start : start + values.nbytes].view(values.dtype)
    if order == "F":
        out = flat.reshape(values.shape[::-1]).T
    else:
        out = flat.reshape(values.shape)
    out[...] = values
    return out


@pytest.fixture
def any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "IN_PLACE_MIN_BYTES", 0)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("skip", [16, 32, 48])
def test_in_place_design_aliases_the_array(rng, any_size, dtype, skip, order):
    values = rng.standard_normal((37, 5)).astype(dtype)
    X = misaligned(values, skip, order)
    with enable_x64(dtype == "float64"):  # else JAX narrows (copies) a float64 X
        view = host.in_place_design(X)
        assert isinstance(view, RowsAtOffset if order == "C" else ColumnsAtOffset)
        assert view.offset == skip // X.itemsize
        assert view.flat.unsafe_buffer_pointer() == X.ctypes.data - skip  # no copy
        assert view.shape == (37, 5) and view.dtype == X.dtype
        assert view.size == X.size
        np.testing.assert_array_equal(host_rows(view), values)
        np.testing.assert_array_equal(np.asarray(row_major(view)), values)
        got = jax.jit(lambda v: row_block(v, 30, 7))(view)
        chex.assert_shape(got, (7, 5))
        np.testing.assert_array_equal(np.asarray(got), values[30:])


def test_jit_tells_the_two_in_place_layouts_apart():
    """The same buffer, offset and width as rows and as columns are two programs:
    JAX compares dataclass tree structures by their static fields, not their class,
    so without a field of their own one layout ran the other's compiled program."""
    flat = jnp.arange(14.0, dtype=jnp.float32)
    rows, cols = RowsAtOffset(flat, 2, 3), ColumnsAtOffset(flat, 2, 3)
    # the root cause, deterministic (a cache collision also needs the hashes to meet)
    tree = jax.tree_util.tree_structure
    assert tree(rows) != tree(cols)
    values = np.arange(2.0, 14.0, dtype=np.float32)
    as_rows, as_cols = values.reshape(4, 3), values.reshape(3, 4).T
    for first, second in ((rows, cols), (cols, rows)):
        f = jax.jit(row_major)  # a fresh cache each time
        for X in (first, second):
            expected = as_rows if X is rows else as_cols
            np.testing.assert_array_equal(np.asarray(f(X)), expected)


def test_in_place_design_declines_what_it_cannot_alias(rng, monkeypatch):
    values = rng.standard_normal((40, 6))
    assert host.in_place_design(misaligned(values, 16)) is None  # small: copied
    monkeypatch.setattr(host, "IN_PLACE_MIN_BYTES", 0)
    assert host.in_place_design(values[:, :3]) is None  # not contiguous
    assert host.in_place_design(values[::2]) is None
    assert host.in_place_design(values.ravel()) is None  # not 2-D
    odd = np.empty(values.nbytes + 128, np.uint8)
    start = -odd.ctypes.data % 64 + 4  # 4 bytes in: not a whole float64 from it
    unaligned = odd[start : start + values.nbytes].view(np.float64).reshape(40, 6)
    assert host.in_place_design(unaligned) is None


def test_in_place_design_only_where_the_fit_runs_on_the_cpu(rng, any_size, monkeypatch):
    """On a machine whose default device is an accelerator the fit's programs run
    there: a CPU view would pin them to the host (X is moved instead)."""
    X = misaligned(rng.standard_normal((40, 6)).astype(np.float32), 16)
    assert host.in_place_design(X) is not None
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert host.in_place_design(X) is None
    aligned = host.aligned_empty((40, 6), np.float32)
    aligned[...] = X
    put, real = [], jax.device_put
    monkeypatch.setattr(jax, "device_put", lambda a, *k, **kw: put.append(a) or real(a))
    moved = host.to_jax(aligned, np.float32)  # put on the default device, not a view
    assert len(put) == 1
    np.testing.assert_array_equal(np.asarray(moved), X)


def test_in_place_design_keeps_the_array_alive(rng, any_size):
    X = misaligned(rng.standard_normal((50, 4)).astype(np.float32), 16)
    before = sys.getrefcount(X)
    view = host.in_place_design(X)
    assert sys.getrefcount(X) > before
    expected = X.copy()
    del X
    np.testing.assert_array_equal(host_rows(view), expected)
    del view


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("storage,compute", [
    ("float64", "float64"), ("float32", "float32"), ("float32", "float64"),
])  # fmt: skip
def test_products_on_a_view_equal_float64_numpy(rng, any_size, storage, compute, order):
    """matvec, rmatvec, the one-pass value and gradient, the centred Gram and the
    moments on a view equal float64 NumPy on the same numbers (blocks that do not
    divide n; a float32 view in float64 arithmetic widened a block at a time)."""
    n, d, block = 1000, 6, 128
    values = rng.standard_normal((n, d)).astype(storage) + 2
    X = misaligned(values, 48 if storage == "float32" else 16, order)
    x64 = values.astype(np.float64)
    y = (rng.random(n) < 0.4).astype(np.float64)
    c = rng.uniform(0.5, 2.0, n)
    w, b = rng.normal(0, 0.3, d), 0.2
    with enable_x64(compute == "float64"):
        view = host.in_place_design(X)
        assert isinstance(view, RowsAtOffset if order == "C" else ColumnsAtOffset)

        def cast(a):
            return jnp.asarray(a, compute)

        rtol = 1e-12 if compute == "float64" else 2e-5
        mv = jax.jit(matvec)(view, cast(w))
        chex.assert_shape(mv, (n,))
        chex.assert_type(mv, jnp.dtype(compute))
        np.testing.assert_allclose(mv, x64 @ w, rtol=rtol, atol=rtol)
        rv = jax.jit(rmatvec)(view, cast(c))
        np.testing.assert_allclose(rv, x64.T @ c, rtol=rtol)
        loss = get_loss("log_loss")
        s, g, gb, z = jax.jit(
            lambda v, y, c, w, b: blocked_value_grad(
                v, y, c, w, b, loss.value, loss.grad, block
            )
        )(view, cast(y), cast(c), cast(w), cast(b))
        zr = x64 @ w + b
        r = c * (1 / (1 + np.exp(-zr)) - y)
        np.testing.assert_allclose(z, zr, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(
            s, np.sum(c * (np.logaddexp(0, zr) - y * zr)), rtol=rtol
        )
        np.testing.assert_allclose(g, x64.T @ r, rtol=rtol, atol=rtol * n)
        np.testing.assert_allclose(gb, r.sum(), rtol=rtol, atol=rtol * n)
        mean, scale = x64.mean(0), rng.uniform(0.5, 2.0, d)
        gram, sums, total = jax.jit(
            lambda v, c, m, s: centered_gram(v, c, m, s, block)
        )(view, cast(c), cast(mean), cast(scale))
        xs = (x64 - mean) / scale
        # an entry's rounding scales with its terms' sizes, not with the entry (an
        # off-diagonal sum of centred products can cancel to near 0)
        terms = np.abs(xs).T @ (c[:, None] * np.abs(xs))
        err = np.abs(np.asarray(gram) - xs.T @ (c[:, None] * xs))
        assert np.all(err <= rtol * terms), np.max(err / terms)
        np.testing.assert_allclose(sums, xs.T @ c, rtol=rtol * 10, atol=rtol * n)
        np.testing.assert_allclose(total, c.sum(), rtol=rtol)
        m, var = jax.jit(lambda v, c: feature_moments(v, c, block, jnp.dtype(compute)))(
            view, cast(c)
        )
        mr = x64.T @ c / c.sum()
        np.testing.assert_allclose(m, mr, rtol=rtol)
        np.testing.assert_allclose(var, ((x64 - mr) ** 2).T @ c / c.sum(), rtol=rtol)


def _fits(monkeypatch, X, y, **kw):
    """The fit of X read in place, then of its copy (views switched off)."""
    made = []
    real = inputs.in_place_design

    def spy(arr):
        out = real(arr)
        made.append(out)
        return out

    monkeypatch.setattr(inputs, "in_place_design", spy)
    monkeypatch.setattr(host, "IN_PLACE_MIN_BYTES", 0)
    in_place = jl.fit(X, y, **kw)
    assert made and isinstance(made[0], HeldInPlace), "X was copied"
    monkeypatch.setattr(host, "IN_PLACE_MIN_BYTES", 1 << 62)
    copied = jl.fit(X, y, **kw)
    return in_place, copied


@pytest.mark.parametrize(
    "kw",
    [
        dict(solver="newton"),
        dict(solver="lbfgs", l2=0.05, weights=True),
        dict(solver="newton", cov_type="HC0"),
        dict(solver="newton", offset=True),
        dict(solver="newton", method="firth"),
        dict(solver="prox_newton", penalty="l1", alpha=0.01),
        dict(solver="lbfgs", dtype="float32"),
    ],
    ids=["newton", "lbfgs-l2-weights", "hc0", "offset", "firth", "l1", "float32"],
)
@pytest.mark.parametrize("order", ["C", "F"])
def test_a_fit_of_x_read_in_place_equals_the_fit_of_its_copy(monkeypatch, kw, order):
    X, y = logistic_data(400, 5, seed=3)
    X = misaligned(X.astype(kw.get("dtype", "float64")), 16, order)  # held as it is
    kw = dict(kw)
    if kw.pop("weights", False):
        kw["sample_weight"] = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    if kw.pop("offset", False):
        kw["offset"] = np.linspace(-0.5, 0.5, len(y))
    before = X.copy()
    a, b = _fits(monkeypatch, X, y, **kw)
    np.testing.assert_array_equal(X, before)  # never written
    assert a.n_iter == b.n_iter and a.status == b.status
    tol = 1e-5 if kw.get("dtype") == "float32" else 1e-10
    np.testing.assert_allclose(a.coef, b.coef, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.intercept, b.intercept, rtol=tol, atol=tol)
    np.testing.assert_allclose(
        a.inference.std_err, b.inference.std_err, rtol=tol, equal_nan=True
    )
    if a.statistics is not None or b.statistics is not None:  # Firth's has none
        np.testing.assert_allclose(a.statistics.llf, b.statistics.llf, rtol=tol)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_a_non_finite_entry_of_x_read_in_place_is_named(
    monkeypatch, bad, weighted, order
):
    """X read in place is scanned by its scaling's pass (no separate scan): any NaN
    or inf makes a mean non-finite, a row of weight 0 too, and is then named."""
    X, y = logistic_data(200, 3, seed=4)
    X = misaligned(X, 32, order)
    X[17, 2] = bad
    sw = np.ones(len(y))
    sw[17] = 0.0
    monkeypatch.setattr(host, "IN_PLACE_MIN_BYTES", 0)
    with pytest.raises(ValueError, match=r"X must be finite.*\(17, 2\)"):
        jl.fit(X, y, sample_weight=sw if weighted else None)
