"""Many weighted, centred Gram matrices of one X at once: K Hessians as one GEMM.

A vmapped Newton sweep (K runs over one X, e.g. an L2 path) needs, every iteration,

    G_k = sum_i h_ki (x_i - mean)(x_i - mean)^T / (scale_k scale_k^T),   k = 1..K.

Under plain ``vmap`` each G_k is its own (d, n) x (n, d) product: K small GEMMs that
re-read X K times. With the centred rows' pairwise products P = [x~_ia x~_ib]_{a<=b}
(a block of rows at a time, d (d + 1) / 2 numbers a row) all K sums are one GEMM,
P^T H (rows x pairs by rows x K): X is read once, and the work runs at BLAS-3 speed.
The upper triangle is mirrored at the end.

:func:`centered_grams` is :func:`jaxlogloss.data.design.centered_gram` with that rule
for ``vmap`` over the weights ``h`` (and the scales): call it where ``centered_gram``
is called; outside ``vmap``, and for wide X (d above :data:`MAX_PAIRED_FEATURES`, where
P would not fit in cache), it is ``centered_gram`` itself.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.data.design import FeatureMajor, centered_gram

Array = jax.Array

MAX_PAIRED_FEATURES = 48  # d (d + 1) / 2 = 1176 pairs: a 2048-row block of P is 19 MB
PAIR_BLOCK_BYTES = 8 * 2**20  # bytes of one block of pairwise products


def _paired_grams(
    xt: Array, h: Array, mean: Array, scale: Array
) -> tuple[Array, Array, Array]:
    """All K (gram, sums, total) from one GEMM a block of rows; h (K, n), scale (K, d)."""
    d, n = xt.shape
    k = h.shape[0]
    rows, cols = np.triu_indices(d)
    pairs = len(rows)
    block = int(max(64, min(n, PAIR_BLOCK_BYTES // (pairs * xt.dtype.itemsize))))
    n_blocks, rest = divmod(n, block)
    mean_col = mean[:, None]

    def add(start: Any, size: int, acc: tuple[Array, Array]) -> tuple[Array, Array]:
        xb = jax.lax.dynamic_slice(xt, (0, start), (d, size)) - mean_col
        hb = jax.lax.dynamic_slice(h, (0, start), (k, size))
        paired = xb[rows] * xb[cols]  # (pairs, size)
        return acc[0] + paired @ hb.T, acc[1] + xb @ hb.T

    zero = (jnp.zeros((pairs, k), xt.dtype), jnp.zeros((d, k), xt.dtype))
    acc = jax.lax.fori_loop(0, n_blocks, lambda i, a: add(i * block, block, a), zero)
    if rest:
        acc = add(n_blocks * block, rest, acc)
    upper, sums = acc
    gram = jnp.zeros((k, d, d), xt.dtype).at[:, rows, cols].set(upper.T)
    gram = gram.at[:, cols, rows].set(upper.T)
    gram = gram / (scale[:, :, None] * scale[:, None, :])
    return gram, sums.T / scale, jnp.sum(h, axis=1)


@jax.custom_batching.custom_vmap
def _grams(X: Any, h: Array, mean: Array, scale: Array) -> tuple[Array, ...]:
    return centered_gram(X, h, mean, scale)


@_grams.def_vmap
def _grams_vmap(
    axis_size: int, in_batched: list[Any], X: Any, h: Array, mean: Array, scale: Array
) -> tuple[tuple[Array, ...], tuple[bool, ...]]:
    x_b, h_b, mean_b, scale_b = (any(jax.tree.leaves(b)) for b in in_batched)
    if x_b or mean_b or not h_b:  # not the sweep's shape: the plain rule
        axes = [jax.tree.map(lambda b: 0 if b else None, b) for b in in_batched]
        out = jax.vmap(centered_gram, in_axes=tuple(axes))(X, h, mean, scale)
        return out, (True, True, True)
    if not scale_b:
        scale = jnp.broadcast_to(scale, (axis_size, *scale.shape))
    xt = X.xt if isinstance(X, FeatureMajor) else jnp.transpose(X)  # once for K runs
    return _paired_grams(xt, h, mean, scale), (True, True, True)


def centered_grams(
    X: Any,
    c: Array,
    mean: Array,
    scale: Array,
    block_size: int = 8192,
    mesh: Any = None,
) -> tuple[Array, Array, Array]:
    """:func:`~jaxlogloss.data.design.centered_gram`, with K runs' sums as one GEMM
    under ``vmap`` (see the module docstring)."""
    if mesh is not None or X.shape[1] > MAX_PAIRED_FEATURES:
        return centered_gram(X, c, mean, scale, block_size, mesh)
    return _grams(X, c, mean, scale)
