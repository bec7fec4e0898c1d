"""The linear-logit model: z = X w + b, p = sigma(z) (binary) or softmax(z) (K classes).

Parameters are a pytree :class:`LinearParams` with weights ``w`` of shape ``(d,)``
(binary) or ``(d, K)`` (K classes) and intercept ``b`` of shape ``()`` or ``(K,)``.
``X`` is an ``(n, d)`` array or a :class:`~jaxlogloss.design.FeatureMajor` view.

The public functions validate their inputs; the private ``linear_logits`` does not and
is what compiled code calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss import _validation as v
from jaxlogloss.data.design import Design, as_design, matvec

Array = jax.Array


class LinearParams(NamedTuple):
    """Weights ``w`` ((d,) or (d, K)) and intercept ``b`` (() or (K,)). A pytree."""

    w: Array
    b: Array


def init_params(
    n_features: int,
    n_classes: int = 2,
    *,
    key: Array | None = None,
    scale: float = 0.01,
    dtype: Any = jnp.float32,
) -> LinearParams:
    """Initial parameters: zeros, or ``scale * N(0, 1)`` weights when ``key`` is given.

    Binary (``n_classes=2``): w (d,), b (); otherwise w (d, K), b (K,). The intercept
    starts at zero.

    >>> init_params(3).w.shape, init_params(3, n_classes=4).b.shape
    ((3,), (4,))
    """
    fn = "init_params"
    if (
        not isinstance(n_features, int)
        or isinstance(n_features, bool)
        or n_features < 1
    ):
        raise ValueError(
            f"{fn}: n_features must be an integer >= 1, got {n_features!r}"
        )
    if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes < 2:
        raise ValueError(f"{fn}: n_classes must be an integer >= 2, got {n_classes!r}")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{fn}: dtype must be a floating dtype, got {dtype!r}")
    w_shape = (n_features,) if n_classes == 2 else (n_features, n_classes)
    b_shape = () if n_classes == 2 else (n_classes,)
    if key is None:
        w = jnp.zeros(w_shape, dtype)
    else:
        w = scale * jax.random.normal(key, w_shape, dtype)
    return LinearParams(w=w, b=jnp.zeros(b_shape, dtype))


def as_params(fn: str, params: Any) -> LinearParams:
    """Validate params (a LinearParams or a mapping with 'w' and 'b')."""
    if isinstance(params, Mapping):
        missing = {"w", "b"} - set(params)
        if missing:
            raise ValueError(
                f"{fn}: params must have keys 'w' and 'b', missing {sorted(missing)}"
            )
        params = LinearParams(params["w"], params["b"])
    if not isinstance(params, LinearParams):
        raise TypeError(
            f"{fn}: params must be LinearParams(w, b) or a dict with 'w' and 'b', got "
            f"{type(params).__name__}"
        )
    w = v.as_float(fn, "params.w", params.w)
    b = v.as_float(fn, "params.b", params.b)
    v.check_ndim(fn, "params.w", w, (1, 2), "of shape (d,) or (d, K)")
    expected_b = () if w.ndim == 1 else (w.shape[1],)
    if b.shape != expected_b:
        raise ValueError(
            f"{fn}: params.b has shape {tuple(b.shape)} but params.w has shape "
            f"{tuple(w.shape)}; expected b of shape {expected_b}"
        )
    v.check_finite(fn, "params.w", w)
    v.check_finite(fn, "params.b", b)
    return LinearParams(w, b)


def check_model_inputs(
    fn: str, params: Any, X: Any, x_finite: bool = False
) -> tuple[LinearParams, Design]:
    params = as_params(fn, params)
    X = as_design(fn, X, finite=x_finite)
    if X.shape[1] != params.w.shape[0]:
        raise ValueError(
            f"{fn}: X has {X.shape[1]} features (shape {X.shape}) but params.w has "
            f"shape {tuple(params.w.shape)}; expected {params.w.shape[0]} features"
        )
    return params, X


def linear_logits(params: LinearParams, X: Design) -> Array:
    """X w + b without checks: (n,) for binary params, (n, K) for K classes."""
    return matvec(X, params.w) + params.b


def logits(params: Any, X: Any) -> Array:
    """The logits z = X w + b: shape (n,) for binary, (n, K) for K classes.

    >>> logits(LinearParams(jnp.array([1.0, -1.0]), jnp.array(0.5)), jnp.ones((2, 2)))
    Array([0.5, 0.5], dtype=float32)
    """
    params, X = check_model_inputs("logits", params, X)
    return linear_logits(params, X)


def predict_proba(params: Any, X: Any) -> Array:
    """P(y = 1 | x) = sigma(z) (shape (n,)), or softmax(z) (shape (n, K)) for K classes."""
    params, X = check_model_inputs("predict_proba", params, X)
    z = linear_logits(params, X)
    return jax.nn.sigmoid(z) if z.ndim == 1 else jax.nn.softmax(z, axis=-1)


def predict(params: Any, X: Any, threshold: float = 0.5) -> Array:
    """Class labels (int32): 1 where sigma(z) > threshold, else 0; argmax for K classes.

    The comparison is made on the logit scale, z > log(t / (1 - t)), so that at the
    default threshold it is exactly z > 0, as in scikit-learn's ``predict``.
    """
    fn = "predict"
    params, X = check_model_inputs(fn, params, X)
    z = linear_logits(params, X)
    if z.ndim == 2:
        return jnp.argmax(z, axis=-1).astype(jnp.int32)
    if not isinstance(threshold, int | float) or not 0.0 < float(threshold) < 1.0:
        raise ValueError(
            f"{fn}: threshold must be a number in (0, 1), got {threshold!r}"
        )
    t = float(threshold)
    cut = 0.0 if t == 0.5 else math.log(t) - math.log1p(-t)
    return (z > cut).astype(jnp.int32)
