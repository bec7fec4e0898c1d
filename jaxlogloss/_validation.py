"""Checks at the public boundary.

Every public function validates its inputs here, *outside* the compiled hot path:
shapes and dtypes are checked always (they are static, so the checks also run while
tracing under ``jit``/``vmap``/``grad``), values (NaN/inf, label sets, ranges) only on
concrete arrays, because a tracer has no values to look at.

Every error names the function and the argument, says what was expected and what was
given, in one line, e.g. ``log_loss: y has shape (3,) but p has shape (2,); ...``.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

REDUCTIONS = ("mean", "sum", "none")


def is_traced(x: Any) -> bool:
    """True when ``x`` is a tracer (inside jit, vmap, grad...): no values to check."""
    return isinstance(x, jax.core.Tracer)


def _as_host(fn: str, name: str, x: Any) -> np.ndarray:
    """``x`` (not a JAX array) as a NumPy array of numbers, else a TypeError."""
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise TypeError(
            f"{fn}: {name} must be an array of numbers, got {type(x).__name__}"
        ) from err
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(
            f"{fn}: {name} must be an array of numbers, got dtype {arr.dtype}"
        )
    return arr


def _as_array(fn: str, name: str, x: Any) -> jax.Array:
    if isinstance(x, jax.Array):
        return x
    # device_put, not jnp.asarray: the same dtype rules without an XLA program to
    # compile for each new shape (jnp.asarray stages a copy through jit)
    return jax.device_put(_as_host(fn, name, x))


def _cast(arr: Any, dtype: Any) -> jax.Array:
    """``arr`` as ``dtype`` on the device: a host array is cast by NumPy first (no
    XLA program, one transfer)."""
    if isinstance(arr, np.ndarray):
        return jax.device_put(arr.astype(jax.dtypes.canonicalize_dtype(dtype)))
    return arr.astype(dtype)


def as_float(fn: str, name: str, x: Any) -> jax.Array:
    """``x`` as a JAX array of a floating dtype; TypeError for int, bool, complex.

    A Python ``int`` or ``float`` scalar is taken as a float (JAX's default float).
    """
    if isinstance(x, int | float) and not isinstance(x, bool):
        return jnp.asarray(float(x), dtype=jnp.result_type(float))
    arr = _as_array(fn, name, x)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        raise TypeError(
            f"{fn}: {name} must have a floating dtype (float16, bfloat16, float32 or "
            f"float64), got {arr.dtype}"
        )
    return arr


def as_labels(fn: str, name: str, y: Any, dtype: Any) -> jax.Array:
    """Labels as an array of ``dtype``; bool, integer and float inputs are accepted."""
    arr = y if isinstance(y, jax.Array) else _as_host(fn, name, y)
    if not (
        jnp.issubdtype(arr.dtype, jnp.floating)
        or jnp.issubdtype(arr.dtype, jnp.integer)
        or arr.dtype == jnp.bool_
    ):
        raise TypeError(f"{fn}: {name} must be real-valued labels, got {arr.dtype}")
    return _cast(arr, dtype)


def float_dtype(*arrays: jax.Array) -> Any:
    """The floating dtype the computation runs in: promotion of the float inputs."""
    floats = [a.dtype for a in arrays if jnp.issubdtype(a.dtype, jnp.floating)]
    return jnp.result_type(*floats)


def check_reduction(fn: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{fn}: reduction must be one of 'mean', 'sum', 'none', got {reduction!r}"
        )


def check_same_shape(fn: str, name_a: str, a: Any, name_b: str, b: Any) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{fn}: {name_a} has shape {tuple(a.shape)} but {name_b} has shape "
            f"{tuple(b.shape)}; they must match exactly (no broadcasting)"
        )


def check_ndim(fn: str, name: str, x: Any, ndims: tuple[int, ...], what: str) -> None:
    if x.ndim not in ndims:
        raise ValueError(
            f"{fn}: {name} must be {what}, got shape {tuple(x.shape)} "
            f"({x.ndim} dimension{'s' if x.ndim != 1 else ''})"
        )


def check_nonempty(fn: str, name: str, x: Any) -> None:
    if x.size == 0:
        raise ValueError(
            f"{fn}: {name} is empty (shape {tuple(x.shape)}); expected at least one "
            "example"
        )


def _first(mask: np.ndarray) -> str:
    """The index of the first True entry of ``mask``, as text: ``3`` or ``(3, 1)``."""
    flat = int(np.argmax(mask.ravel()))
    if mask.ndim <= 1:
        return str(flat)
    return str(tuple(int(i) for i in np.unravel_index(flat, mask.shape)))


def _fmt(value: Any) -> str:
    if np.isnan(value):
        return "NaN"
    return np.format_float_positional(float(value), trim="-", precision=6)


def _host(x: Any) -> np.ndarray:
    """The values of ``x`` as a NumPy array (zero-copy for CPU arrays).

    Value checks run on the host: no compilation per shape, and user data usually
    arrives as NumPy anyway. Narrow floats are widened so every ufunc applies.
    """
    host = np.asarray(x)
    if host.dtype.kind == "V" or (host.dtype.kind == "f" and host.dtype.itemsize < 4):
        host = host.astype(np.float32)  # float16, bfloat16
    return host


def _raise_first(
    fn: str, name: str, bad: np.ndarray, host: np.ndarray, what: str
) -> None:
    if bad.any():
        value = host.ravel()[int(np.argmax(bad.ravel()))]
        raise ValueError(
            f"{fn}: {name} {what.format(value=_fmt(value))} at index {_first(bad)}"
        )


LARGE = 1 << 20  # elements: above this, checks avoid whole-array temporaries


@jax.jit
def _all_finite(x: jax.Array) -> jax.Array:
    return jnp.all(jnp.isfinite(x))


def _all_finite_host(host: np.ndarray) -> bool:
    flat = host.reshape(-1)
    return all(
        bool(np.isfinite(flat[i : i + LARGE]).all()) for i in range(0, flat.size, LARGE)
    )


def on_cpu(x: jax.Array) -> bool:
    """Whether every shard of ``x`` lives in host memory (NumPy reads it in place:
    no compiled reduction, whose boolean temporary measured 1/8 of X's float64 bytes
    at the peak of a fit)."""
    try:
        return all(dev.platform == "cpu" for dev in x.devices())
    except Exception:  # a deleted or abstract array: the compiled check decides
        return False


def check_finite(fn: str, name: str, x: Any) -> None:
    """ValueError naming the first NaN or inf entry of ``x`` (concrete arrays only).

    Large arrays are scanned without a copy (chunks on the host for NumPy and CPU JAX
    arrays, a compiled reduction for arrays on an accelerator); the index of the first
    bad entry is only looked for on failure.
    """
    if is_traced(x) or not jnp.issubdtype(x.dtype, jnp.floating):
        return
    if x.size > LARGE:
        if isinstance(x, jax.Array) and not on_cpu(x):
            if bool(_all_finite(x)):
                return
        elif _all_finite_host(np.asarray(x)):  # a CPU jax array: zero-copy
            return
    host = _host(x)
    bad = ~np.isfinite(host)
    _raise_first(fn, name, bad, host, "must be finite, got {value}")


def check_not_nan(fn: str, name: str, x: Any) -> None:
    if is_traced(x):
        return
    host = _host(x)
    _raise_first(fn, name, np.isnan(host), host, "must be a number, got {value}")


def check_interval(
    fn: str, name: str, x: Any, what: str, lo: float = 0.0, hi: float = 1.0
) -> None:
    """ValueError naming the first entry of ``x`` outside ``[lo, hi]``."""
    if is_traced(x):
        return
    host = _host(x)
    bad = ~((host >= lo) & (host <= hi))
    _raise_first(
        fn,
        name,
        bad,
        host,
        f"must be {what} in [{_fmt(lo)}, {_fmt(hi)}], got {{value}}",
    )


def check_binary_labels(fn: str, name: str, y: Any, soft_labels: bool) -> None:
    """Labels must be exactly 0 or 1 (or in [0, 1] with ``soft_labels=True``)."""
    check_finite(fn, name, y)
    if soft_labels:
        check_interval(fn, name, y, "soft labels")
        return
    if is_traced(y):
        return
    host = _host(y)
    bad = (host != 0) & (host != 1)
    _raise_first(
        fn,
        name,
        bad,
        host,
        "must contain only the labels 0 and 1 (pass soft_labels=True for labels in "
        "[0, 1]), got {value}",
    )


def check_onehot_rows(fn: str, name: str, onehot: Any, soft_labels: bool) -> None:
    """One-hot rows: entries in {0, 1} (in [0, 1] with ``soft_labels``), each row sums to 1."""
    if is_traced(onehot):
        return
    if soft_labels:
        check_finite(fn, name, onehot)
        check_interval(fn, name, onehot, "class probabilities")
    else:
        check_binary_labels(fn, name, onehot, soft_labels=False)
    sums = np.sum(_host(onehot), axis=-1, dtype=np.float64)
    tol = 1e-3 if soft_labels else 0.0
    _raise_first(
        fn, f"{name} rows", np.abs(sums - 1) > tol, sums, "must sum to 1, got {value}"
    )


def check_sample_weight(
    fn: str, sample_weight: Any, shape: tuple[int, ...], dtype: Any
) -> jax.Array | None:
    """Validated weights of ``shape`` cast to ``dtype``, or None when not given.

    Weights must be finite, non-negative and not all zero.
    """
    if sample_weight is None:
        return None
    name = "sample_weight"
    sw = sample_weight
    if not isinstance(sw, jax.Array):
        sw = _as_host(fn, name, sw)
    if not (
        jnp.issubdtype(sw.dtype, jnp.floating) or jnp.issubdtype(sw.dtype, jnp.integer)
    ):
        raise TypeError(f"{fn}: {name} must be real numbers, got {sw.dtype}")
    if sw.shape != tuple(shape):
        raise ValueError(
            f"{fn}: {name} has shape {tuple(sw.shape)} but the labels have shape "
            f"{tuple(shape)}; they must match exactly (no broadcasting)"
        )
    if is_traced(sw):
        return sw.astype(dtype)
    host = _host(sw) if isinstance(sw, jax.Array) else sw.astype(dtype)
    check_finite(fn, name, host)
    _raise_first(fn, name, host < 0, host, "must be non-negative, got {value}")
    if not np.any(host > 0):
        raise ValueError(
            f"{fn}: {name} is all zero; at least one weight must be positive"
        )
    return _cast(host, dtype) if not isinstance(sw, jax.Array) else sw.astype(dtype)


as_array = _as_array  # the public name other subpackages use


def check_number(fn: str, name: str, value: Any, low: float, strict: bool) -> float:
    """``value`` as a finite float > low (``strict``) or >= low, else a ValueError."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value > low if strict else value >= low)
    if not ok:
        op = ">" if strict else ">="
        raise ValueError(
            f"{fn}: {name} must be a finite number {op} {low:g}, got {value!r}"
        )
    return value


def check_count(fn: str, name: str, value: Any) -> int:
    """``value`` as an integer >= 1 (not a bool), else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{fn}: {name} must be an integer >= 1, got {value!r}")
    return value
