"""Checks of the arguments that the readers and the data-set generators share."""

from __future__ import annotations

from typing import Any

import numpy as np

DTYPES = ("float32", "float64")


def float_dtype(fn: str, dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy dtype, float32 or float64, else a ValueError naming ``fn``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ValueError(f"{fn}: dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt


def count(fn: str, name: str, value: Any, low: int) -> int:
    """``value`` as an int ``>= low``, else a ValueError naming ``fn`` and ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < low
    ):
        raise ValueError(f"{fn}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)
