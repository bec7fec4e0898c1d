"""Closed-form gradients and Hessians of the linear model's losses.

They exist to be checked against ``jax.grad`` / ``jax.hessian`` (``jaxlogloss.verification``)
and to teach; the library's solvers differentiate with JAX. With weights c, the
L2 strength alpha and z = X w + b, every loss here has the form

    grad_w = X^T (c * g) / sum(c) + alpha w,        grad_b = sum(c * g) / sum(c)
    H      = X~^T diag(c * h) X~ / sum(c) + alpha * [I_d 0; 0 0],   X~ = [X, 1]

with per-example first and second derivatives at the logit level:

* log-loss:  g = y_hat - y,                     h = y_hat (1 - y_hat)
* MSE on the sigmoid (l = (y_hat - y)^2):
             g = 2 (y_hat - y) y_hat (1 - y_hat)
             h = 2 y_hat (1 - y_hat) [y_hat (1 - y_hat) + (y_hat - y)(1 - 2 y_hat)]
  (h < 0 where a prediction is confidently wrong: the loss is not convex);
* softmax:   G = P - Y (n, K),  per-example Hessian block S_i = diag(p_i) - p_i p_i^T;
* squared error on the linear predictor (linear regression): g = z - y, h = 1 -- the
  same X^T c (prediction - y) form as the log-loss, with z in place of y_hat.

Hessians are matrices over the flattened parameters ``[w.ravel(), b.ravel()]`` -- the
order of :func:`flatten_params` (``jax.flatten_util.ravel_pytree``). Reference: Hastie,
Tibshirani & Friedman, *The Elements of Statistical Learning*, sec. 4.4.1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxlogloss.data.design import Design, rmatvec, row_major, weighted_gram
from jaxlogloss.model.objective import prepare_problem
from jaxlogloss.model.params import LinearParams, linear_logits

Array = jax.Array


def flatten_params(params: LinearParams) -> tuple[Array, Callable[[Array], Any]]:
    """``theta = [w.ravel(), b.ravel()]`` and the function mapping theta back."""
    return ravel_pytree(params)


def _weights(targets: Array, sample_weight: Array | None) -> tuple[Array, Array]:
    n = targets.shape[0]
    c = jnp.ones((n,), targets.dtype) if sample_weight is None else sample_weight
    return c, jnp.sum(c)


def _binary_derivatives(loss: str, y: Array, z: Array) -> tuple[Array, Array]:
    """Per-example dl/dz and d2l/dz2 for the binary losses."""
    if loss == "squared_error":  # linear regression: l = (z - y)^2 / 2
        return z - y, jnp.ones_like(z)
    p = jax.nn.sigmoid(z)
    s = p * (1 - p)
    if loss == "log_loss":
        return p - y, s
    # mse on the sigmoid
    return 2 * (p - y) * s, 2 * s * (s + (p - y) * (1 - 2 * p))


def gradient_unchecked(
    params: LinearParams,
    X: Design,
    targets: Array,
    sw: Array | None,
    l2: Any,
    loss: str,
) -> LinearParams:
    c, total = _weights(targets, sw)
    z = linear_logits(params, X)
    if loss == "softmax":
        g = jax.nn.softmax(z, axis=-1) - targets
        cg = c[:, None] * g
    else:
        g, _ = _binary_derivatives(loss, targets, z)
        cg = c * g
    grad_w = rmatvec(X, cg) / total + l2 * params.w
    return LinearParams(w=grad_w, b=jnp.sum(cg, axis=0) / total)


def hessian_unchecked(
    params: LinearParams,
    X: Design,
    targets: Array,
    sw: Array | None,
    l2: Any,
    loss: str,
) -> Array:
    c, total = _weights(targets, sw)
    z = linear_logits(params, X)
    d = params.w.shape[0]
    if loss == "softmax":
        p = jax.nn.softmax(z, axis=-1)
        k = p.shape[1]
        # S_i = diag(p_i) - p_i p_i^T, weighted by c_i
        s = c[:, None, None] * (jax.vmap(jnp.diag)(p) - p[:, :, None] * p[:, None, :])
        Xr = row_major(X)
        h_ww = jnp.einsum("ij,ikm,il->jklm", Xr, s, Xr).reshape(d * k, d * k)
        h_wb = jnp.einsum("ij,ikm->jkm", Xr, s).reshape(d * k, k)
        h_bb = jnp.sum(s, axis=0)
        n_w = d * k
    else:
        _, h = _binary_derivatives(loss, targets, z)
        ch = c * h
        h_ww = weighted_gram(X, ch)
        h_wb = rmatvec(X, ch)[:, None]
        h_bb = jnp.sum(ch)[None, None]
        n_w = d
    top = jnp.concatenate([h_ww, h_wb], axis=1)
    bottom = jnp.concatenate([h_wb.T, h_bb], axis=1)
    hess = jnp.concatenate([top, bottom], axis=0) / total
    penalty = jnp.concatenate(
        [jnp.full((n_w,), l2, hess.dtype), jnp.zeros(h_bb.shape[0], hess.dtype)]
    )
    return hess + jnp.diag(penalty.astype(hess.dtype))


# validated public entry points run one compiled program each (inlined under an outer jit)
_gradient_jit = jax.jit(gradient_unchecked, static_argnames="loss")
_hessian_jit = jax.jit(hessian_unchecked, static_argnames="loss")


def closed_form_gradient(
    params: Any,
    X: Any,
    y: Any,
    *,
    loss: str = "log_loss",
    sample_weight: Any = None,
    l2: Any = 0.0,
    soft_labels: bool = False,
) -> LinearParams:
    """The analytic gradient of ``linear_loss`` (see the module docstring for formulas).

    Returns a LinearParams of the same shapes as ``params``.
    """
    args = prepare_problem(
        "closed_form_gradient",
        params,
        X,
        y,
        loss=loss,
        sample_weight=sample_weight,
        l2=l2,
        soft_labels=soft_labels,
    )
    return _gradient_jit(*args, loss)


def closed_form_hessian(
    params: Any,
    X: Any,
    y: Any,
    *,
    loss: str = "log_loss",
    sample_weight: Any = None,
    l2: Any = 0.0,
    soft_labels: bool = False,
) -> Array:
    """The analytic Hessian of ``linear_loss`` over ``[w.ravel(), b.ravel()]``.

    Shape (d + 1, d + 1) for the binary losses, (dK + K, dK + K) for softmax.
    """
    args = prepare_problem(
        "closed_form_hessian",
        params,
        X,
        y,
        loss=loss,
        sample_weight=sample_weight,
        l2=l2,
        soft_labels=soft_labels,
    )
    return _hessian_jit(*args, loss)


def log_loss_gradient(params: Any, X: Any, y: Any, **kwargs: Any) -> LinearParams:
    """X^T c (y_hat - y) / sum(c) + alpha w and sum(c (y_hat - y)) / sum(c)."""
    return closed_form_gradient(params, X, y, loss="log_loss", **kwargs)


def log_loss_hessian(params: Any, X: Any, y: Any, **kwargs: Any) -> Array:
    """X~^T diag(c y_hat (1 - y_hat)) X~ / sum(c) (+ alpha on the w block)."""
    return closed_form_hessian(params, X, y, loss="log_loss", **kwargs)


def mse_gradient(params: Any, X: Any, y: Any, **kwargs: Any) -> LinearParams:
    """Gradient of mean (sigma(z) - y)^2: X^T c 2 (y_hat - y) y_hat (1 - y_hat) / sum(c)."""
    return closed_form_gradient(params, X, y, loss="mse", **kwargs)


def mse_hessian(params: Any, X: Any, y: Any, **kwargs: Any) -> Array:
    """Hessian of mean (sigma(z) - y)^2 (indefinite in general)."""
    return closed_form_hessian(params, X, y, loss="mse", **kwargs)


def softmax_gradient(params: Any, X: Any, y: Any, **kwargs: Any) -> LinearParams:
    """X^T C (P - Y) / sum(c) (+ alpha W) and the column sums for the intercepts."""
    return closed_form_gradient(params, X, y, loss="softmax", **kwargs)


def softmax_hessian(params: Any, X: Any, y: Any, **kwargs: Any) -> Array:
    """sum_i c_i (x~_i x~_i^T) kron (diag(p_i) - p_i p_i^T) / sum(c) (+ alpha I on W)."""
    return closed_form_hessian(params, X, y, loss="softmax", **kwargs)
