"""Losses lifted to the parameters of the linear-logit model.

    L(w, b) = sum_i c_i l(y_i, z_i) / sum_i c_i + (alpha / 2) ||w||^2,   z = X w + b

with ``c`` the sample weights (all ones by default), ``l`` a pointwise loss at the logit
level and ``alpha`` the L2 strength. The intercept ``b`` is never penalised.

Losses by name (:data:`LOSSES`):

* ``"log_loss"`` -- l = max(z, 0) - y z + log1p(e^-|z|), convex in (w, b);
* ``"mse"``      -- l = (sigma(z) - y)^2, the squared error on the sigmoid, non-convex;
* ``"softmax"``  -- l = -log softmax(z)[y], K classes, convex;
* ``"squared_error"`` -- l = (z - y)^2 / 2 on the linear predictor itself: linear
  regression on the 0/1 labels, the model the source texts start from. Its gradient
  X^T (z - y) / n has the same form as the log-loss's X^T (sigma(z) - y) / n.

Targets inside the compiled functions are floats: ``(n,)`` labels for the binary losses
and ``(n, K)`` one-hot rows for softmax; :func:`prepare_problem` turns what a user
gives (integer labels, one-hot rows, booleans) into these after validating them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss import _validation as v
from jaxlogloss.data.design import Design
from jaxlogloss.losses.pointwise import reduce_loss
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.params import LinearParams, check_model_inputs, linear_logits

Array = jax.Array


def check_loss_name(fn: str, loss: str) -> None:
    """Raise a ValueError naming ``fn`` unless ``loss`` is a registered loss."""
    get_loss(loss, fn)


def pointwise_loss(loss: str) -> Callable[[Array, Array], Array]:
    """The per-example loss ``l(targets, z)`` at the logit level for a loss name."""
    return get_loss(loss, "pointwise_loss").value


def l2_penalty(params: LinearParams, l2: Any) -> Array:
    """(alpha / 2) ||w||^2; the intercept is not penalised."""
    return 0.5 * l2 * jnp.sum(jnp.square(params.w))


class Problem(NamedTuple):
    """The data of a fitting problem in compiled form: a pytree for jit and vmap.

    ``targets`` are float labels (n,) (binary losses) or one-hot rows (n, K) (softmax);
    ``sample_weight`` is None or (n,); ``l2`` a scalar.
    """

    X: Design
    targets: Array
    sample_weight: Array | None = None
    l2: Any = 0.0


def objective(
    params: LinearParams,
    X: Design,
    targets: Array,
    sample_weight: Array | None = None,
    l2: Any = 0.0,
    loss: str = "log_loss",
) -> Array:
    """The penalised (weighted) mean loss, without checks: what compiled code calls."""
    per_example = get_loss(loss, "objective").value(targets, linear_logits(params, X))
    return reduce_loss(per_example, sample_weight, "mean") + l2_penalty(params, l2)


def prepare_problem(
    fn: str,
    params: Any,
    X: Any,
    y: Any,
    *,
    loss: str,
    sample_weight: Any = None,
    l2: Any = 0.0,
    soft_labels: bool = False,
    x_finite: bool = False,
) -> tuple[LinearParams, Design, Array, Array | None, Any]:
    """Validate a (params, X, y, weights, l2) problem and return it in compiled form
    (``x_finite``: X was made from a source its caller checked, so its values are not
    scanned again)."""
    check_loss_name(fn, loss)
    params, X = check_model_inputs(fn, params, X, x_finite)
    dtype = params.w.dtype
    n = X.shape[0]
    if get_loss(loss, fn).multiclass:
        if params.w.ndim != 2:
            raise ValueError(
                f"{fn}: loss {loss!r} needs params.w of shape (d, K), got "
                f"{tuple(params.w.shape)}; use init_params(d, n_classes=K)"
            )
        targets = _softmax_targets(fn, y, n, params.w.shape[1], dtype, soft_labels)
    else:
        if params.w.ndim != 1:
            raise ValueError(
                f"{fn}: loss {loss!r} is binary and needs params.w of shape (d,), got "
                f"{tuple(params.w.shape)}"
            )
        targets = v.as_labels(fn, "y", y, dtype)
        if targets.shape != (n,):
            raise ValueError(
                f"{fn}: y has shape {tuple(targets.shape)} but X has {n} rows; "
                f"expected y of shape ({n},)"
            )
        v.check_binary_labels(fn, "y", targets, soft_labels)
    sw = v.check_sample_weight(fn, sample_weight, (n,), dtype)
    l2 = _check_l2(fn, l2)
    return params, X, targets, sw, l2


def _check_l2(fn: str, l2: Any) -> Any:
    if isinstance(l2, bool) or not (
        isinstance(l2, int | float) or (hasattr(l2, "shape") and l2.shape == ())
    ):
        raise TypeError(f"{fn}: l2 must be a non-negative number, got {l2!r}")
    if v.is_traced(l2):
        return l2
    value = float(l2)
    if not (value >= 0 and value < float("inf")):
        raise ValueError(f"{fn}: l2 must be a finite number >= 0, got {value!r}")
    return l2


def _softmax_targets(
    fn: str, y: Any, n: int, n_classes: int, dtype: Any, soft_labels: bool
) -> Array:
    labels = v._as_array(fn, "y", y)
    if labels.shape == (n,):
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise TypeError(
                f"{fn}: y of shape ({n},) must hold integer class labels for loss "
                f"'softmax', got dtype {labels.dtype}"
            )
        v.check_interval(
            fn, "y", labels, f"class labels of {n_classes} classes", 0, n_classes - 1
        )
        return jax.nn.one_hot(labels, n_classes, dtype=dtype)
    if labels.shape == (n, n_classes):
        onehot = v.as_labels(fn, "y", labels, dtype)
        v.check_onehot_rows(fn, "y", onehot, soft_labels)
        return onehot
    raise ValueError(
        f"{fn}: y has shape {tuple(labels.shape)}; expected integer labels of shape "
        f"({n},) or one-hot rows of shape ({n}, {n_classes})"
    )


def linear_loss(
    params: Any,
    X: Any,
    y: Any,
    *,
    loss: str = "log_loss",
    sample_weight: Any = None,
    l2: Any = 0.0,
    soft_labels: bool = False,
) -> Array:
    """The penalised weighted mean loss of the linear model at ``params``.

    L = sum_i c_i l(y_i, x_i w + b) / sum_i c_i + (l2 / 2) ||w||^2.

    Args:
      params: LinearParams (w (d,) for binary losses, (d, K) for softmax).
      X: (n, d) float array or FeatureMajor view.
      y: labels (n,) in {0, 1}; for softmax integer labels (n,) or one-hot (n, K).
      loss: "log_loss", "mse" (squared error on the sigmoid) or "softmax".
      sample_weight: optional non-negative (n,) weights.
      l2: L2 strength alpha >= 0 on w (never on b).
      soft_labels: accept labels in [0, 1].

    Differentiate it with ``jax.grad`` (validation runs once at trace time), or use
    :func:`objective` with already-validated inputs inside compiled loops.

    >>> X = jnp.array([[1.0], [-1.0]]); y = jnp.array([1.0, 0.0])
    >>> round(float(linear_loss(LinearParams(jnp.zeros(1), jnp.zeros(())), X, y)), 6)
    0.693147
    """
    fn = "linear_loss"
    params, X, targets, sw, l2 = prepare_problem(
        fn,
        params,
        X,
        y,
        loss=loss,
        sample_weight=sample_weight,
        l2=l2,
        soft_labels=soft_labels,
    )
    return _objective_jit(params, X, targets, sw, l2, loss)


# the validated entry point runs one compiled program (inlined under an outer jit)
_objective_jit = jax.jit(objective, static_argnames="loss")
