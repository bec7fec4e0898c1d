"""Pointwise losses and their reductions.

Each public loss validates its inputs (see ``_validation``), computes a per-example
loss with a private pure function, and reduces it with one explicit ``reduction``:

* ``"mean"`` -- the mean, or the weighted mean ``sum(w * l) / sum(w)`` with weights;
* ``"sum"``  -- ``sum(w * l)`` (``sum(l)`` without weights);
* ``"none"`` -- the per-example values ``w * l`` (``l`` without weights).

The private ``*_pointwise`` functions carry no checks; the model, objective and
training code call them inside ``jit``.

Numerics (the reason this module exists):

* ``log_loss`` clips ``p`` to ``[eps, 1 - eps]`` with ``eps`` the machine epsilon of
  ``p``'s dtype, as ``sklearn.metrics.log_loss`` does (it clips ``p`` and ``1 - p``).
* ``log_loss_from_logits`` uses ``max(z, 0) - y z + log1p(exp(-|z|))``: the linear
  part cancels exactly for labels 0 and 1 and the tail is added on its own
  (``log1p(exp(-20)) = 2.06e-9`` survives, where ``softplus(z) - y * z`` rounds to 0),
  finite for ``|z|`` up to the dtype's max, a zero label never multiplies ``inf``, and its
  derivative is exactly ``sigmoid(z) - y`` (a custom JVP).
* ``softmax_cross_entropy`` uses ``log_softmax`` (max-shifted), so logits of ``1e30``
  stay finite.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from jaxlogloss import _validation as v

Array = jax.Array


# --- private pointwise functions (no checks; used inside jit) ---------------------


def log_loss_pointwise(y: Array, p: Array) -> Array:
    """-(y log p + (1 - y) log(1 - p)) with p and 1 - p clipped to [eps, 1 - eps]."""
    eps = jnp.finfo(p.dtype).eps
    p_pos = jnp.clip(p, eps, 1 - eps)
    p_neg = jnp.clip(1 - p, eps, 1 - eps)
    return -(y * jnp.log(p_pos) + (1 - y) * jnp.log(p_neg))


@jax.custom_jvp
def logit_log_loss_pointwise(y: Array, z: Array) -> Array:
    """-y log sigma(z) - (1 - y) log(1 - sigma(z)) = max(z, 0) - y z + log1p(e^-|z|).

    The linear part max(z, 0) - y z is exact for labels 0 and 1 (z - z = 0), and the
    tail log1p(e^-|z|) is added on its own, so a confident right prediction keeps its
    tiny loss (2.06e-9 at z = 20). One exp and one log1p per example (jax.nn.softplus
    costs several times more on the CPU). Derivatives: d/dz = sigma(z) - y exactly
    (``jax.nn.sigmoid``, whose own derivative gives the Hessian), d/dy = -z.
    """
    return jnp.maximum(z, 0) - y * z + jnp.log1p(jnp.exp(-jnp.abs(z)))


@logit_log_loss_pointwise.defjvp
def _logit_log_loss_jvp(
    primals: tuple[Array, Array], tangents: tuple[Array, Array]
) -> tuple[Array, Array]:
    y, z = primals
    dy, dz = tangents
    return logit_log_loss_pointwise(y, z), (jax.nn.sigmoid(z) - y) * dz - z * dy


def mse_pointwise(y: Array, p: Array) -> Array:
    """(p - y)^2."""
    return jnp.square(p - y)


def softmax_cross_entropy_pointwise(y: Array, logits: Array) -> Array:
    """-sum_k y_k log softmax(logits)_k for one-hot (or probability) rows ``y``."""
    return -jnp.sum(y * jax.nn.log_softmax(logits, axis=-1), axis=-1)


def softmax_cross_entropy_labels_pointwise(labels: Array, logits: Array) -> Array:
    """-log softmax(logits)[label] for integer class labels."""
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]


def reduce_loss(
    per_example: Array, sample_weight: Array | None, reduction: str = "mean"
) -> Array:
    """Apply weights and ``reduction`` ("mean", "sum" or "none") to per-example losses."""
    if sample_weight is not None:
        per_example = sample_weight * per_example
    if reduction == "none":
        return per_example
    total = jnp.sum(per_example)
    if reduction == "sum":
        return total
    denom = per_example.size if sample_weight is None else jnp.sum(sample_weight)
    return total / denom


@functools.partial(jax.jit, static_argnames=("pointwise", "reduction"))
def reduce_pointwise(
    pointwise: Any, y: Array, x: Array, sample_weight: Array | None, reduction: str
) -> Array:
    """``reduce_loss(pointwise(y, x), ...)`` as one compiled program per public call.

    Inlined when called under an outer jit; ``pointwise`` and ``reduction`` are static.
    """
    return reduce_loss(pointwise(y, x), sample_weight, reduction)


# --- public, validated functions ---------------------------------------------------


def sigmoid(z: Any) -> Array:
    """The logistic function sigma(z) = 1 / (1 + exp(-z)), in (0, 1) for finite z.

    Stable for any z (``jax.nn.sigmoid``); sigma(+-inf) = 1 and 0. NaN is rejected.

    >>> float(sigmoid(0.0))
    0.5
    """
    z = v.as_float("sigmoid", "z", z)
    v.check_not_nan("sigmoid", "z", z)
    return jax.nn.sigmoid(z)


def _binary_loss(
    fn: str,
    pointwise: Any,
    y: Any,
    x: Any,
    sample_weight: Any,
    reduction: str,
    soft_labels: bool,
    probabilities: bool,
) -> Array:
    """Check (y, x) as ``fn`` and reduce ``pointwise(y, x)``: the binary losses' body.

    ``x`` is probabilities ``p`` (finite, in [0, 1]) or logits ``z`` (finite). Checks
    run in one order: reduction, x's dtype, y, shapes, labels, weights, x's values.
    """
    x_name = "p" if probabilities else "z"
    v.check_reduction(fn, reduction)
    x = v.as_float(fn, x_name, x)
    y = v.as_labels(fn, "y", y, x.dtype)
    v.check_same_shape(fn, "y", y, x_name, x)
    v.check_nonempty(fn, "y", y)
    v.check_binary_labels(fn, "y", y, soft_labels)
    sw = v.check_sample_weight(fn, sample_weight, y.shape, x.dtype)
    v.check_finite(fn, x_name, x)
    if probabilities:
        v.check_interval(fn, x_name, x, "probabilities")
    return reduce_pointwise(pointwise, y, x, sw, reduction)


def log_loss(
    y: Any,
    p: Any,
    *,
    sample_weight: Any = None,
    reduction: str = "mean",
    soft_labels: bool = False,
) -> Array:
    """Binary log-loss (cross-entropy) of probabilities ``p`` for labels ``y``.

    l_i = -(y_i log p_i + (1 - y_i) log(1 - p_i)), with p_i and 1 - p_i clipped to
    [eps, 1 - eps] (eps = machine epsilon of p's dtype), as in
    ``sklearn.metrics.log_loss``.

    Args:
      y: labels in {0, 1} (bool, int or float), same shape as ``p``; with
        ``soft_labels=True`` any values in [0, 1].
      p: predicted probabilities of the positive class, in [0, 1], float dtype.
      sample_weight: optional non-negative weights of ``y``'s shape.
      reduction: "mean" (weighted mean with weights), "sum" or "none".
      soft_labels: accept labels in [0, 1] instead of only {0, 1}.

    Returns:
      a scalar (mean/sum) or the per-example losses (none), in ``p``'s dtype.

    >>> round(float(log_loss([1, 0, 1], [0.9, 0.2, 0.6])), 4)
    0.2798
    """
    fn, pointwise = "log_loss", log_loss_pointwise
    return _binary_loss(
        fn, pointwise, y, p, sample_weight, reduction, soft_labels, True
    )


def log_loss_from_logits(
    y: Any,
    z: Any,
    *,
    sample_weight: Any = None,
    reduction: str = "mean",
    soft_labels: bool = False,
) -> Array:
    """Binary log-loss of logits ``z``: l_i = max(z_i, 0) - y_i z_i + log1p(e^-|z_i|).

    Equal to ``log_loss(y, sigmoid(z))`` without the clipping; value and gradient
    (sigma(z) - y) are finite and accurate to rounding for |z| up to 1e30 and beyond.

    Args:
      y: labels in {0, 1}, same shape as ``z`` (``soft_labels=True``: in [0, 1]).
      z: logits, float dtype, finite.
      sample_weight, reduction, soft_labels: as in :func:`log_loss`.

    >>> round(float(log_loss_from_logits([1.0], [0.0])), 6)
    0.693147
    """
    fn, pointwise = "log_loss_from_logits", logit_log_loss_pointwise
    return _binary_loss(
        fn, pointwise, y, z, sample_weight, reduction, soft_labels, False
    )


def mse_loss(
    y: Any,
    p: Any,
    *,
    sample_weight: Any = None,
    reduction: str = "mean",
    soft_labels: bool = False,
) -> Array:
    """Squared error of probabilities: l_i = (p_i - y_i)^2 (the Brier score's terms).

    The loss the source texts reject for classification: composed with the sigmoid it
    is non-convex in the parameters (see ``jaxlogloss.verification``).

    Args: as in :func:`log_loss`.

    >>> round(float(mse_loss([1, 0], [0.9, 0.2])), 4)
    0.025
    """
    fn, pointwise = "mse_loss", mse_pointwise
    return _binary_loss(
        fn, pointwise, y, p, sample_weight, reduction, soft_labels, True
    )


def softmax_cross_entropy(
    y: Any,
    logits: Any,
    *,
    sample_weight: Any = None,
    reduction: str = "mean",
    soft_labels: bool = False,
) -> Array:
    """K-class cross-entropy: l_i = -log softmax(logits_i)[y_i].

    At K = 2 with logits (0, z) it equals ``log_loss_from_logits(y, z)``.

    Args:
      y: integer class labels in [0, K) of shape ``logits.shape[:-1]``, or one-hot
        rows of shape ``logits.shape`` (rows of probabilities with ``soft_labels``).
      logits: (..., K) float array, finite.
      sample_weight: optional weights of shape ``logits.shape[:-1]``.
      reduction: "mean", "sum" or "none".

    >>> round(float(softmax_cross_entropy(jnp.array([1]), jnp.array([[0.0, 0.0]]))), 6)
    0.693147
    """
    fn = "softmax_cross_entropy"
    v.check_reduction(fn, reduction)
    logits = v.as_float(fn, "logits", logits)
    if logits.ndim < 1 or logits.shape[-1] < 2:
        raise ValueError(
            f"{fn}: logits must have shape (..., K) with K >= 2 classes, got shape "
            f"{tuple(logits.shape)}"
        )
    v.check_nonempty(fn, "logits", logits)
    v.check_finite(fn, "logits", logits)
    n_classes = logits.shape[-1]
    labels = v.as_array(fn, "y", y)
    batch_shape = logits.shape[:-1]
    if labels.shape == batch_shape:
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise TypeError(
                f"{fn}: y of shape {tuple(labels.shape)} must hold integer class "
                f"labels, got dtype {labels.dtype} (one-hot rows need shape "
                f"{tuple(logits.shape)})"
            )
        v.check_interval(
            fn, "y", labels, f"class labels of {n_classes} classes", 0, n_classes - 1
        )
        pointwise, target = softmax_cross_entropy_labels_pointwise, labels
    elif labels.shape == logits.shape:
        onehot = v.as_labels(fn, "y", labels, logits.dtype)
        v.check_onehot_rows(fn, "y", onehot, soft_labels)
        pointwise, target = softmax_cross_entropy_pointwise, onehot
    else:
        raise ValueError(
            f"{fn}: y has shape {tuple(labels.shape)} but logits has shape "
            f"{tuple(logits.shape)}; expected integer labels of shape "
            f"{tuple(batch_shape)} or one-hot rows of shape {tuple(logits.shape)}"
        )
    sw = v.check_sample_weight(fn, sample_weight, batch_shape, logits.dtype)
    return reduce_pointwise(pointwise, target, logits, sw, reduction)
