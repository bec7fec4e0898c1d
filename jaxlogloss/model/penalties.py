"""The penalty registry: what is added to the mean loss, on the raw weights w only.

A :class:`Penalty` is one record: its value P(w; alpha) as a pure JAX function (the
solvers get its gradient and Hessian from autodiff through the objective), and whether
it is smooth. The intercept is never penalised.

* ``"none"`` -- P = 0;
* ``"l2"``   -- P = (alpha / 2) ||w||^2 (scikit-learn's ``C = 1 / (n alpha)``).

A non-smooth penalty (L1, elastic net) registers here with ``smooth=False``; the
objectives carry it unchanged and a proximal solver reads ``smooth`` to know that it
must handle it.
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
    """One penalty: ``value(w, alpha)`` on the raw weights, and whether it is smooth."""

    name: str
    value: Callable[[Array, Any], Array]
    smooth: bool = True
    description: str = ""


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


register_penalty(Penalty("none", lambda w, alpha: jnp.zeros((), w.dtype), True, "0"))
register_penalty(Penalty("l2", l2_value, True, "(alpha / 2) ||w||^2"))
