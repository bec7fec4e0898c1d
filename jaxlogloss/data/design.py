"""The design matrix X and its memory layout.

A design matrix is either a plain ``(n, d)`` array (row-major, one example a row), a
:class:`FeatureMajor` view that stores the same numbers as ``xt`` of shape ``(d, n)``
(one feature a contiguous row), or :class:`RowsAtOffset`: a row-major X read in place
from a flat buffer that starts a few elements before it (a NumPy array's own memory,
which XLA could not alias where it lies; :class:`ColumnsAtOffset` for an F-ordered
one). All mean the same matrix X; only the layout differs.

Why it matters: a gradient step needs ``X @ w`` and ``X.T @ v``. XLA on the CPU computes
``X.T @ v`` for a row-major X about 4x slower than the memory-bandwidth floor, while with
X stored feature-major both products stream X at full speed (``benchmarks/NOTES.md``).
``jax.grad`` of ``w @ xt`` *is* ``xt @ v``, so a loss written on a :class:`FeatureMajor`
gets the fast layout in its autodiff gradient with no hand-written derivative.

The functions here are the only place that knows the layout: ``matvec`` (X w),
``rmatvec`` (X^T v), ``weighted_gram`` (X^T diag(c) X), :func:`row_block` (a block of
rows, the way every blocked pass reads X) and :func:`row_major` (the (n, d) array).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss import _validation as v

Array = jax.Array


class FeatureMajor(NamedTuple):
    """X stored transposed: ``xt`` has shape ``(d, n)``. A pytree; pass it to ``jit``."""

    xt: Array

    @property
    def shape(self) -> tuple[int, int]:
        """The shape ``(n, d)`` of the matrix X this view stands for."""
        return (self.xt.shape[1], self.xt.shape[0])

    @property
    def dtype(self) -> Any:
        return self.xt.dtype

    @property
    def ndim(self) -> int:
        return 2

    @property
    def size(self) -> int:
        return self.xt.size


@dataclasses.dataclass(frozen=True)
class HeldInPlace:
    """An (n, d) X read in place from a flat buffer: the caller's NumPy memory from
    the 64-byte boundary at or before X (XLA's CPU client aliases a host buffer only
    from such a boundary, and NumPy puts a large array 16 bytes into a page), so X is
    not copied (:func:`jaxlogloss.data.host.in_place_design`). ``flat`` has
    ``offset + n * d`` elements; its ``offset`` leading ones are not X's and are never
    read: every pass takes X a block of rows at a time (:func:`row_block`), and
    :func:`row_major` copies it whole for the rare consumer that needs the array.
    """

    flat: Array
    offset: int = dataclasses.field(metadata={"static": True})
    n_features: int = dataclasses.field(metadata={"static": True})
    ndim: ClassVar[int] = 2

    @property
    def size(self) -> int:
        return self.flat.shape[0] - self.offset

    @property
    def shape(self) -> tuple[int, int]:
        return (self.size // max(self.n_features, 1), self.n_features)

    @property
    def dtype(self) -> Any:
        return self.flat.dtype


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class RowsAtOffset(HeldInPlace):
    """A C-ordered X held in place: X[i, j] is ``flat[offset + i * d + j]``."""

    # a static field of its own: JAX's tree structures of two dataclasses with equal
    # static fields compare equal whatever their classes, and jit then took one
    # layout's compiled program for the other's
    order: str = dataclasses.field(default="C", metadata={"static": True})


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ColumnsAtOffset(HeldInPlace):
    """An F-ordered X (one feature's n values contiguous, as ``DataFrame.to_numpy()``
    of one float block gives) held in place: X[i, j] is ``flat[offset + j * n + i]``;
    a block of rows is d slices of it (a feature-major block)."""

    order: str = dataclasses.field(default="F", metadata={"static": True})


Design = Array | FeatureMajor | HeldInPlace


def feature_major(X: Any) -> FeatureMajor:
    """The feature-major view of an ``(n, d)`` matrix (one copy of X).

    >>> feature_major(jnp.ones((3, 2))).shape
    (3, 2)
    """
    if isinstance(X, FeatureMajor):
        return X
    X = as_design("feature_major", X)
    return FeatureMajor(jnp.asarray(X.T).copy())


def row_major(X: Design) -> Array:
    """The ``(n, d)`` array of a design (a copy unless X is a plain array)."""
    if isinstance(X, HeldInPlace):
        return _unflattened(X, jax.lax.slice(X.flat, (X.offset,), (X.offset + X.size,)))
    return X.xt.T if isinstance(X, FeatureMajor) else X


def host_rows(X: HeldInPlace) -> Any:
    """The (n, d) NumPy view of an X held in place on the CPU (no copy)."""
    return _unflattened(X, np.asarray(X.flat)[X.offset : X.offset + X.size])


def on_host(*arrays: Any) -> bool:
    """Whether every array is NumPy (or None) or a jax array on one CPU device: one
    NumPy reads in place."""
    return all(
        not isinstance(a, jax.Array) or (len(a.devices()) == 1 and v.on_cpu(a))
        for a in arrays
    )


def host_view(X: Design) -> tuple[np.ndarray, bool] | None:
    """X's values as a NumPy view (no copy) and whether the view is feature-major
    ((d, n): a :class:`FeatureMajor` X, or the transpose of an F-ordered one held in
    place), or None where X is not in host memory on one device (:func:`on_host`)."""
    data = X.xt if isinstance(X, FeatureMajor) else X
    if not on_host(data.flat if isinstance(data, HeldInPlace) else data):
        return None
    if isinstance(X, HeldInPlace):
        rows = host_rows(X)
        return (rows.T, True) if isinstance(X, ColumnsAtOffset) else (rows, False)
    return np.asarray(data), isinstance(X, FeatureMajor)


def _unflattened(X: HeldInPlace, values: Any) -> Any:
    """X's n * d ``values`` (JAX or NumPy, in its memory order) as the (n, d) matrix."""
    n, d = X.shape
    return (
        values.reshape(d, n).T
        if isinstance(X, ColumnsAtOffset)
        else values.reshape(n, d)
    )


