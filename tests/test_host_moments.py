"""Feature moments of a host X by NumPy threads (jaxlogloss.data.host_moments) against
float64 NumPy by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlogloss.data import host_moments as hm


def _by_hand(X, c, u):
    X = np.asarray(X, np.float64)
    mean = c @ X / c.sum()
    var = c @ (X - mean) ** 2 / c.sum()
    return mean, var, None if u is None else u @ X


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    d=st.integers(1, 12),
    layout=st.sampled_from(["row", "feature"]),
    dtype=st.sampled_from([np.float64, np.float32]),
    weighted=st.booleans(),
    product=st.booleans(),
    block_bytes=st.sampled_from([64, 1000, 1 << 20]),
    seed=st.integers(0, 2**31 - 1),
)
def test_host_moments_equal_numpy_by_hand(
    n, d, layout, dtype, weighted, product, block_bytes, seed
):
    """Any shape (one row, one feature), both layouts and dtypes, weights with zeros,
    with and without X^T u, blocks of a few rows or one: the exact moments."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d) + rng.normal(0, 50, d)
    X = X.astype(dtype)
    c = rng.uniform(0, 2, n) if weighted else None
    if weighted and n > 2:
        c[:2] = 0.0
    u = rng.normal(size=n) if product else None
    x = np.ascontiguousarray(X.T) if layout == "feature" else X
    old = hm.BLOCK_BYTES
    hm.BLOCK_BYTES = block_bytes
    try:
        mean, var, xtu = hm.host_moments(x, layout == "feature", c, u)
    finally:
        hm.BLOCK_BYTES = old
    want = _by_hand(X, np.ones(n) if c is None else c, u)
    scale = float(np.abs(np.asarray(X, np.float64)).max()) + 1
    np.testing.assert_allclose(mean, want[0], rtol=1e-13, atol=1e-13 * scale)
    np.testing.assert_allclose(var, want[1], rtol=1e-10, atol=1e-12 * scale**2)
    assert mean.dtype == var.dtype == np.float64
    if product:
        size = float((np.abs(u) @ np.abs(np.asarray(X, np.float64))).max())
        np.testing.assert_allclose(xtu, want[2], rtol=1e-12, atol=1e-13 * size)
    else:
        assert xtu is None


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["row", "feature"])
def test_host_moments_are_nan_where_x_is_not_finite(layout, weighted):
    """A NaN or inf makes its feature's moments non-finite, in a row of weight 0 too
    (whether or not the BLAS skips a zero weight's row in its products)."""
    X = np.arange(40.0).reshape(10, 4)
    X[3, 1], X[5, 2], X[6, 2] = np.nan, np.inf, -np.inf
    X[7, 3] = np.inf
    c = None
    if weighted:
        c = np.ones(10)
        c[[3, 5, 6, 7]] = 0.0
    x = np.ascontiguousarray(X.T) if layout == "feature" else X
    mean, var, xtu = hm.host_moments(x, layout == "feature", c, np.ones(10))
    assert np.isfinite(mean[0]) and np.isfinite(var[0])
    assert not np.isfinite(mean[1:]).any()
    if not weighted:
        assert not np.isfinite(xtu[1:]).any()


def test_host_moments_of_empty_and_threads():
    mean, var, xtu = hm.host_moments(np.zeros((0, 3)), False, None, np.zeros(0))
    assert mean.shape == var.shape == xtu.shape == (3,)
    X = np.random.default_rng(0).normal(size=(5000, 64))  # shares a core each
    got = hm.host_moments(np.ascontiguousarray(X.T), True, None, None)
    np.testing.assert_allclose(got[0], X.mean(0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[1], X.var(0), rtol=1e-12)
