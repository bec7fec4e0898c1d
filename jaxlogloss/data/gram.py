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

from jaxlogloss.data.design import Design, FeatureMajor

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
    block = int(min(n, max(64, PAIR_BLOCK_BYTES // (pairs * xt.dtype.itemsize))))
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
        xt = X.xt if isinstance(X, FeatureMajor) else jnp.transpose(X)  # once for K
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


def _blocked_gram(
    X: Design,
    c: Array,
    mean: Array,
    scale: Array,
    block_size: int = 8192,
) -> tuple[Array, Array, Array]:
    """One run's sums over examples of c x' x'^T, c x' and c, with x' = (x - mean) / scale.

    The centred rows x - mean are formed a block of ``block_size`` examples at a time, so
    no copy of X is made and centring happens before the products (no cancellation);
    the scale divides the small (d, d) sums at the end. Under ``vmap`` over ``c`` and
    ``scale`` (with ``mean`` shared) the blocks are centred once for all runs.

    With a ``mesh`` (rows of X and c split over its "data" axis) each device sums its own
    rows under ``shard_map`` and one ``psum`` of the (d, d) result combines them.
    """
    n, d = X.shape
    xt = X.xt if isinstance(X, FeatureMajor) else None
    mean_col = mean[:, None]

    def block(start: Any, size: int) -> tuple[Array, Array]:
        if xt is not None:
            xb = jax.lax.dynamic_slice(xt, (0, start), (d, size))
        else:
            xb = jax.lax.dynamic_slice(X, (start, 0), (size, d)).T
        cb = jax.lax.dynamic_slice(c, (start,), (size,))
        xs = xb - mean_col
        return jnp.einsum("db,b,eb->de", xs, cb, xs), xs @ cb

    size = min(block_size, n)
    n_blocks, rest = divmod(n, size)

    def body(i: Array, acc: tuple[Array, Array]) -> tuple[Array, Array]:
        g, s = block(i * size, size)
        return acc[0] + g, acc[1] + s

    # the first block starts the sums (under shard_map it carries the right type)
    gram, sums = jax.lax.fori_loop(1, n_blocks, body, block(0, size))
    if rest:
        g, s = block(n_blocks * size, rest)
        gram, sums = gram + g, sums + s
    return gram / jnp.outer(scale, scale), sums / scale, jnp.sum(c)


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