def as_design(fn: str, X: Any, name: str = "X", finite: bool = False) -> Design:
    """Validate a design: 2-D, floating dtype, at least one row, finite values (not
    scanned again where the caller made X from a source it checked: ``finite``)."""
    if isinstance(X, HeldInPlace):  # made by the library from a checked array
        out: Design = X
        data = host_rows(X)
    elif isinstance(X, FeatureMajor):
        data = v.as_float(fn, f"{name}.xt", X.xt)
        v.check_ndim(fn, f"{name}.xt", data, (2,), "a (d, n) matrix")
        out = FeatureMajor(data)
    else:
        data = v.as_float(fn, name, X)
        v.check_ndim(fn, name, data, (2,), "an (n, d) matrix")
        out = data
    if out.shape[0] == 0:
        raise ValueError(
            f"{fn}: {name} has no rows (shape {out.shape}); expected at least one example"
        )
    if not finite:
        v.check_finite(fn, name, data)
    return out


def n_samples(X: Design) -> int:
    return X.shape[0]


def n_features(X: Design) -> int:
    return X.shape[1]


def matvec(X: Design, w: Array) -> Array:
    """X @ w for w of shape (d,) -> (n,), or (d, K) -> (n, K)."""
    if _by_blocks(X, w):
        return _blocked_matvec(X, w, RMATVEC_BLOCK)
    if isinstance(X, FeatureMajor):
        # contract xt's leading axis: its autodiff transpose is xt @ v (fast on CPU)
        out = jnp.tensordot(w, X.xt, axes=((0,), (0,)))
        return out if w.ndim == 1 else out.T
    return X @ w


def rmatvec(X: Design, r: Array) -> Array:
    """X^T @ r for r of shape (n,) -> (d,), or (n, K) -> (d, K)."""
    if _by_blocks(X, r):
        return _blocked_rmatvec(X, r, RMATVEC_BLOCK)
    if isinstance(X, FeatureMajor):
        return X.xt @ r
    # contract X's rows where they lie: ``X.T @ r`` makes XLA's CPU backend copy X
    # transposed first (measured: 1x X of extra memory and 10x the time at 10^6 x 100)
    return (r.T @ X).T


RMATVEC_BLOCK = 8192  # rows a block in matvec/rmatvec on a widened X


def _by_blocks(X: Design, v: Array) -> bool:
    """Whether a product of X with v runs a block of rows at a time: X held in place
    (read only so), or a product in a wider dtype than X's (a float32 X in a float64
    fit) on more rows than one block -- a whole-X product would convert all of X
    first, 2x X of extra memory."""
    if isinstance(X, HeldInPlace):
        return True
    wider = jnp.result_type(X.dtype, v.dtype) != jnp.dtype(X.dtype)
    return bool(wider) and X.shape[0] > RMATVEC_BLOCK


def by_feature(X: Design) -> bool:
    """Whether X's blocks are best read feature by feature (:func:`feature_block`)."""
    return isinstance(X, FeatureMajor | ColumnsAtOffset)


