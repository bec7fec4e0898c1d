"""Host buffers that XLA's CPU client takes without a copy.

XLA's CPU client aliases a host array only when it starts on a 64-byte boundary; NumPy's
own large allocations start 16 bytes into a page, so ``jnp.asarray(X)`` copies X into
fresh memory, and the page faults of that fresh memory cost most of the copy (measured:
0.6-0.7 s for a 400 MB X on 2 cores). Here:

* :func:`aligned_empty` allocates page-aligned memory, backed by transparent huge pages
  where the kernel offers them (``madvise(MADV_HUGEPAGE)``: 512x fewer page faults);
* :func:`to_jax` hands an array to JAX with no copy when it already is C-contiguous,
  aligned and of the wanted dtype (``jnp.from_dlpack``), else with one copy (cast
  included) into such a buffer, made by a few threads -- 0.04-0.07 s for the same X;
* :func:`in_place_design` hands XLA a large C- or F-contiguous array that is *not*
  aligned with no copy at all: its memory from the 64-byte boundary before it, which
  the blocked passes read at an offset (:class:`~jaxlogloss.data.design.RowsAtOffset`,
  :class:`~jaxlogloss.data.design.ColumnsAtOffset`).

The JAX array then shares that buffer: it lives as long as the array does.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

ALIGN = 64  # the alignment XLA's CPU client needs to alias a host buffer
HUGE_MIN_BYTES = 1 << 21  # below one huge page, plain NumPy memory
PARALLEL_MIN_BYTES = 1 << 24  # below 16 MB one thread copies
TILE_COLUMNS = 2048  # columns of a transposed source copied as one tile


def aligned_empty(shape: tuple[int, ...], dtype: Any, align: int = ALIGN) -> np.ndarray:
    """``np.empty(shape, dtype)`` on an ``align``-byte boundary (huge pages when large).

    ``jnp.from_dlpack`` shares such an array with XLA's CPU client without a copy.
    """
    dt = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if size >= HUGE_MIN_BYTES and hasattr(mmap, "MAP_ANONYMOUS"):
        buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        if hasattr(mmap, "MADV_HUGEPAGE"):
            try:
                buf.madvise(mmap.MADV_HUGEPAGE)
            except OSError:  # the kernel does not offer them: small pages
                pass
        return np.frombuffer(buf, dtype=dt).reshape(shape)  # page-aligned
    raw = np.empty(size + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start : start + size].view(dt).reshape(shape)


def shareable(arr: np.ndarray, dtype: Any) -> bool:
    """Whether XLA's CPU client can take ``arr`` as ``dtype`` without a copy."""
    return (
        arr.dtype == np.dtype(dtype)
        and arr.flags.c_contiguous
        and arr.flags.writeable  # NumPy exports only writeable arrays by DLPack
        and arr.ctypes.data % ALIGN == 0
    )


def aligned_copy(arr: np.ndarray, dtype: Any) -> np.ndarray:
    """``arr`` cast to ``dtype`` in a new C-contiguous aligned buffer (rows copied by
    up to ``os.cpu_count()`` threads: NumPy releases the GIL while it copies). A
    transposed 2-D source (a row-major (n, d) X read as (d, n)) is copied in tiles of
    :data:`TILE_COLUMNS` columns, each a contiguous run of the source's rows that stays
    in cache while it is scattered (12-15 ms against 16-23 ms for 100,000 x 50
    float64 here)."""
    out = aligned_empty(arr.shape, dtype)
    if out.nbytes < PARALLEL_MIN_BYTES or arr.ndim == 0 or arr.shape[0] < 2:
        np.copyto(out, arr, casting="unsafe")
        return out
    if arr.ndim == 2 and arr.flags.f_contiguous and not arr.flags.c_contiguous:
        _copy_transposed(arr.T, out)
        return out
    workers = parallel_workers(arr.shape[0])
    bounds = np.linspace(0, arr.shape[0], workers + 1).astype(int)

    def copy(w: int) -> None:
        lo, hi = bounds[w], bounds[w + 1]
        np.copyto(out[lo:hi], arr[lo:hi], casting="unsafe")

    run_parallel(copy, workers)
    return out


