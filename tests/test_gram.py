"""Weighted centred Gram sums (data/gram.py): one run, and K runs as one GEMM under
vmap, equal NumPy's."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.data.gram import centered_gram
from jaxlogloss.precision import enable_x64


@pytest.mark.parametrize("layout", ["feature_major", "row_major"])
@pytest.mark.parametrize("scale_per_run", [True, False])
def test_vmapped_grams_equal_the_plain_ones(rng, layout, scale_per_run):
    n, d, k = 1037, 5, 7  # n not a multiple of any block
    with enable_x64():
        X = rng.standard_normal((n, d)) * rng.uniform(0.1, 10, d) + 3
        design = (
            FeatureMajor(jnp.asarray(X.T))
            if layout == "feature_major"
            else jnp.asarray(X)
        )
        h = jnp.asarray(rng.random((k, n)))
        mean = jnp.asarray(X.mean(axis=0))
        scale = jnp.asarray(rng.uniform(0.5, 2, (k, d) if scale_per_run else d))
        axes = (None, 0, None, 0 if scale_per_run else None)
        got = jax.jit(jax.vmap(lambda X, h, m, s: centered_gram(X, h, m, s), axes))(
            design, h, mean, scale
        )
        for j in range(k):
            s = scale[j] if scale_per_run else scale
            xs = (X - X.mean(axis=0)) / np.asarray(s)
            want = (xs.T * np.asarray(h[j])) @ xs, xs.T @ np.asarray(h[j]), np.sum(h[j])
            for a, b in zip(got, want, strict=True):
                np.testing.assert_allclose(np.asarray(a[j]), b, rtol=1e-11, atol=1e-9)
        s = scale[0] if scale_per_run else scale
        one = centered_gram(design, h[0], mean, s, block_size=100)  # no vmap
        xs = (X - X.mean(axis=0)) / np.asarray(s)
        np.testing.assert_allclose(one[0], (xs.T * np.asarray(h[0])) @ xs, rtol=1e-11)


def test_float32_grams_within_float32_rounding(rng):
    n, d, k = 500, 3, 4
    X = rng.standard_normal((n, d)).astype(np.float32)
    h = rng.random((k, n)).astype(np.float32)
    got = jax.vmap(
        lambda h: centered_gram(
            FeatureMajor(jnp.asarray(X.T)), h, jnp.zeros(d), jnp.ones(d)
        )
    )(jnp.asarray(h))
    want = np.einsum(
        "in,nd,ne->ide",
        h.astype(np.float64),
        X.astype(np.float64),
        X.astype(np.float64),
    )
    np.testing.assert_allclose(got[0], want, rtol=2e-5, atol=1e-3)
