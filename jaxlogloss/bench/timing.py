"""Timing hygiene and the hardware limit.

Every figure is a wall time after a warm-up (compile) call, with
``jax.block_until_ready``; :func:`median_seconds` takes the median over fresh inputs.
The memory-bandwidth ceiling is (bytes read + bytes written) / time of an in-place
``x + 1``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of ``fn()`` (its result ready) and the result."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - start, out


def median_seconds(fn: Callable[[Any], Any], inputs: list[Any]) -> float:
    """Median wall time of ``fn(x)`` over fresh inputs, after a warm-up call."""
    jax.block_until_ready(fn(inputs[0]))
    times = []
    for x in inputs[1:]:
        start = time.perf_counter()
        jax.block_until_ready(fn(x))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def select_device(kind: str) -> jax.Device:
    """The first JAX device of ``kind`` ("cpu" or "gpu"); ValueError when none."""
    try:
        devices = jax.devices(kind)
    except RuntimeError:
        devices = []
    if not devices:
        raise ValueError(
            f"bench: --device {kind}: no {kind.upper()} is visible to JAX; for a GPU "
            "install the CUDA build: pip install -e '.[cuda13]'"
        )
    return devices[0]


def memory_ceiling(device: jax.Device, nbytes: int, repeats: int) -> dict[str, Any]:
    """Bandwidth of an in-place x + 1 over ``nbytes`` (read + write)."""
    n = nbytes // 4
    x = jax.device_put(jnp.zeros((n,), jnp.float32), device)
    step = jax.jit(lambda x: x + 1.0, donate_argnums=0)
    x = jax.block_until_ready(step(x))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        x = jax.block_until_ready(step(x))
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    return {"bytes": 4 * n, "seconds": seconds, "gb_per_s": 2 * 4 * n / seconds / 1e9}
