"""Arrow arrays built from NumPy buffers, without ``pa.array``.

``pa.array`` imports pandas whenever pandas is installed (it asks whether its argument
is a pandas object): ~0.24 s of a ``jaxlogloss predict`` process that reads and writes
nothing else through pandas. The columns here are made from their buffers instead
(``pa.Array.from_buffers``), with the types ``pa.array`` infers:

* :func:`numeric_array` -- a 1-D integer, floating or boolean NumPy array as the Arrow
  array of its dtype (booleans bit-packed, least significant bit first);
* :func:`label_array` -- ``labels[index]`` for a few labels (a model's classes) and an
  integer index a row, typed as ``pa.array(list(labels))`` would type them: int64 for
  integers, double for numbers mixing integers and floats, bool, string. Other labels
  fall back to ``pa.array``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

_NUMERIC_KINDS = "iufb"  # signed, unsigned, floating, boolean


def numeric_array(values: np.ndarray, arrow_type: Any = None) -> pa.Array:
    """A 1-D null-free integer, floating or boolean NumPy array as an Arrow array of
    the same type (``arrow_type``: that type's, whose values these bytes are; other
    arrays: ``pa.array``)."""
    values = np.asarray(values)
    if values.ndim != 1 or values.dtype.kind not in _NUMERIC_KINDS:
        return pa.array(values, arrow_type)
    if values.dtype.kind == "b":
        data = np.packbits(values, bitorder="little")
    else:
        data = np.ascontiguousarray(values)
    if arrow_type is None:
        arrow_type = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(arrow_type, len(values), [None, pa.py_buffer(data)])


def _label_kind(labels: Sequence[Any]) -> str | None:
    """'bool', 'int', 'float' or 'str' where every label is a Python value of that
    kind (integers and floats together: 'float'), else None."""
    kinds = set()
    for v in labels:  # Python values only (Arrow keeps a NumPy scalar's own type)
        if type(v) is bool:
            kinds.add("bool")
        elif type(v) is int:
            kinds.add("int")
        elif type(v) is float:
            kinds.add("float")
        elif type(v) is str:
            kinds.add("str")
        else:
            return None
    if kinds <= {"int", "float"} and "float" in kinds:
        return "float"
    return kinds.pop() if len(kinds) == 1 else None


def label_array(labels: Sequence[Any], index: np.ndarray) -> pa.Array:
    """The Arrow array of ``labels[index[i]]`` (module docstring for its type)."""
    index = np.asarray(index, np.intp)
    kind = _label_kind(labels)
    if kind in ("bool", "int", "float"):
        dtype = {"bool": np.bool_, "int": np.int64, "float": np.float64}[kind]
        try:
            values = np.asarray(labels, dtype)
        except OverflowError:  # an integer beyond int64: Arrow's own inference
            values = None
        if values is not None:
            return numeric_array(values[index])
    if kind == "str":
        encoded = [s.encode("utf-8") for s in labels]
        sizes = np.array([len(b) for b in encoded], np.int64)[index]
        offsets = np.zeros(len(index) + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        if offsets[-1] < 2**31:  # a string array's offsets are int32
            width = max((len(b) for b in encoded), default=0)
            table = np.zeros((len(encoded), max(width, 1)), np.uint8)
            for k, b in enumerate(encoded):
                table[k, : len(b)] = np.frombuffer(b, np.uint8)
            rows = table[index]
            data = rows[np.arange(rows.shape[1]) < sizes[:, None]]
            buffers = [
                None,
                pa.py_buffer(offsets.astype(np.int32)),
                pa.py_buffer(np.ascontiguousarray(data)),
            ]
            return pa.Array.from_buffers(pa.string(), len(index), buffers)
    return pa.array(list(labels)).take(numeric_array(index.astype(np.int64)))
