"""The penalty registry: what is added to the mean loss, on the raw weights w only.

A :class:`Penalty` is one record: its value P(w; alpha) as a pure JAX function (the
solvers get its gradient and Hessian from autodiff through the objective), and whether
it is smooth. The intercept is never penalised.

* ``"none"``       -- P = 0;
* ``"l2"``         -- P = (alpha / 2) ||w||^2 (scikit-learn's ``C = 1 / (n alpha)``);
* ``"l1"``         -- P = alpha ||w||_1 (not smooth);
* ``"elasticnet"`` -- P = alpha (r ||w||_1 + (1 - r)/2 ||w||^2), r = ``l1_ratio``.

Every one of them is the elastic net

    P(w) = alpha sum_j f_j (r |w_j| + (1 - r)/2 w_j^2)

at a fixed ``l1_ratio`` r (``Penalty.l1_ratio``: 0 for "l2", 1 for "l1", None where the
user chooses it) with per-feature penalty factors f_j >= 0 (glmnet's ``penalty.factor``;
ones by default): :func:`elastic_net_value`. scikit-learn's ``C`` is 1 / (n alpha) and
glmnet's ``lambda`` is alpha (its ``alpha`` is r). ``value(w, alpha)`` is P with r at
its default (0.5 for "elasticnet") and f = 1. A penalty with ``smooth=False`` is
handled by the proximal solvers (:mod:`jaxlogloss.solvers.prox_newton`,
:mod:`jaxlogloss.solvers.fista`), which add it themselves to a penalty-free objective.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array


@dataclass(frozen=True)
class Penalty:
    """One penalty: ``value(w, alpha)`` on the raw weights, and whether it is smooth.
    ``curvature(w, alpha)``, where given, is the diagonal d2P/dw_j2 of a separable
    smooth penalty (w's shape): the objectives' Hessians then need no autodiff of P
    (whose trace is most of a first call's compile); None: ``jax.hessian``."""

    name: str
    value: Callable[[Array, Any], Array]
    smooth: bool = True
    description: str = ""
    l1_ratio: float | None = 0.0  # the fixed r of the elastic net; None: user's choice
    curvature: Callable[[Array, Any], Array] | None = None


_REGISTRY: dict[str, Penalty] = {}


def register_penalty(penalty: Penalty, *, replace: bool = False) -> Penalty:
    """Add ``penalty`` to the registry (``replace=True`` to redefine a name)."""
    if penalty.name in _REGISTRY and not replace:
        raise ValueError(
            f"register_penalty: a penalty named {penalty.name!r} is already registered"
        )
    _REGISTRY[penalty.name] = penalty
    return penalty


def penalty_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get_penalty(name: Any, fn: str = "get_penalty") -> Penalty:
    """The record of penalty ``name``; an unknown name is a ValueError listing the known."""
    if not isinstance(name, str) or name not in _REGISTRY:
        known = ", ".join(repr(n) for n in _REGISTRY)
        raise ValueError(f"{fn}: penalty must be one of {known}, got {name!r}")
    return _REGISTRY[name]


def l2_value(w: Array, alpha: Any) -> Array:
    """(alpha / 2) ||w||^2."""
    return 0.5 * alpha * jnp.sum(jnp.square(w))


def elastic_net_value(
    w: Array, alpha: Any, l1_ratio: Any = 1.0, penalty_factor: Any = None
) -> Array:
    """alpha sum_j f_j (r |w_j| + (1 - r)/2 w_j^2) on raw w ((d,) or (d, K): f per row)."""
    f = jnp.ones(w.shape[0], w.dtype) if penalty_factor is None else penalty_factor
    f = f if w.ndim == 1 else f[:, None]
    terms = l1_ratio * jnp.abs(w) + 0.5 * (1 - l1_ratio) * jnp.square(w)
    return alpha * jnp.sum(f * terms)


def resolve_l1_ratio(name: str, l1_ratio: Any, fn: str = "resolve_l1_ratio") -> float:
    """The r that penalty ``name`` uses: its fixed one, or the user's (in [0, 1])."""
    fixed = get_penalty(name, fn).l1_ratio
    if fixed is not None:
        return float(fixed)
    ok = isinstance(l1_ratio, int | float) and not isinstance(l1_ratio, bool)
    if not ok or not 0.0 <= float(l1_ratio) <= 1.0:
        raise ValueError(f"{fn}: l1_ratio must be a number in [0, 1], got {l1_ratio!r}")
    return float(l1_ratio)


def l2_curvature(w: Array, alpha: Any) -> Array:
    """d2/dw_j2 of (alpha / 2) ||w||^2: alpha everywhere."""
    return jnp.full_like(w, alpha)


register_penalty(
    Penalty(
        "none", lambda w, alpha: jnp.zeros((), w.dtype), True, "0", None,
        lambda w, alpha: jnp.zeros_like(w),
    )
)  # fmt: skip
register_penalty(
    Penalty("l2", l2_value, True, "(alpha / 2) ||w||^2", 0.0, l2_curvature)
)
register_penalty(Penalty("l1", elastic_net_value, False, "alpha ||w||_1", 1.0))
register_penalty(
    Penalty(
        "elasticnet",
        lambda w, alpha: elastic_net_value(w, alpha, 0.5),
        False,
        "alpha (r ||w||_1 + (1 - r)/2 ||w||^2)",
        None,
    )
)
