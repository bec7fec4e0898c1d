"""Weighted, centred Gram sums of an X held on the host, by NumPy's BLAS: half the products.

For weights h >= 0 the sum sum_i h_i x~_i x~_i' (x~ = x - mean) is A A' with
A = [sqrt(h_i) x~_i]: BLAS's symmetric rank-k update (syrk, which NumPy's ``a @ a.T``
calls when both operands are one buffer) computes one triangle, half the
multiply-adds of the general product XLA's CPU dot makes of it
(:func:`~jaxlogloss.data.gram.centered_gram_and_moment`). Measured on a 2-core AVX2
CPU, 10^6 x 100 float32 feature-major, float64 sums, interleaved
(``benchmarks/NOTES.md``): float32 products 0.34 s against XLA's 0.55 s, float64
products 0.66 s against 1.14 s.

The rows are centred a block at a time into one reused buffer of the product dtype
(float32 for a solver's model: the float32 rows less the float32 mean, entries within
~1e-7 relative plus the rounded mean's shift; float64 exact), so no copy of X is made;
each block's products are added to float64 sums. Weights with a negative entry (a
loss whose curvature can be negative) take the general product of (h x~) and x~
instead of the square root.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from jaxlogloss.data.design import budget_rows
from jaxlogloss.data.host import parallel_workers, run_parallel

# where X spans at least two blocks, they are shared out among this many threads
# (at most), each calling BLAS on one thread: NumPy's syrk of a (d, rows) block with
# d ~ 100 gains little from BLAS's own threads (10^6 x 100, 2 cores: float64 0.77 s
# on one thread of ours and BLAS's two, 0.47 s on two of ours; float32 0.36 / 0.24 s)
GRAM_THREADS: int | None = None  # None: one a core (data.host.parallel_workers)


def gram_workers(blocks: int) -> int:
    """Threads forming a Gram of ``blocks`` blocks (:data:`GRAM_THREADS`)."""
    if GRAM_THREADS is not None:
        return max(1, min(GRAM_THREADS, blocks))
    return parallel_workers(blocks)


def _centre(rows: np.ndarray, centre: np.ndarray, out: np.ndarray) -> None:
    """out = rows - centre in out's dtype. Float64: the copy, then the subtraction in
    place (NumPy's mixed-dtype loop measured slower). Float32 (a solver's model): the
    rows rounded to float32 less the float32 mean (``centre`` already rounded), so a
    float32-stored X and its float64 copy give the same model, in float32's SIMD loop
    (2x the mixed loop on a row-major block); the rounded mean shifts the centring by
    at most eps |mean| / 2, a model error of that over the feature's spread."""
    if rows.dtype == out.dtype:
        np.subtract(rows, centre, out=out)
    else:
        np.copyto(out, rows, casting="unsafe")
        out -= centre


class HostGram(NamedTuple):
    """The sums of :func:`host_centered_gram`: ``gram`` (d, d) of h x' x'^T, ``sums``
    (d,) of h x', ``total`` sum h (x' = (x - mean) / scale), and ``moment`` (d,) the
    raw X^T u (None without u)."""

    gram: np.ndarray
    sums: np.ndarray
    total: float
    moment: np.ndarray | None


