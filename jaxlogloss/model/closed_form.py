"""Closed-form gradients and Hessians of the linear model's losses.

They exist to be checked against ``jax.grad`` / ``jax.hessian`` (``jaxlogloss.verification``)
and to teach; the library's solvers differentiate with JAX. With weights c, the
L2 strength alpha and z = X w + b, every loss has the form

    grad_w = X^T (c * g) / sum(c) + alpha w,        grad_b = sum(c * g) / sum(c)
    H      = X~^T diag(c * h) X~ / sum(c) + alpha * [I_d 0; 0 0],   X~ = [X, 1]

with g = dl/dz and h = d2l/dz2 the per-example derivatives at the logit level, read
from the loss's registry record (:mod:`jaxlogloss.losses.registry`: ``grad`` and
``curvature``), so a newly registered loss gets its closed forms here with no edit.
For the built-in losses (y_hat = sigma(z)):

* log-loss:  g = y_hat - y,                     h = y_hat (1 - y_hat)
* MSE on the sigmoid (l = (y_hat - y)^2):
             g = 2 (y_hat - y) y_hat (1 - y_hat)
             h = 2 y_hat (1 - y_hat) [y_hat (1 - y_hat) + (y_hat - y)(1 - 2 y_hat)]
  (h < 0 where a prediction is confidently wrong: the loss is not convex);
* squared error on the linear predictor (linear regression): g = z - y, h = 1 -- the
  same X^T c (prediction - y) form as the log-loss, with z in place of y_hat.

A multiclass loss (softmax) has a (K,) gradient g_i and a (K, K) Hessian block S_i per
example (softmax: G = P - Y, S_i = diag(p_i) - p_i p_i^T), and then

    H = sum_i c_i (x~_i x~_i^T) kron S_i / sum(c) + alpha * [I_dK 0; 0 0].

Hessians are matrices over the flattened parameters ``[w.ravel(), b.ravel()]`` -- the
order of :func:`flatten_params` (``jax.flatten_util.ravel_pytree``). Reference: Hastie,
Tibshirani & Friedman, *The Elements of Statistical Learning*, sec. 4.4.1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxlogloss.data.design import Design, rmatvec, row_major, weighted_gram
from jaxlogloss.losses.registry import Pointwise, get_loss
from jaxlogloss.model.objective import prepare_problem
from jaxlogloss.model.params import LinearParams, linear_logits

Array = jax.Array
Weights = Array | None
R = TypeVar("R")


def flatten_params(params: LinearParams) -> tuple[Array, Callable[[Array], Any]]:
    """``theta = [w.ravel(), b.ravel()]`` and the function mapping theta back."""
    return ravel_pytree(params)


def _weighted(
    derivative: Pointwise, params: LinearParams, X: Design, targets: Array, sw: Weights
) -> tuple[Array, Array]:
    """c_i * derivative(y_i, z_i) per example (c = 1 without weights) and sum(c)."""
    d = derivative(targets, linear_logits(params, X))  # (n,), (n, K) or (n, K, K)
    if sw is None:
        return d, jnp.asarray(targets.shape[0], d.dtype)
    return sw.reshape(sw.shape + (1,) * (d.ndim - 1)) * d, jnp.sum(sw)


def gradient_unchecked(
    params: LinearParams, X: Design, targets: Array, sw: Weights, l2: Any, loss: str
) -> LinearParams:
    """The closed-form gradient without checks (``loss`` a registered name)."""
    grad = get_loss(loss, "closed_form_gradient").grad
    cg, total = _weighted(grad, params, X, targets, sw)
    grad_w = rmatvec(X, cg) / total + l2 * params.w
    return LinearParams(w=grad_w, b=jnp.sum(cg, axis=0) / total)


def hessian_unchecked(
    params: LinearParams, X: Design, targets: Array, sw: Weights, l2: Any, loss: str
) -> Array:
    """The closed-form Hessian without checks, over ``[w.ravel(), b.ravel()]``."""
    spec = get_loss(loss, "closed_form_hessian")
    ch, total = _weighted(spec.curvature, params, X, targets, sw)
    if spec.multiclass:  # ch: (n, K, K) blocks c_i S_i
        d, k = params.w.shape
        Xr = row_major(X)
        h_ww = jnp.einsum("ij,ikm,il->jklm", Xr, ch, Xr).reshape(d * k, d * k)
        h_wb = jnp.einsum("ij,ikm->jkm", Xr, ch).reshape(d * k, k)
        h_bb = jnp.sum(ch, axis=0)
    else:  # ch: (n,)
        h_ww = weighted_gram(X, ch)
        h_wb = rmatvec(X, ch)[:, None]
        h_bb = jnp.sum(ch)[None, None]
    top = jnp.concatenate([h_ww, h_wb], axis=1)
    bottom = jnp.concatenate([h_wb.T, h_bb], axis=1)
    hess = jnp.concatenate([top, bottom], axis=0) / total
    n_w, n_b = h_ww.shape[0], h_bb.shape[0]
    penalty = jnp.concatenate([jnp.full((n_w,), l2), jnp.zeros(n_b)]).astype(hess.dtype)
    return hess + jnp.diag(penalty)


# validated public entry points run one compiled program each (inlined under an outer jit)
_gradient_jit = jax.jit(gradient_unchecked, static_argnames="loss")
_hessian_jit = jax.jit(hessian_unchecked, static_argnames="loss")


def _entry_point(fn: str, compiled: Callable[..., R], doc: str) -> Callable[..., R]:
    """The validated public form of ``compiled``: checks the problem as ``fn``."""

    def entry_point(
        params: Any,
        X: Any,
        y: Any,
        *,
        loss: str = "log_loss",
        sample_weight: Any = None,
        l2: Any = 0.0,
        soft_labels: bool = False,
    ) -> R:
        options = dict(sample_weight=sample_weight, l2=l2, soft_labels=soft_labels)
        return compiled(*prepare_problem(fn, params, X, y, loss=loss, **options), loss)

    entry_point.__name__ = entry_point.__qualname__ = fn
    entry_point.__doc__ = doc
    return entry_point


closed_form_gradient = _entry_point(
    "closed_form_gradient",
    _gradient_jit,
    """The analytic gradient of ``linear_loss`` (see the module docstring for formulas).

    Returns a LinearParams of the same shapes as ``params``.
    """,
)
closed_form_hessian = _entry_point(
    "closed_form_hessian",
    _hessian_jit,
    """The analytic Hessian of ``linear_loss`` over ``[w.ravel(), b.ravel()]``.

    Shape (d + 1, d + 1) for the binary losses, (dK + K, dK + K) for softmax.
    """,
)


def _for_loss(general: Callable[..., R], loss: str, doc: str) -> Callable[..., R]:
    """``general`` with ``loss`` fixed: the named closed forms below."""

    def named(params: Any, X: Any, y: Any, **kwargs: Any) -> R:
        return general(params, X, y, loss=loss, **kwargs)

    kind = general.__name__.rsplit("_", 1)[1]  # "gradient" or "hessian"
    named.__name__ = named.__qualname__ = f"{loss}_{kind}"
    named.__doc__ = doc
    return named


log_loss_gradient = _for_loss(
    closed_form_gradient,
    "log_loss",
    "X^T c (y_hat - y) / sum(c) + alpha w and sum(c (y_hat - y)) / sum(c).",
)
log_loss_hessian = _for_loss(
    closed_form_hessian,
    "log_loss",
    "X~^T diag(c y_hat (1 - y_hat)) X~ / sum(c) (+ alpha on the w block).",
)
mse_gradient = _for_loss(
    closed_form_gradient,
    "mse",
    "Gradient of mean (sigma(z) - y)^2: X^T c 2 (y_hat - y) y_hat (1 - y_hat) / sum(c).",
)
mse_hessian = _for_loss(
    closed_form_hessian,
    "mse",
    "Hessian of mean (sigma(z) - y)^2 (indefinite in general).",
)
softmax_gradient = _for_loss(
    closed_form_gradient,
    "softmax",
    "X^T C (P - Y) / sum(c) (+ alpha W) and the column sums for the intercepts.",
)
softmax_hessian = _for_loss(
    closed_form_hessian,
    "softmax",
    "sum_i c_i (x~_i x~_i^T) kron (diag(p_i) - p_i p_i^T) / sum(c) (+ alpha I on W).",
)
