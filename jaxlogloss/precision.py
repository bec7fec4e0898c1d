"""Floating-point precision switches that always restore what they change."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax


def x64_enabled() -> bool:
    """Whether JAX's 64-bit mode (float64 arrays) is on."""
    return bool(jax.config.read("jax_enable_x64"))


@contextlib.contextmanager
def enable_x64(enabled: bool = True) -> Iterator[None]:
    """Switch ``jax_enable_x64`` for the ``with`` block and restore it afterwards.

    >>> with enable_x64():
    ...     import jax.numpy as jnp
    ...     str(jnp.zeros(1, dtype="float64").dtype)
    'float64'
    """
    previous = x64_enabled()
    jax.config.update("jax_enable_x64", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)