def _copy_transposed(x: np.ndarray, out: np.ndarray, on_tile: Any = None) -> None:
    """out (d, n) = x (n, d) transposed and cast, tile by tile: each tile is
    :data:`TILE_COLUMNS` contiguous source rows, scattered while they stay in cache,
    by up to ``os.cpu_count()`` threads when out is large; ``on_tile(w, tile)`` is
    called on each copied tile of out by the worker w that copied it."""
    tiles = [slice(lo, lo + TILE_COLUMNS) for lo in range(0, x.shape[0], TILE_COLUMNS)]
    workers = 1 if out.nbytes < PARALLEL_MIN_BYTES else parallel_workers(len(tiles))

    def copy(w: int) -> None:
        for cols in tiles[w::workers]:
            tile = out[:, cols]
            np.copyto(tile, x[cols].T, casting="unsafe")
            if on_tile is not None:
                on_tile(w, tile)

    run_parallel(copy, workers)


class RowMoments(NamedTuple):
    """Unweighted moments of each row of a (d, n) array in float64: the count n, the
    means and the variances (mean squared deviation)."""

    count: int
    mean: np.ndarray
    var: np.ndarray


EXACT_SPREAD = 100.0  # rows whose |mean| > this x their std get a two-pass variance


def transposed_copy(x: np.ndarray, dtype: Any) -> tuple[np.ndarray, RowMoments]:
    """The (d, n) transpose of a 2-D ``x`` cast to ``dtype`` in an aligned buffer
    (the tiles of :data:`TILE_COLUMNS` source rows :func:`aligned_copy` uses), and the
    moments of its rows (of the cast values) summed from each tile while it is in
    cache: the pass that feature scaling and the finiteness check would otherwise
    make over X (non-finite moments where X holds a NaN or an inf).

    The variance from the sums, E[x^2] - mean^2, loses ~eps (mean / std)^2 of
    itself: rows with |mean| > :data:`EXACT_SPREAD` std (constant ones too) get
    their mean and variance again from that row (Chan, Golub and LeVeque's corrected
    two-pass formula, exact to ~eps of the variance wherever the mean is)."""
    n, d = x.shape
    out = aligned_empty((d, n), dtype)
    sums: dict[int, np.ndarray] = {}  # worker -> its (2, d) sums (one thread each)

    def add(w: int, tile: np.ndarray) -> None:
        acc = sums.setdefault(w, np.zeros((2, d)))
        acc[0] += tile.sum(axis=1, dtype=np.float64)
        acc[1] += np.einsum("ij,ij->i", tile, tile, dtype=np.float64)

    _copy_transposed(x, out, add)
    total, squares = sum(sums.values(), np.zeros((2, d))) / max(n, 1)
    with np.errstate(invalid="ignore", over="ignore"):
        var = squares - total**2
        redo = ~(var * EXACT_SPREAD**2 > total**2)  # also NaN where X is not finite
        for j in np.flatnonzero(redo & np.isfinite(total) & (n > 0)):
            row = out[j].astype(np.float64, copy=False)
            total[j] = np.mean(row)  # the sums' mean is off by ~eps |mean| log n
            dev = row - total[j]  # corrected two-pass: less the mean deviation's square
            var[j] = max(np.mean(np.square(dev)) - np.mean(dev) ** 2, 0.0)
    return out, RowMoments(n, total, var)


# one pool per process, made on first use (and again in a forked child, whose copy
# of the parent's pool has no threads): {pid: pool}
_POOL: dict[int, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()
# BLAS's thread count is the process's, and OpenBLAS takes a new one from the main
# thread only: the main thread's open blocks, innermost last (the outermost holds the
# threadpoolctl limiter that restores what was there, nested ones None); only the
# main thread touches it, so no lock
_BLAS_BLOCKS: list[Any] = []


def _fresh_locks_in_child() -> None:  # a fork while one is held leaves the copy held
    global _POOL_LOCK
    _POOL_LOCK = threading.Lock()
    _BLAS_BLOCKS.clear()  # the parent's blocks are not the child's to close


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_locks_in_child)


def parallel_workers(parts: int) -> int:
    """Threads for ``parts`` pieces of work: one a core, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8, parts))


def run_parallel(work: Any, workers: int, one_blas_thread: bool = False) -> None:
    """``work(w)`` for w in range(workers): on the process's thread pool (NumPy
    releases the GIL while it copies; starting threads per call cost ~3 ms).

    ``one_blas_thread``: BLAS is held to one thread while the workers run
    (:func:`blas_on_one_thread`): for workers whose BLAS products are too small to
    gain from BLAS's own threads, one worker a core instead."""
    if workers == 1:
        work(0)
        return
    pid = os.getpid()
    with _POOL_LOCK:
        if pid not in _POOL:
            _POOL.clear()
            _POOL[pid] = ThreadPoolExecutor(parallel_workers(1 << 30))
        pool = _POOL[pid]
    if not one_blas_thread:
        list(pool.map(work, range(workers)))
        return
    with blas_on_one_thread():
        list(pool.map(work, range(workers)))


