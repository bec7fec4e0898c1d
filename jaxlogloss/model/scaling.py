"""Feature standardisation as a change of parameters, not a copy of X.

Solvers work in standardised coordinates without ever forming (X - mu) / sigma:

    z = X w + b = ((X - 1 mu^T) / sigma) w' + b'    with   w = w' / sigma,
                                                            b = b' - mu . w

so the loss is evaluated on the user's X through :func:`to_raw`, the optimisation sees
the conditioning of standardised features, and the result maps back exactly. For
softmax (w of shape (d, K)) the same holds column by column.

:func:`standardize` and :func:`unstandardize_coef` do the same on arrays the user holds
(NumPy or JAX): centre and scale the features of ``xt`` (d, n), and map a model fitted
on standardized features back to the raw scale.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss import _validation as v
from jaxlogloss.data.design import (
    Design,
    FeatureMajor,
    block_layout,
    block_start,
    budget_rows,
    by_feature,
    feature_block,
    host_view,
    rmatvec,
    row_block,
)
from jaxlogloss.data.host_moments import host_moments
from jaxlogloss.model.params import LinearParams

Array = jax.Array


class Scaling(NamedTuple):
    """Per-feature ``mean`` and ``scale`` (std; 1 for constant features). A pytree."""

    mean: Array
    scale: Array


def identity_scaling(d: int, dtype: Any) -> Scaling:
    return Scaling(jnp.zeros((d,), dtype), jnp.ones((d,), dtype))


def feature_moments(
    X: Design,
    sample_weight: Array | None = None,
    block_rows: int | None = None,
    dtype: Any = None,
    moment: Array | None = None,
) -> tuple[Array, ...]:
    """Weighted mean and variance of each feature, in ``dtype`` (default: X's and the
    weights' promoted; float64 for a float32 X held by a float64 fit), and with a
    ``moment`` u (n,) also X^T u = sum_i u_i x_i from the same pass (each block, in
    cache, gives its share: a fit's gradient at theta = 0 without a pass of its own).

    mean = X^T c / sum c and var = sum_i c_i (x_i - mean)^2 / sum c, centred before
    squaring (no cancellation). One pass, a block of ``block_rows`` rows at a time
    (default: :func:`~jaxlogloss.data.design.budget_rows`; a column reduction over a
    whole row-major X measured 5x slower; on a feature-major X the two row reductions
    took 2.3x as long, 298 against 128 ms at 10^6 x 100 float32 held and float64
    computed, and rounded the float32 mean 12x more); each
    block, in cache, gives its weight C_b, its mean m_b and M_b = sum_{i in b} c_i
    (x_i - m_b)^2, and the blocks combine exactly (Chan, Golub and LeVeque): var =
    (sum_b M_b + sum_b C_b (m_b - mean)^2) / sum c. A feature-major X off the CPU
    keeps the two reductions (a loop of small blocks suits an accelerator badly).
    """
    if dtype is None:
        dtype = (
            X.dtype
            if sample_weight is None
            else jnp.result_type(X.dtype, sample_weight.dtype)
        )
    n, d = X.shape
    c = jnp.ones((n,), dtype) if sample_weight is None else sample_weight
    total = jnp.sum(c)
    u = None if moment is None else moment.astype(dtype)
    if isinstance(X, FeatureMajor) and jax.default_backend() != "cpu":
        mean = rmatvec(X, c) / total  # blocked where c is wider than X
        var = jnp.sum(jnp.square(X.xt - mean[:, None]) * c, axis=1) / total
        return (mean, var) if u is None else (mean, var, rmatvec(X, u))
    if block_rows is None:  # at most 4 MiB a block in the dtype it is summed in
        block_rows = budget_rows(d, X.dtype, dtype)
    size, n_blocks = block_layout(n, block_rows)
    # an F-ordered X held in place is read as (d, size) blocks, its rows' axis last
    axis = 1 if by_feature(X) else 0
    read = feature_block if axis else row_block

    def body(i: Array, acc: tuple[Array, Array, Array]) -> tuple[Array, ...]:
        start, fresh = block_start(i, n, size)
        xb = read(X, start, size, dtype)
        cb = jnp.where(fresh, jax.lax.dynamic_slice(c, (start,), (size,)), 0)
        cb = cb.astype(dtype)
        weight = jnp.sum(cb)
        cw = cb if axis else cb[:, None]
        # column sums as reductions: 0.08 s against 0.10 s for products with cb
        # (float32 10^6 x 100; float64 0.15 s against 0.17 s)
        mb = jnp.sum(cw * xb, axis=axis) / jnp.where(weight > 0, weight, 1)
        weights, means, spread, xtu = acc
        centred = xb - (mb[:, None] if axis else mb)
        spread = spread + jnp.sum(cw * jnp.square(centred), axis=axis)
        if u is not None:
            ub = jnp.where(fresh, jax.lax.dynamic_slice(u, (start,), (size,)), 0)
            xtu = xtu + jnp.sum((ub if axis else ub[:, None]) * xb, axis=axis)
        return weights.at[i].set(weight), means.at[i].set(mb), spread, xtu

    init = (
        jnp.zeros((n_blocks,), dtype),
        jnp.zeros((n_blocks, d), dtype),
        jnp.zeros((d,), dtype),
        jnp.zeros((d,), dtype),
    )
    weights, means, spread, xtu = jax.lax.fori_loop(0, n_blocks, body, init)
    mean = weights @ means / total
    var = (spread + weights @ jnp.square(means - mean)) / total
    return (mean, var) if u is None else (mean, var, xtu)


# a feature whose scale is at most this many eps times max(1, |mean|) is constant
# (scale 1): a weighted mean's rounding leaves a constant feature a spread of a few
# eps |mean| (measured: 6 eps for a constant 4.0 under balanced class weights)
CONSTANT_SPREAD = 100.0


def constant_floor(mean: Any, dtype: Any) -> Any:
    """The scale at or below which a feature of this mean is constant."""
    xp = np if isinstance(mean, np.ndarray) else jnp
    return CONSTANT_SPREAD * xp.finfo(dtype).eps * xp.maximum(1.0, xp.abs(mean))


def scaling_from_moments(mean: Array, var: Array, l2: Any = 0.0) -> Scaling:
    """The scaling of :func:`feature_scaling` from the moments (no pass over X): a
    sweep over penalties computes the moments once. NumPy moments give NumPy
    arrays (no XLA program: :func:`host_feature_scaling`)."""
    xp = np if isinstance(mean, np.ndarray) else jnp
    scale = xp.sqrt(var + 4 * l2)
    tiny = constant_floor(mean, mean.dtype)
    return Scaling(mean, xp.where(scale > tiny, scale, 1.0).astype(mean.dtype))


def feature_scaling(
    X: Design, sample_weight: Array | None = None, l2: Any = 0.0
) -> Scaling:
    """Weighted mean of each feature and scale sqrt(var + 4 alpha) (two fused passes).

    With no penalty the scale is the standard deviation. With an L2 penalty alpha on
    the raw weights, the objective's curvature along w_j is about var_j / 4 (the
    log-loss's curvature is at most 1/4) plus alpha; dividing by var_j + 4 alpha
    balances both terms, where plain standardisation would leave a penalty curvature
    alpha / var_j that is huge for features of small spread.

    Computed in the promoted dtype of X, the weights and ``l2`` (a float64 ``l2``
    array makes the scaling of a float32 X float64).
    """
    dtype = scaling_dtype(X, sample_weight, l2)
    return scaling_from_moments(*feature_moments(X, sample_weight, dtype=dtype), l2)


def scaling_dtype(X: Any, sample_weight: Any = None, l2: Any = 0.0) -> Any:
    """The dtype a scaling is computed in: X's, the weights' and ``l2``'s promoted
    (a float64 ``l2`` array makes the scaling of a float32 X float64)."""
    return jnp.result_type(
        X.dtype, *(a for a in (sample_weight, l2) if hasattr(a, "dtype"))
    )


def host_feature_scaling(X: Any, sample_weight: Any = None, l2: Any = 0.0) -> Scaling:
    """:func:`feature_scaling` in NumPy (float64 sums, the result in the promoted
    dtype): the same moments and rule from one read of an X in host memory by NumPy
    threads (:func:`~jaxlogloss.data.host_moments.host_moments`; no XLA program, no
    copy of X)."""
    dtype = scaling_dtype(X, sample_weight, l2)
    view = host_view(X)
    if view is None:
        raise ValueError("host_feature_scaling: X must be in host memory on one CPU")
    x, feature_major = view
    c = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    mean, var, _ = host_moments(x, feature_major, c, None)
    return host_scaling(mean, var, l2, dtype)


def host_scaling(mean: np.ndarray, var: np.ndarray, l2: Any, dtype: Any) -> Scaling:
    """:func:`scaling_from_moments` of NumPy moments, cast to ``dtype`` and put on the
    default device (no XLA program)."""
    mean, var = np.asarray(mean).astype(dtype), np.asarray(var).astype(dtype)
    scaling = scaling_from_moments(mean, var, np.asarray(l2, dtype))
    return Scaling(*(jax.device_put(a) for a in scaling))


def to_raw(params: LinearParams, scaling: Scaling) -> LinearParams:
    """Parameters on standardised features -> the same model on the raw features."""
    scale = scaling.scale if params.w.ndim == 1 else scaling.scale[:, None]
    w = params.w / scale
    return LinearParams(w, params.b - scaling.mean @ w)


def to_standardized(params: LinearParams, scaling: Scaling) -> LinearParams:
    """The inverse of :func:`to_raw`."""
    scale = scaling.scale if params.w.ndim == 1 else scaling.scale[:, None]
    return LinearParams(params.w * scale, params.b + scaling.mean @ params.w)


def raw_jacobian(scaling: Scaling) -> np.ndarray:
    """A with theta_raw = A theta_std over [w, b] (binary params): covariance maps as
    A C A^T. A float64 NumPy matrix (inference runs on the host: no XLA program)."""
    mean = np.asarray(scaling.mean, np.float64)
    inv = 1 / np.asarray(scaling.scale, np.float64)
    d = mean.shape[0]
    A = np.zeros((d + 1, d + 1))
    A[np.arange(d), np.arange(d)] = inv
    A[d, :d] = -mean * inv
    A[d, d] = 1.0
    return A


def _is_jax(*arrays: Any) -> bool:
    return any(isinstance(a, jax.Array) for a in arrays)


def _check_weight_shape(fn: str, sample_weight: Any, n: int) -> None:
    shape = tuple(np.shape(sample_weight))
    if shape != (n,):
        raise ValueError(
            f"{fn}: sample_weight has shape {shape} but xt has {n} columns (examples); "
            f"expected shape ({n},)"
        )


def standardize(xt: Any, sample_weight: Any = None) -> tuple[Any, Any, Any]:
    """Centre and scale each feature (row) of ``xt`` of shape ``(d, n)``.

    Returns ``(xt_std, mean, scale)`` with ``xt_std = (xt - mean[:, None]) /
    scale[:, None]``; ``mean`` and ``scale`` are the (weighted) mean and population
    standard deviation of each feature; a constant feature gets its value as ``mean``
    and ``scale = 1`` (it standardizes to exactly 0), as does one that varies only
    where the weights are 0. NumPy in, NumPy out (statistics accumulated in float64, one row at a time, so the peak memory
    is ``xt`` plus ``xt_std``); JAX in, JAX out (works under ``jit``).

    >>> xs, m, s = standardize(np.array([[1.0, 3.0], [2.0, 2.0]]))
    >>> xs.tolist(), m.tolist(), s.tolist()
    ([[-1.0, 1.0], [0.0, 0.0]], [2.0, 2.0], [1.0, 1.0])
    """
    fn = "standardize"
    if _is_jax(xt, sample_weight):
        x = v.as_float(fn, "xt", xt)
        v.check_ndim(fn, "xt", x, (2,), "a (d, n) matrix")
        v.check_nonempty(fn, "xt", x)
        v.check_finite(fn, "xt", x)
        if sample_weight is None:
            mean = jnp.mean(x, axis=1)
            var = jnp.mean(jnp.square(x - mean[:, None]), axis=1)
        else:
            _check_weight_shape(fn, sample_weight, x.shape[1])
            w = v.check_sample_weight(fn, sample_weight, (x.shape[1],), x.dtype)
            total = jnp.sum(w)
            mean = (x @ w) / total
            var = (jnp.square(x - mean[:, None]) @ w) / total
        scale = jnp.sqrt(var)
        constant = jnp.max(x, axis=1) == jnp.min(x, axis=1)
        mean = jnp.where(constant, x[:, 0], mean)  # centred exactly to 0
        scale = jnp.where(constant | (scale == 0), jnp.ones_like(scale), scale)
        return (x - mean[:, None]) / scale[:, None], mean, scale

    x = np.asarray(xt)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: xt must have a floating dtype, got {x.dtype}")
    v.check_ndim(fn, "xt", x, (2,), "a (d, n) matrix")
    v.check_nonempty(fn, "xt", x)
    d, n = x.shape
    w = None
    if sample_weight is not None:
        _check_weight_shape(fn, sample_weight, n)
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "iuf":
            raise TypeError(
                f"{fn}: sample_weight must be real numbers, got dtype {w.dtype}"
            )
        w = w.astype(np.float64)
        v.check_finite(fn, "sample_weight", w)
        if (w < 0).any():
            i = int(np.argmax(w < 0))
            raise ValueError(
                f"{fn}: sample_weight must be non-negative, got {w[i]} at index {i}"
            )
        if not (w > 0).any():
            raise ValueError(
                f"{fn}: sample_weight is all zero; at least one weight must be positive"
            )
        total = w.sum()
    out = np.empty((d, n), x.dtype)
    mean = np.empty(d, x.dtype)
    scale = np.empty(d, x.dtype)
    for j in range(d):
        row = x[j].astype(np.float64)
        if not np.isfinite(row).all():
            i = int(np.argmax(~np.isfinite(row)))
            raise ValueError(
                f"{fn}: xt must be finite, got {row[i]} at index ({j}, {i})"
            )
        if row.max() == row.min():  # constant: centred exactly to 0, scale 1
            m, s = float(row[0]), 1.0
            row[:] = 0.0
        else:
            m = row.mean() if w is None else np.dot(w, row) / total
            row -= m
            var = np.dot(row, row) / n if w is None else np.dot(w, row * row) / total
            s = math.sqrt(var) or 1.0  # 0 when it varies only where weights are 0
        np.divide(row, s, out=out[j], casting="same_kind")
        mean[j], scale[j] = m, s
    return out, mean, scale


def unstandardize_coef(
    w_std: Any, b_std: Any, mean: Any, scale: Any
) -> tuple[Any, Any]:
    """Map a model fitted on standardized features back to the raw features.

    From ``z = w_std . (x - mean) / scale + b_std``: ``w = w_std / scale`` and
    ``b = b_std - sum(w * mean)``, so ``w . x + b`` gives the same logits on raw
    features. ``w_std`` has shape ``(d,)`` (``b_std`` a scalar) or ``(d, K)``
    (``b_std`` of shape ``(K,)``). NumPy or JAX arrays (JAX if any input is one).

    >>> w, b = unstandardize_coef(np.array([2.0]), 1.0, np.array([3.0]), np.array([2.0]))
    >>> w.tolist(), float(b)
    ([1.0], -2.0)
    """
    fn = "unstandardize_coef"
    xp = jnp if _is_jax(w_std, b_std, mean, scale) else np
    inputs = [
        a if isinstance(a, int | float) or hasattr(a, "dtype") else np.asarray(a)
        for a in (w_std, b_std, mean, scale)
    ]
    dt = xp.result_type(*inputs)
    if not xp.issubdtype(dt, xp.floating):
        dt = xp.result_type(dt, float)
    w_std, b_std, mean, scale = (xp.asarray(a, dtype=dt) for a in inputs)
    if w_std.ndim not in (1, 2):
        raise ValueError(
            f"{fn}: w_std must have shape (d,) or (d, K), got {tuple(w_std.shape)}"
        )
    d = w_std.shape[0]
    for name, a in [("mean", mean), ("scale", scale)]:
        if a.shape != (d,):
            raise ValueError(
                f"{fn}: {name} has shape {tuple(a.shape)} but w_std has shape "
                f"{tuple(w_std.shape)}; expected ({d},)"
            )
    expected_b = w_std.shape[1:]
    if b_std.shape != expected_b:
        raise ValueError(
            f"{fn}: b_std has shape {tuple(b_std.shape)} but w_std has shape "
            f"{tuple(w_std.shape)}; expected {expected_b}"
        )
    raw = to_raw(LinearParams(w_std, b_std), Scaling(mean, scale))
    return raw.w, raw.b