def feature_block(X: Design, start: Array, size: int, dtype: Any = None) -> Array:
    """Rows [start, start + size) of a feature-major or F-ordered X as a (d, size)
    block of ``dtype`` (default X's): one contiguous run of each feature's values."""
    n, d = X.shape
    dtype = X.dtype if dtype is None else dtype
    if isinstance(X, ColumnsAtOffset):  # d slices of the flat buffer
        starts = X.offset + start + n * jnp.arange(d, dtype=jnp.result_type(start))
        take = jax.vmap(lambda at: jax.lax.dynamic_slice(X.flat, (at,), (size,)))
        return take(starts).astype(dtype)
    return jax.lax.dynamic_slice(X.xt, (0, start), (d, size)).astype(dtype)


def row_block(X: Design, start: Array, size: int, dtype: Any = None) -> Array:
    """Rows [start, start + size) of X as a (size, d) block of ``dtype`` (default X's;
    a feature-major or F-ordered X's block transposed: XLA fuses it into the
    product)."""
    n, d = X.shape
    dtype = X.dtype if dtype is None else dtype
    if by_feature(X):
        return feature_block(X, start, size, dtype).T
    if isinstance(X, RowsAtOffset):
        at = X.offset + start * d
        flat = jax.lax.dynamic_slice(X.flat, (at,), (size * d,))
        return flat.reshape(size, d).astype(dtype)
    return jax.lax.dynamic_slice(X, (start, 0), (size, d)).astype(dtype)


def _blocked_matvec(X: Design, w: Array, block_size: int) -> Array:
    """X w over blocks of rows, each block cast to w's dtype in cache (a whole-X
    product would convert all of X first: 2x a float32 X of extra memory)."""
    n, d = X.shape
    size, n_blocks = block_layout(n, block_size)
    dtype = jnp.result_type(X.dtype, w.dtype)

    def body(i: Array, out: Array) -> Array:
        start = jnp.minimum(i * size, n - size)  # the last block shifted back
        xb = row_block(X, start, size, dtype)
        return jax.lax.dynamic_update_slice_in_dim(out, xb @ w, start, 0)

    out = jnp.zeros((n, *w.shape[1:]), dtype)
    return jax.lax.fori_loop(0, n_blocks, body, out)


def _blocked_rmatvec(X: Design, r: Array, block_size: int) -> Array:
    """X^T r over blocks of ``block_size`` rows (the last one shifted back to end at
    n, its rows counted already masked), each block cast to r's dtype in cache."""
    n, d = X.shape
    size, n_blocks = block_layout(n, block_size)
    dtype = jnp.result_type(X.dtype, r.dtype)

    def body(i: Array, acc: Array) -> Array:
        start, fresh = block_start(i, n, size)
        xb = row_block(X, start, size, dtype)
        rb = jax.lax.dynamic_slice_in_dim(r, start, size, 0)
        rb = jnp.where(fresh.reshape((size,) + (1,) * (r.ndim - 1)), rb, 0)
        return acc + (rb.T @ xb).T

    zero = jnp.zeros((d, *r.shape[1:]), dtype)
    return jax.lax.fori_loop(0, n_blocks, body, zero)


def weighted_gram(X: Design, c: Array) -> Array:
    """X^T diag(c) X, shape (d, d)."""
    if isinstance(X, FeatureMajor):
        return (X.xt * c) @ X.xt.T
    X = row_major(X)
    return (X.T * c) @ X


