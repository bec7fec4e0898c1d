"""Weighted, centred Gram sums of X: one run, K runs as one GEMM, rows over a mesh.

A vmapped Newton sweep (K runs over one X, e.g. an L2 path) needs, every iteration,

    G_k = sum_i h_ki (x_i - mean)(x_i - mean)^T / (scale_k scale_k^T),   k = 1..K.

Under plain ``vmap`` each G_k is its own (d, n) x (n, d) product: K small GEMMs that
re-read X K times. With the centred rows' pairwise products P = [x~_ia x~_ib]_{a<=b}
(a block of rows at a time, d (d + 1) / 2 numbers a row) all K sums are one GEMM,
P^T H (rows x pairs by rows x K): X is read once, and the work runs at BLAS-3 speed.
The upper triangle is mirrored at the end.

:func:`centered_gram` computes one run's sums a block of rows at a time, uses that
rule under ``vmap`` over the weights ``h`` (and the scales), and the plain per-run rule
for wide X (d above :data:`MAX_PAIRED_FEATURES`, where P would not fit in cache).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.data.design import (
    Design,
    FeatureMajor,
    block_layout,
    block_start,
    by_feature,
    feature_block,
    rmatvec,
    row_block,
    row_major,
)

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
    size, n_blocks = block_layout(
        n, int(max(64, PAIR_BLOCK_BYTES // (pairs * xt.dtype.itemsize)))
    )
    mean_col = mean[:, None]

    def add(i: Array, acc: tuple[Array, Array]) -> tuple[Array, Array]:
        start, fresh = block_start(i, n, size)
        xb = jax.lax.dynamic_slice(xt, (0, start), (d, size)) - mean_col
        hb = jnp.where(fresh, jax.lax.dynamic_slice(h, (0, start), (k, size)), 0)
        paired = xb[rows] * xb[cols]  # (pairs, size)
        return acc[0] + paired @ hb.T, acc[1] + xb @ hb.T

    zero = (jnp.zeros((pairs, k), xt.dtype), jnp.zeros((d, k), xt.dtype))
    acc = jax.lax.fori_loop(0, n_blocks, add, zero)
    upper, sums = acc
    gram = jnp.zeros((k, d, d), xt.dtype).at[:, rows, cols].set(upper.T)
    gram = gram.at[:, cols, rows].set(upper.T)
    gram = gram / (scale[:, :, None] * scale[:, None, :])
    return gram, sums.T / scale, jnp.sum(h, axis=1)


@functools.lru_cache(maxsize=16)
def _grams(block_size: int) -> Any:
    """The one-run blocked sums, with the K-runs-as-one-GEMM rule for ``vmap``."""

    def one(X: Any, h: Array, mean: Array, scale: Array) -> tuple[Array, ...]:
        return _blocked_gram(X, h, mean, scale, block_size)

    grams = jax.custom_batching.custom_vmap(one)

    @grams.def_vmap
    def rule(
        axis_size: int, in_batched: list[Any], X: Any, h: Array, mean: Array,
        scale: Array,
    ) -> tuple[tuple[Array, ...], tuple[bool, ...]]:  # fmt: skip
        x_b, h_b, mean_b, scale_b = (any(jax.tree.leaves(b)) for b in in_batched)
        if x_b or mean_b or not h_b:  # not the sweep's shape: the plain rule
            axes = [jax.tree.map(lambda b: 0 if b else None, b) for b in in_batched]
            out = jax.vmap(one, in_axes=tuple(axes))(X, h, mean, scale)
            return out, (True, True, True)
        if not scale_b:
            scale = jnp.broadcast_to(scale, (axis_size, *scale.shape))
        xt = X.xt if isinstance(X, FeatureMajor) else row_major(X).T  # once for K
        return _paired_grams(xt, h, mean, scale), (True, True, True)

    return grams


def centered_gram(
    X: Any,
    c: Array,
    mean: Array,
    scale: Array,
    block_size: int = 8192,
    mesh: Any = None,
) -> tuple[Array, Array, Array]:
    """Sums over examples of c x' x'^T, c x' and c, with x' = (x - mean) / scale.

    One run: a block of rows at a time (:func:`_blocked_gram`); under ``vmap`` over
    the weights (K runs, X and mean shared): K sums as one GEMM (module docstring);
    with a ``mesh`` (rows split over its "data" axis) each device sums its own rows
    under ``shard_map`` and one ``psum`` combines them.
    """
    if mesh is not None:
        return _sharded_centered_gram(X, c, mean, scale, block_size, mesh)
    if X.shape[1] > MAX_PAIRED_FEATURES:
        return _blocked_gram(X, c, mean, scale, block_size)
    return _grams(block_size)(X, c, mean, scale)


def centered_gram_and_moment(
    X: Any, c: Array, u: Array, mean: Array, scale: Array, block_size: int = 8192,
    mesh: Any = None, float32_products: Array | None = None,
) -> tuple[Array, Array, Array, Array]:  # fmt: skip
    """:func:`centered_gram`'s sums and X^T u (raw X, one run) from the same pass:
    each block of rows, in cache for the Gram, also gives u's share (a second product
    of the block instead of a second read of X). With a ``mesh``: two passes.

    ``float32_products`` (a traced flag; float64 sums only): where true, each block's
    products (the Gram's, the sums' and u's) are float32 products of its centred rows,
    added to float64 sums -- 1.4-2.4x faster on a CPU (no float64 copy of a block),
    entries within ~1e-7 relative: a Newton iteration's model, never the inference
    Hessian. One program holds both."""
    if mesh is not None:
        return (*centered_gram(X, c, mean, scale, block_size, mesh), rmatvec(X, u))
    if float32_products is None or c.dtype != jnp.float64:
        return _blocked_gram(X, c, mean, scale, block_size, u)
    return jax.lax.cond(
        float32_products,
        lambda: _blocked_gram(X, c, mean, scale, block_size, u, jnp.float32),
        lambda: _blocked_gram(X, c, mean, scale, block_size, u),
    )


def _blocked_gram(
    X: Design,
    c: Array,
    mean: Array,
    scale: Array,
    block_size: int = 8192,
    moment: Array | None = None,
    product_dtype: Any = None,
) -> Any:
    """One run's sums over examples of c x' x'^T, c x' and c, with x' = (x - mean) / scale.

    The centred rows x - mean are formed a block of ``block_size`` examples at a time, so
    no copy of X is made and centring happens before the products (no cancellation);
    the scale divides the small (d, d) sums at the end. Under ``vmap`` over ``c`` and
    ``scale`` (with ``mean`` shared) the blocks are centred once for all runs.

    With a ``mesh`` (rows of X and c split over its "data" axis) each device sums its own
    rows under ``shard_map`` and one ``psum`` of the (d, d) result combines them.

    ``product_dtype`` (e.g. float32 under float64 sums): each block's products in that
    dtype, from its centred rows rounded to it (:func:`centered_gram_and_moment`).
    """
    n, d = X.shape
    low = (
        (lambda a: a) if product_dtype is None else (lambda a: a.astype(product_dtype))
    )
    features = by_feature(X)
    mean_col = mean[:, None]
    size, n_blocks = block_layout(n, block_size)
    # the first-moment weights: c, and the moment's u where asked (one product)
    weights = c[None] if moment is None else jnp.stack([c, moment.astype(c.dtype)])
    k = weights.shape[0]

    def body(i: Array, acc: tuple[Array, Array]) -> tuple[Array, Array]:
        start, fresh = block_start(i, n, size)
        wb = jax.lax.dynamic_slice(weights, (0, start), (k, size))
        wb = jnp.where(fresh, wb, 0)
        if features:
            xs, wl = low(feature_block(X, start, size) - mean_col), low(wb)
            gram = jnp.einsum("db,b,eb->de", xs, wl[0], xs)
            sums = wl @ xs.T
        else:
            # a row-major block contracted over its rows where they lie: transposing
            # it first cost a quarter more (0.24 s against 0.19 s, float32 10^6 x 100)
            xs, wl = low(row_block(X, start, size) - mean), low(wb)
            gram, sums = jnp.einsum("bd,b,be->de", xs, wl[0], xs), wl @ xs
        return acc[0] + gram.astype(acc[0].dtype), acc[1] + sums.astype(acc[1].dtype)

    # the zeros take the type of the data (under shard_map: varying over the mesh axis)
    zero = c[0] * 0
    init = (jnp.zeros((d, d), c.dtype) + zero, jnp.zeros((k, d), c.dtype) + zero)
    gram, sums = jax.lax.fori_loop(0, n_blocks, body, init)
    out = gram / jnp.outer(scale, scale), sums[0] / scale, jnp.sum(c)
    if moment is None:
        return out
    # sum_i u_i x_i = sum_i u_i (x_i - mean) + mean sum_i u_i
    return (*out, sums[1] + mean * jnp.sum(weights[1]))


def _sharded_centered_gram(
    X: Design, c: Array, mean: Array, scale: Array, block_size: int, mesh: Any
) -> tuple[Array, Array, Array]:
    from jax.sharding import PartitionSpec as P

    axis = "data"
    x_spec = FeatureMajor(P(None, axis)) if isinstance(X, FeatureMajor) else P(axis)
    one = jnp.ones_like(scale)

    def local(X: Design, c: Array, mean: Array) -> tuple[Array, Array, Array]:
        # unscaled local sums; psum of replicated-free (per-device) values: no doubling
        out = centered_gram(X, c, mean, one, block_size)
        return jax.tree.map(lambda a: jax.lax.psum(a, axis), out)

    gram, sums, total = jax.shard_map(
        local, mesh=mesh, in_specs=(x_spec, P(axis), P()), out_specs=(P(), P(), P())
    )(X, c, mean)
    return gram / jnp.outer(scale, scale), sums / scale, total
