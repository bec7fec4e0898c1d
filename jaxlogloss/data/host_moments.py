"""Weighted feature moments of a host X by NumPy threads, one read of X.

:func:`host_moments` gives, in float64, each feature's weighted mean and variance and,
with a vector u, X^T u -- what :func:`~jaxlogloss.model.scaling.feature_moments`
computes in one compiled pass -- from NumPy threads, one contiguous share of X a
thread (features of a feature-major X, rows of a row-major one), each block of a
share widened to float64 in a buffer that stays in cache:

    C_b = sum_{i in b} c_i,  m_b = sum_{i in b} c_i x_i / C_b,
    M_b = sum_{i in b} c_i (x_i - m_b)^2,  (X^T u)_b = sum_{i in b} u_i x_i,

combined exactly (Chan, Golub and LeVeque): mean = sum_b C_b m_b / sum c and
var = (sum_b M_b + sum_b C_b (m_b - mean)^2) / sum c. Centred before squaring, as the
compiled pass: no cancellation. NumPy releases the GIL in its loops and BLAS calls,
so the threads run in parallel (BLAS held to one thread each); at 10^6 x 100 float32
this ran in about half the compiled pass's time, with no program to trace or
compile (benchmarks/NOTES.md, "host moments").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlogloss.data.host import parallel_workers, run_parallel

BLOCK_BYTES = 1 << 20  # a block's float64 buffer: in a core's cache
TILE_ROWS = 8  # feature rows a tile of a feature-major X holds (a block's width)


def host_moments(
    x: np.ndarray, feature_major: bool, c: np.ndarray | None, u: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(mean, var, X^T u) in float64 of the (d, n) ``x`` (``feature_major``) or
    (n, d) ``x``, with row weights ``c`` (None: all 1) and ``u`` (None: no product);
    NaN moments where X holds a NaN or an infinity."""
    n, d = (x.shape[1], x.shape[0]) if feature_major else x.shape
    weights = np.ones(n) if c is None else np.asarray(c, np.float64)
    total = float(np.sum(weights))
    mean, var = np.zeros(d), np.zeros(d)
    xtu = None if u is None else np.zeros(d)
    if n == 0 or d == 0:
        return mean, var, xtu
    blocks = max(1, n * d * 8 // BLOCK_BYTES)  # a small X: one thread, no pool
    if feature_major:
        parts = _shares(d, min(d, parallel_workers(blocks)))

        def work(w: int) -> None:
            lo, hi = parts[w]
            for a in range(lo, hi, TILE_ROWS):  # a tile of rows: its column blocks
                b = min(hi, a + TILE_ROWS)
                with np.errstate(invalid="ignore", over="ignore"):  # NaN moments
                    sums = _block_sums(x[a:b].T, weights, u, c is not None)
                    out = _combined(sums, total, u is not None)
                mean[a:b], var[a:b] = out[0], out[1]
                if xtu is not None:
                    xtu[a:b] = out[2]

        run_parallel(work, len(parts), one_blas_thread=True)
        return mean, var, xtu
    parts = _shares(n, parallel_workers(blocks))
    shares: list[Any] = [None] * len(parts)

    def work_rows(w: int) -> None:
        lo, hi = parts[w]
        part = None if u is None else u[lo:hi]
        with np.errstate(invalid="ignore", over="ignore"):  # NaN moments
            shares[w] = _block_sums(x[lo:hi], weights[lo:hi], part, c is not None)

    run_parallel(work_rows, len(parts), one_blas_thread=True)
    with np.errstate(invalid="ignore", over="ignore"):
        return _combined([s for share in shares for s in share], total, u is not None)


def _shares(size: int, workers: int) -> list[tuple[int, int]]:
    bounds = np.linspace(0, size, max(1, workers) + 1).astype(int).tolist()
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def _block_sums(
    rows: np.ndarray, c: np.ndarray, u: np.ndarray | None, weighted: bool
) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray | None]]:
    """(C_b, m_b, M_b, (X^T u)_b) of each block of :data:`BLOCK_BYTES` (widened to
    float64) of the (n, k) ``rows`` -- a share of a row-major X, or a tile of a
    feature-major one seen transposed -- with m_b NaN where the block holds a NaN or
    an inf, whatever its weights."""
    n, k = rows.shape
    size = max(1, BLOCK_BYTES // (8 * k))
    by_feature = rows.strides[0] < rows.strides[1]  # a feature-major tile, transposed
    buf = np.empty((k, size)).T if by_feature else np.empty((size, k))  # its order
    out = []
    for a in range(0, n, size):
        b = min(n, a + size)
        xb = buf[: b - a]
        np.copyto(xb, rows[a:b], casting="unsafe")
        cb = c[a:b]
        cw = float(np.sum(cb))
        mb = (cb @ xb) / cw if cw > 0 else np.zeros(k)
        if weighted:  # a BLAS may skip a zero weight's row, NaN or not
            mb = mb + 0 * np.sum(xb, axis=0)
        prod = None if u is None else u[a:b] @ xb
        xb -= mb
        spread = cb @ np.square(xb, out=xb)
        out.append((cw, mb, spread, prod))
    return out


def _combined(
    blocks: list[Any], total: float, with_product: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """mean, var and X^T u from the blocks' sums (module docstring)."""
    w = np.array([s[0] for s in blocks])
    m = np.stack([s[1] for s in blocks])
    mean = w @ m / total
    var = (sum(s[2] for s in blocks) + w @ np.square(m - mean)) / total
    xtu = sum(s[3] for s in blocks) if with_product else None
    return mean, var, xtu
