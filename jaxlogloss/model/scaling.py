"""Feature standardisation as a change of parameters, not a copy of X.

Solvers work in standardised coordinates without ever forming (X - mu) / sigma:

    z = X w + b = ((X - 1 mu^T) / sigma) w' + b'    with   w = w' / sigma,
                                                            b = b' - mu . w

so the loss is evaluated on the user's X through :func:`to_raw`, the optimisation sees
the conditioning of standardised features, and the result maps back exactly. For
softmax (w of shape (d, K)) the same holds column by column.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.data.design import Design, FeatureMajor
from jaxlogloss.model.params import LinearParams

Array = jax.Array


class Scaling(NamedTuple):
    """Per-feature ``mean`` and ``scale`` (std; 1 for constant features). A pytree."""

    mean: Array
    scale: Array


def identity_scaling(d: int, dtype: Any) -> Scaling:
    return Scaling(jnp.zeros((d,), dtype), jnp.ones((d,), dtype))


def feature_scaling(
    X: Design, sample_weight: Array | None = None, l2: Any = 0.0
) -> Scaling:
    """Weighted mean of each feature and scale sqrt(var + 4 alpha) (two fused passes).

    With no penalty the scale is the standard deviation. With an L2 penalty alpha on
    the raw weights, the objective's curvature along w_j is about var_j / 4 (the
    log-loss's curvature is at most 1/4) plus alpha; dividing by var_j + 4 alpha
    balances both terms, where plain standardisation would leave a penalty curvature
    alpha / var_j that is huge for features of small spread.
    """
    xt = X.xt if isinstance(X, FeatureMajor) else X.T
    n = xt.shape[1]
    c = jnp.ones((n,), xt.dtype) if sample_weight is None else sample_weight
    total = jnp.sum(c)
    mean = (xt @ c) / total
    var = jnp.sum(jnp.square(xt - mean[:, None]) * c, axis=1) / total
    scale = jnp.sqrt(var + 4 * l2)
    tiny = jnp.finfo(xt.dtype).eps * jnp.maximum(1.0, jnp.abs(mean))
    return Scaling(mean, jnp.where(scale > tiny, scale, 1.0))


def to_raw(params: LinearParams, scaling: Scaling) -> LinearParams:
    """Parameters on standardised features -> the same model on the raw features."""
    scale = scaling.scale if params.w.ndim == 1 else scaling.scale[:, None]
    w = params.w / scale
    return LinearParams(w, params.b - scaling.mean @ w)


def to_standardized(params: LinearParams, scaling: Scaling) -> LinearParams:
    """The inverse of :func:`to_raw`."""
    scale = scaling.scale if params.w.ndim == 1 else scaling.scale[:, None]
    return LinearParams(params.w * scale, params.b + scaling.mean @ params.w)


def raw_jacobian(scaling: Scaling) -> Array:
    """A with theta_raw = A theta_std over [w, b] (binary params): covariance maps as A C A^T."""
    d = scaling.mean.shape[0]
    inv = 1 / scaling.scale
    top = jnp.concatenate([jnp.diag(inv), jnp.zeros((d, 1), inv.dtype)], axis=1)
    bottom = jnp.concatenate([-(scaling.mean * inv)[None, :], jnp.ones((1, 1))], axis=1)
    return jnp.concatenate([top, bottom.astype(inv.dtype)], axis=0)
