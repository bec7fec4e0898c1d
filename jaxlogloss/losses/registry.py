"""The loss registry: each loss is one record, the only place a loss is declared.

A :class:`Loss` holds the pointwise loss at the logit level l(y, z), its first and
second derivatives in z, and two facts the rest of the library reads:

* ``convex`` -- l is convex in z, so the objective is convex in (w, b) and Newton's
  Hessian X~^T diag(c l'') X~ is positive semi-definite;
* ``multiclass`` -- z and y are (n, K) rows (softmax); the derivatives are then the
  (K,) gradient and the (K, K) Hessian of each example;
* ``classification`` -- l scores the class probabilities sigma(z) (softmax(z)), as
  opposed to a regression loss on z itself (``squared_error``); ``gradcheck`` verifies
  the classification losses (its "all" and its choices).

Closed forms (:mod:`jaxlogloss.model.closed_form`), the objective
(:mod:`jaxlogloss.model.objective`), gradient checks, config validation and the solvers
look a loss up here by name; :func:`register_loss` adds one::

    register_loss(Loss("hinge2", value=..., grad=..., curvature=..., convex=True))

after which ``linear_loss(..., loss="hinge2")``, ``train``, ``gradcheck`` and the
``[loss] names`` config key accept it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from jaxlogloss.losses.pointwise import (
    logit_log_loss_pointwise,
    mse_pointwise,
    softmax_cross_entropy_pointwise,
)

Array = jax.Array
Pointwise = Callable[[Array, Array], Array]


@dataclass(frozen=True)
class Loss:
    """One loss: l(y, z), dl/dz, d2l/dz2 and its properties.

    Attributes:
      name: the name users pass (``loss="..."``, config ``[loss] names``).
      value: per-example l(y, z); binary: (n,) -> (n,); multiclass: (n, K) -> (n,).
      grad: per-example dl/dz (same shape as z).
      curvature: per-example d2l/dz2; binary (n,), multiclass (n, K, K).
      convex: whether l is convex in z.
      multiclass: whether z and y are (n, K) rows.
      description: one line for listings.
      classification: whether l scores class probabilities (False: regression on z).
    """

    name: str
    value: Pointwise
    grad: Pointwise
    curvature: Pointwise
    convex: bool
    multiclass: bool = False
    description: str = ""
    classification: bool = True


_REGISTRY: dict[str, Loss] = {}


def register_loss(loss: Loss, *, replace: bool = False) -> Loss:
    """Add ``loss`` to the registry (``replace=True`` to redefine a name)."""
    if not isinstance(loss, Loss):
        raise TypeError(f"register_loss: expected a Loss record, got {type(loss)}")
    if not loss.name or not isinstance(loss.name, str):
        raise ValueError(
            f"register_loss: a loss needs a non-empty name, got {loss.name!r}"
        )
    if loss.name in _REGISTRY and not replace:
        raise ValueError(
            f"register_loss: a loss named {loss.name!r} is already registered; "
            "pass replace=True to redefine it"
        )
    _REGISTRY[loss.name] = loss
    return loss


def unregister_loss(name: str) -> None:
    """Remove a registered loss (for tests and plug-ins that clean up)."""
    _REGISTRY.pop(name, None)


def loss_names() -> tuple[str, ...]:
    """The registered loss names, in registration order."""
    return tuple(_REGISTRY)


def get_loss(name: Any, fn: str = "get_loss", arg: str = "loss") -> Loss:
    """The record of loss ``name``; an unknown name is a ValueError listing the known."""
    if not isinstance(name, str) or name not in _REGISTRY:
        known = ", ".join(repr(n) for n in _REGISTRY)
        raise ValueError(f"{fn}: {arg} must be one of {known}, got {name!r}")
    return _REGISTRY[name]


class LossNames(Sequence[str]):
    """A live, read-only view of registered names (``jaxlogloss.LOSSES``).

    ``where`` keeps the losses it is true for; ``extra`` names follow them (as the
    ``"all"`` of gradcheck's choices). The view follows registrations as they happen.
    """

    def __init__(
        self, where: Callable[[Loss], bool] | None = None, extra: tuple[str, ...] = ()
    ) -> None:
        self._where = where
        self._extra = extra

    def names(self) -> tuple[str, ...]:
        """The names the view holds now."""
        where = self._where
        kept = [n for n, loss in _REGISTRY.items() if where is None or where(loss)]
        return (*kept, *self._extra)

    def __getitem__(self, i: Any) -> Any:
        return self.names()[i]

    def __len__(self) -> int:
        return len(self.names())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else False

    def __hash__(self) -> int:
        return hash(self.names())

    def __repr__(self) -> str:
        return repr(self.names())


LOSSES = LossNames()


# --- the built-in losses --------------------------------------------------------------


def _sigmoid_curvature(y: Array, z: Array) -> Array:
    p = jax.nn.sigmoid(z)
    return p * (1 - p)


def _mse_value(y: Array, z: Array) -> Array:
    return mse_pointwise(y, jax.nn.sigmoid(z))


def _mse_grad(y: Array, z: Array) -> Array:
    p = jax.nn.sigmoid(z)
    return 2 * (p - y) * p * (1 - p)


def _mse_curvature(y: Array, z: Array) -> Array:
    p = jax.nn.sigmoid(z)
    s = p * (1 - p)
    return 2 * s * (s + (p - y) * (1 - 2 * p))


def _softmax_grad(y: Array, z: Array) -> Array:
    return jax.nn.softmax(z, axis=-1) - y


def _softmax_curvature(y: Array, z: Array) -> Array:
    p = jax.nn.softmax(z, axis=-1)
    return jax.vmap(jnp.diag)(p) - p[..., :, None] * p[..., None, :]


register_loss(
    Loss(
        "log_loss",
        value=logit_log_loss_pointwise,
        grad=lambda y, z: jax.nn.sigmoid(z) - y,
        curvature=_sigmoid_curvature,
        convex=True,
        description="max(z, 0) - y z + log1p(e^-|z|): the log-loss on the logit",
    )
)
register_loss(
    Loss(
        "mse",
        value=_mse_value,
        grad=_mse_grad,
        curvature=_mse_curvature,
        convex=False,
        description="(sigma(z) - y)^2: the squared error on the sigmoid (non-convex)",
    )
)
register_loss(
    Loss(
        "softmax",
        value=softmax_cross_entropy_pointwise,
        grad=_softmax_grad,
        curvature=_softmax_curvature,
        convex=True,
        multiclass=True,
        description="-log softmax(z)[y]: K classes, one-hot rows",
    )
)
register_loss(
    Loss(
        "squared_error",
        value=lambda y, z: 0.5 * jnp.square(z - y),
        grad=lambda y, z: z - y,
        curvature=lambda y, z: jnp.ones_like(z),
        convex=True,
        description="(z - y)^2 / 2 on the linear predictor: linear regression",
        classification=False,
    )
)