@contextlib.contextmanager
def blas_on_one_thread() -> Iterator[None]:
    """BLAS held to one thread (``threadpoolctl``) inside the block, process-wide
    (other threads' BLAS calls run on one meanwhile); blocks nest, the outermost
    restores the limit it found. In a thread other than the main one the block
    changes nothing (OpenBLAS takes a new thread count from the main thread only;
    set and restored elsewhere it could stay at one). For workers a core each, and
    for the host-driven path and CV loops, whose NumPy algebra is small (matrices of
    ~50): there BLAS's second thread only spins after each call, on the core that
    XLA's passes over X want (the L1 path 0.34-0.39 s against 0.37-0.42 s, the L2 CV
    1.13-1.25 s against 1.18-1.28 s, 100,000 x 50; ``benchmarks/NOTES.md``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from threadpoolctl import threadpool_limits

    _BLAS_BLOCKS.append(None if _BLAS_BLOCKS else threadpool_limits(1, user_api="blas"))
    try:
        yield
    finally:
        limiter = _BLAS_BLOCKS.pop()
        if limiter is not None:
            limiter.restore_original_limits()


IN_PLACE_MIN_BYTES = PARALLEL_MIN_BYTES  # below this X is copied (fast, in cache)
MAX_FLAT_ELEMENTS = 2**31 - 1  # a flat buffer indexed in int32 (float32 fits)


def in_place_design(arr: Any) -> Any:
    """A C- or F-contiguous 2-D NumPy ``arr`` as a
    :class:`~jaxlogloss.data.design.RowsAtOffset` (C order) or
    :class:`~jaxlogloss.data.design.ColumnsAtOffset` (F order) over its own memory --
    read from the 64-byte boundary at or before ``arr``'s first element, so XLA's CPU
    client aliases it with no copy -- or None where that does not apply (other
    layouts, a small array, a start not a whole number of elements past a boundary, a
    default device other than the CPU -- the fit runs there, so X moves anyway --, or
    XLA copied after all).

    The few bytes before ``arr`` lie in the same 64-byte line, so in the same page:
    they are mapped, and never read as X. ``arr`` must not change while the view is
    in use (as with ``torch.from_numpy``); the view keeps it alive.
    """
    import jax
    import jax.numpy as jnp

    from jaxlogloss.data.design import ColumnsAtOffset, RowsAtOffset

    if not (
        jax.default_backend() == "cpu"
        and isinstance(arr, np.ndarray)
        and arr.ndim == 2
        and (arr.flags.c_contiguous or arr.flags.f_contiguous)
        and arr.nbytes >= IN_PLACE_MIN_BYTES
    ):
        return None
    kind = RowsAtOffset if arr.flags.c_contiguous else ColumnsAtOffset
    item = arr.dtype.itemsize
    back = arr.ctypes.data % ALIGN
    offset = back // item
    if back % item or offset + arr.size > MAX_FLAT_ELEMENTS:
        return None
    span = _Span(arr, arr.ctypes.data - back, offset + arr.size)
    flat = np.asarray(span)  # writeable (DLPack exports no other kind); never written
    out = jnp.from_dlpack(flat)
    if out.unsafe_buffer_pointer() != flat.ctypes.data:  # XLA copied: no gain
        return None
    return kind(out, int(offset), int(arr.shape[1]))


class _Span:
    """``count`` elements of ``base``'s dtype from address ``start`` (NumPy's array
    interface); holds ``base`` so that its memory outlives every view of the span."""

    def __init__(self, base: np.ndarray, start: int, count: int) -> None:
        self.base = base
        self.__array_interface__ = {
            "data": (start, False),
            "shape": (count,),
            "typestr": base.dtype.str,
            "version": 3,
        }


def to_jax(arr: Any, dtype: Any) -> Any:
    """``arr`` as a JAX CPU array of ``dtype``: shared with no copy when
    :func:`shareable`, else after one :func:`aligned_copy`. Where the default device
    is not the CPU, ``arr`` is put on that device instead (a CPU array there would
    be moved to it again by every program that reads it).

    Call it where ``dtype`` is enabled (float64 under ``enable_x64``).
    """
    import jax
    import jax.numpy as jnp

    arr = np.asarray(arr)
    if jax.default_backend() != "cpu":
        return jax.device_put(arr.astype(dtype, copy=False))
    if not shareable(arr, dtype):
        arr = aligned_copy(arr, dtype)
    return jnp.from_dlpack(arr)