def host_centered_gram(
    x: np.ndarray, feature_major: bool, h: np.ndarray, mean: np.ndarray,
    scale: np.ndarray, u: np.ndarray | None = None, product_dtype: Any = np.float64,
    block_rows: int | None = None, row_stride: int = 1,
) -> HostGram:  # fmt: skip
    """The centred Gram sums of X weighted by ``h`` (n,), and X^T u where ``u`` is given,
    from one pass over X's blocks.

    Args:
      x: X on the host, (d, n) when ``feature_major`` else (n, d) (any strides: a
        block is copied into the centring buffer).
      h: (n,) the Gram's weights; mean, scale: (d,) the centring and scaling.
      u: optional (n,) weights of the raw moment X^T u.
      product_dtype: the dtype of each block's products (float32 or float64); the
        sums are float64.
      block_rows: rows centred at a time (default
        :func:`~jaxlogloss.data.design.budget_rows`: a block of at most 4 MiB in the
        product dtype, 8192 rows float32 and 4096 float64 at d = 100 -- 0.72 s
        against 0.82 s for 8192 float64 rows at 10^6 x 100).
      row_stride: s > 1 sums every s-th row only (rows 0, s, 2s, ...: a systematic
        sample, for a model Hessian; X is still read whole, the products are 1/s)
        and scales ``gram`` and ``sums`` by sum h / (sum h over the sampled rows), a
        ratio estimate of the whole sums; ``total`` stays exact. Needs weights
        h >= 0 and no ``u``.
    """
    low = np.dtype(product_dtype)
    if x.ndim != 2:
        raise ValueError(f"host_centered_gram: x must be 2-D, got shape {x.shape}")
    d, n = x.shape if feature_major else x.shape[::-1]
    h = np.asarray(h, np.float64)
    mean = np.asarray(mean, np.float64)
    if h.shape != (n,) or mean.shape != (d,):
        raise ValueError(
            f"host_centered_gram: h must have shape ({n},) and mean ({d},), got "
            f"{h.shape} and {mean.shape}"
        )
    square_root = bool(np.all(h >= 0))
    if row_stride != 1 and (row_stride < 1 or u is not None or not square_root):
        raise ValueError(
            "host_centered_gram: row_stride must be >= 1, and > 1 only with "
            f"weights h >= 0 and no u; got {row_stride}"
        )
    root = np.sqrt(h).astype(low) if square_root else h.astype(low)
    weights = h[None] if u is None else np.stack([h, np.asarray(u, np.float64)])
    weights = weights.astype(low)
    if block_rows is None:
        block_rows = budget_rows(d, low)
    size = max(1, min(block_rows, n))
    columns = x if feature_major else x.T
    centre = mean[:, None].astype(low)
    span = size * row_stride  # X's rows a block of ``size`` sampled rows covers
    starts = range(0, n, span)
    workers = gram_workers(len(starts))
    parts: list[Any] = [None] * workers

    def work(w: int) -> None:
        # each block as (d, rows): a slice of a feature-major X, the transposed view
        # of a row-major one; the buffer keeps X's order, so NumPy's loops and BLAS
        # read it as it lies (a transposing copy into a feature-major buffer
        # measured 1.2-1.4x slower on row-major X)
        buffer = np.empty((d, size) if feature_major else (size, d), low)
        gram = np.zeros((d, d))
        moments = np.zeros((weights.shape[0], d))
        for start in starts[w::workers]:
            take = slice(start, min(start + span, n), row_stride)
            rows = len(range(take.start, take.stop, row_stride))
            block = buffer[:, :rows] if feature_major else buffer[:rows].T
            _centre(columns[:, take], centre, block)
            moments += weights[:, take] @ block.T
            if square_root:
                block *= root[take]
                gram += block @ block.T  # one buffer: NumPy's syrk
            else:
                gram += (block * root[take]) @ block.T
        parts[w] = gram, moments

    run_parallel(work, workers, one_blas_thread=True)  # a worker a core
    gram, moments = parts[0]
    for more in parts[1:]:  # the workers' sums in a fixed order: deterministic
        gram, moments = gram + more[0], moments + more[1]
    total = float(np.sum(h))
    if row_stride > 1:  # the sample's sums, scaled to the whole weight
        sampled = float(np.sum(h[::row_stride]))
        ratio = total / sampled if sampled > 0 else 0.0
        gram, moments = gram * ratio, moments * ratio
    scale = np.asarray(scale, np.float64)
    gram = gram / np.outer(scale, scale)
    gram = 0.5 * (gram + gram.T)  # float32 products: symmetric to rounding only
    moment = None if u is None else moments[1] + mean * float(np.sum(u))
    return HostGram(gram, moments[0] / scale, total, moment)