def blocked_value_grad(
    X: Design, targets: Array, c: Array | None, w: Array, b: Array,
    value: Any, grad: Any, block_size: int = 8192, mesh: Any = None,
    blocks: tuple[Any, int] | None = None,
) -> tuple[Array, Array, Array, Array]:  # fmt: skip
    """One pass over X for a binary loss: each block of rows is read once.

    With z = X w + b and r_i = c_i l'(y_i, z_i) (``value`` l and ``grad`` l' as in
    the loss registry, ``c`` the sample weights or None for ones) returns

        (sum_i c_i l(y_i, z_i),  X^T r,  sum_i r_i,  z)

    -- the summed loss, its gradient over (w, b) and the logits. The rows are taken
    ``block_size`` at a time (the last block may be shorter): z_b = X_b w + b, then
    r_b, then X_b^T r_b while the block is still in cache, where the two-pass
    ``jax.value_and_grad`` reads all of X twice. Works on both layouts, under ``jit``
    and ``vmap`` (over w, b and the weights; X shared).

    With a ``mesh`` (rows of X, the targets and c split over its "data" axis) each
    device makes its own pass under ``shard_map``; one ``psum`` adds the sums and z
    stays split like the rows.

    With ``blocks`` = (first, count) (``first`` may be traced, ``count`` static) the
    pass covers blocks first .. first + count - 1 only (those past the last block add
    nothing) and z is 0 outside their rows: one part of the pass, which a thread of
    its own runs (XLA runs a loop body on one core); the parts' sums and z's add up
    to the whole pass's.
    """
    if mesh is not None:
        return _sharded_value_grad(X, targets, c, w, b, value, grad, block_size, mesh)
    n, d = X.shape
    features = by_feature(X)
    dtype = jnp.result_type(w, b)
    size, n_blocks = block_layout(n, block_size)
    first, count = (0, n_blocks) if blocks is None else blocks

    def body(i: Array, acc: tuple[Array, ...]) -> tuple[Array, ...]:
        # block i covers rows [start, start + size); the last one is shifted back to
        # end at n, and its rows before i * size (counted already) are masked out
        if blocks is not None:  # a part: block first + i, nothing past the last
            i = i + jnp.asarray(first).astype(i.dtype)
            start, fresh = block_start(jnp.minimum(i, n_blocks - 1), n, size)
            fresh = fresh & (i < n_blocks)
        else:
            start, fresh = block_start(i, n, size)
        yb = jax.lax.dynamic_slice(targets, (start,), (size,))
        if features:
            xb = feature_block(X, start, size)
            zb = jnp.tensordot(w, xb, axes=((0,), (0,))) + b
        else:
            xb = row_block(X, start, size)
            zb = xb @ w + b
        lb, rb = value(yb, zb), grad(yb, zb)
        if c is not None:
            cb = jax.lax.dynamic_slice(c, (start,), (size,))
            lb, rb = cb * lb, cb * rb
        lb, rb = jnp.where(fresh, lb, 0), jnp.where(fresh, rb, 0)
        gb = xb @ rb if features else rb @ xb
        zb = zb.astype(dtype)
        if blocks is not None:  # z only on the part's own rows (the parts add up)
            zb = jnp.where(fresh, zb, jax.lax.dynamic_slice(acc[3], (start,), (size,)))
        z = jax.lax.dynamic_update_slice(acc[3], zb, (start,))
        return acc[0] + jnp.sum(lb), acc[1] + gb, acc[2] + jnp.sum(rb), z

    # the zeros take the type of the data (under shard_map: varying over the mesh axis)
    zero = (targets[0] * 0).astype(dtype)
    init = (zero, jnp.zeros((d,), dtype) + zero, zero, jnp.zeros((n,), dtype) + zero)
    return jax.lax.fori_loop(0, count, body, init)


BLOCK_MAX_BYTES = 1 << 22  # a block of rows, in the dtype its products run in
MAX_BLOCK_ROWS = 8192  # and at most this many rows


def budget_rows(d: int, *dtypes: Any) -> int:
    """Rows a block of a blocked pass over d features, widened to the widest of
    ``dtypes`` (None entries skipped; e.g. X's and the dtype the pass sums in): the
    largest power of two up to :data:`MAX_BLOCK_ROWS` whose block stays within
    :data:`BLOCK_MAX_BYTES` (at least 1). Float32 at d = 100: 8192 rows (3.2 MB);
    float64 there: 4096 -- a float64 pass at 10^6 x 100 took 104-157 ms in blocks
    of 2048-4096 rows against 175-256 ms in blocks of 8192, the scaling's pass
    310-340 ms against 380-410 ms (benchmarks/NOTES.md, twelfth session)."""
    itemsize = max(np.dtype(t).itemsize for t in dtypes if t is not None)
    fit = max(1, BLOCK_MAX_BYTES // max(1, d * itemsize))
    return int(min(MAX_BLOCK_ROWS, 1 << (fit.bit_length() - 1)))


def block_layout(n: int, block_size: int) -> tuple[int, int]:
    """Rows per block and the number of blocks covering n rows (the last one shifted
    back to end at row n: one loop body, no separate remainder program)."""
    size = max(1, min(block_size, n))
    return size, -(-n // size)


def block_start(i: Array, n: int, size: int) -> tuple[Array, Array]:
    """Block i's first row, and which of its rows it adds (False: already counted by
    block i - 1, where the last block was shifted back)."""
    start = jnp.minimum(i * size, n - size)
    return start, start + jnp.arange(size) >= i * size


def _sharded_value_grad(
    X: Design, targets: Array, c: Array | None, w: Array, b: Array,
    value: Any, grad: Any, block_size: int, mesh: Any,
) -> tuple[Array, Array, Array, Array]:  # fmt: skip
    from jax.sharding import PartitionSpec as P

    axis = "data"
    x_spec = FeatureMajor(P(None, axis)) if isinstance(X, FeatureMajor) else P(axis)

    def local(X: Design, targets: Array, c: Array | None, w: Array, b: Array) -> Any:
        s, g, t, z = blocked_value_grad(X, targets, c, w, b, value, grad, block_size)
        return jax.lax.psum((s, g, t), axis), z

    (s, g, t), z = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(x_spec, P(axis), P(axis), P(), P()),
        out_specs=((P(), P(), P()), P(axis)),
    )(X, targets, c, w, b)
    return s, g, t, z
