"""Arrow columns encoded as float arrays: features, 0/1 labels and sample weights.

The encoding is ``pandas.get_dummies(drop_first=True)`` up to column order:

* numeric columns (integer, floating, boolean, decimal) are used as they are;
* string / dictionary (categorical) columns are one-hot encoded over their levels,
  sorted, with the first level dropped: for levels ``l_0 < l_1 < ... < l_k`` the column
  becomes the ``k`` features ``x_j = [value == l_j]`` named ``col[l_j]``.

The target is a column with exactly two distinct values; ``y = 1`` for the positive
label (by default the larger of the two sorted values). Weights are numeric and
``>= 0``. Missing values (null, and NaN or inf in a floating column) are errors.

Every check raises a :class:`~jaxlogloss.data.files.DataError` that starts with the
caller's name ``fn`` and names the column and the first bad row (through an
:class:`~jaxlogloss.data.files.Origin`). The fill functions write into views of a
preallocated feature-major ``xt`` of shape ``(d, n)``, a column at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from jaxlogloss.data.arrow_from_numpy import numeric_array
from jaxlogloss.data.files import (
    SHOWN_COLUMNS,
    SHOWN_VALUES,
    DataError,
    Origin,
    quote_list,
)

#: per feature column: (name, None) when numeric, (name, sorted levels) when one-hot
FeaturePlan = list[tuple[str, pa.Array | None]]


def is_string(t: pa.DataType) -> bool:
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or getattr(pa.types, "is_string_view", lambda _: False)(t)
    )


def is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def decoded(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary column as its plain values (other columns unchanged)."""
    if not pa.types.is_dictionary(col.type):
        return col
    return pa.chunked_array(
        [c.dictionary_decode() for c in col.chunks], type=col.type.value_type
    )


def as_numpy(chunk: pa.Array) -> np.ndarray:
    """The values of an Arrow array as NumPy: of a null-free number or boolean array
    read from its data buffer (a read-only view; booleans unpacked), else
    ``to_numpy``. ``Array.to_numpy`` runs Arrow's pandas conversion, which imports
    pandas where it is installed: 0.35-0.4 s of a process that reads a file."""
    t = chunk.type
    if chunk.null_count == 0 and (pa.types.is_integer(t) or pa.types.is_floating(t)):
        dtype = np.dtype(t.to_pandas_dtype())
        if len(chunk) == 0:
            return np.empty(0, dtype)
        return np.frombuffer(
            chunk.buffers()[1], dtype, len(chunk), chunk.offset * dtype.itemsize
        )
    if chunk.null_count == 0 and pa.types.is_boolean(t):
        if len(chunk) == 0:
            return np.empty(0, bool)
        bits = np.frombuffer(chunk.buffers()[1], np.uint8)
        end = chunk.offset + len(chunk)
        return np.unpackbits(bits, count=end, bitorder="little")[chunk.offset :] == 1
    return chunk.to_numpy(zero_copy_only=False)


def first_true(mask: pa.ChunkedArray) -> int | None:
    """Index of the first true entry of a boolean chunked array, or None."""
    import pyarrow.compute as pc

    offset = 0
    for chunk in mask.chunks:
        if pc.any(chunk).as_py():
            return offset + int(np.argmax(as_numpy(chunk)))
        offset += len(chunk)
    return None


def _numeric_values(col: pa.ChunkedArray) -> np.ndarray | None:
    """A null-free integer, boolean or floating column's values as one NumPy array
    where NumPy's equality is Arrow's (no float column holding both 0.0 and -0.0,
    which Arrow tells apart; half floats, which Arrow cannot sort, always); else
    None."""
    t = col.type
    if col.null_count or not (
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    ):
        return None
    values = np.concatenate([as_numpy(c) for c in col.chunks] or [np.empty(0)])
    if pa.types.is_floating(t) and t != pa.float16():  # (Arrow cannot sort halves)
        zero_signs = np.signbit(values[values == 0])
        if zero_signs.any() and not zero_signs.all():
            return None
    return values


def levels_of(col: pa.ChunkedArray) -> pa.Array:
    """The distinct values of a (decoded, null-free) column, sorted. A number or
    boolean column's by NumPy: Arrow's compute module takes 0.06-0.15 s to import."""
    values = _numeric_values(col)
    if values is not None:  # (pa.array of a NumPy array imports pandas)
        return numeric_array(np.unique(values), col.type)
    import pyarrow.compute as pc

    levels = pc.unique(col)
    return levels.take(pc.array_sort_indices(levels))


def check_present(fn: str, col: pa.ChunkedArray, what: str, origin: Origin) -> None:
    """DataError at the first missing (null) or NaN/inf entry of a column."""
    if col.null_count:
        import pyarrow.compute as pc  # 0.06-0.15 s to import: where there is an error

        i = first_true(pc.is_null(col))
        where, row = origin.column(what, i)
        raise DataError(
            f"{fn}: {where} has a missing value (empty cell, NA, NaN or null) at {row}"
        )
    if pa.types.is_floating(col.type):
        # NumPy's test on the (null-free, so zero-copy) chunks: 4x faster than Arrow's
        # is_finite/invert/any; Arrow finds the row only where there is one
        chunks = (as_numpy(chunk) for chunk in col.chunks)
        if all(np.isfinite(values).all() for values in chunks):
            return
        import pyarrow.compute as pc

        i = first_true(pc.invert(pc.is_finite(col)))
        if i is not None:
            where, row = origin.column(what, i)
            raise DataError(
                f"{fn}: {where} has a non-finite value {col[i].as_py()} at {row}; "
                "expected finite numbers"
            )


def _chunks_as_numpy(col: pa.ChunkedArray) -> Iterator[tuple[int, np.ndarray]]:
    """(offset, values) of each chunk of a numeric/boolean column, as NumPy."""
    offset = 0
    for chunk in col.chunks:
        if pa.types.is_decimal(chunk.type):
            import pyarrow.compute as pc

            chunk = pc.cast(chunk, pa.float64())
        yield offset, as_numpy(chunk)
        offset += len(chunk)


def fill_numeric(
    fn: str, row: np.ndarray, col: pa.ChunkedArray, name: str, origin: Origin
) -> None:
    """``row[:] = col`` for a present numeric column; DataError if a value overflows."""
    with np.errstate(over="ignore"):  # too large for float32: reported below
        for offset, values in _chunks_as_numpy(col):
            row[offset : offset + len(values)] = values
    widening = pa.types.is_floating(col.type) and col.type.bit_width <= 8 * row.itemsize
    if not widening and (
        pa.types.is_floating(col.type) or pa.types.is_decimal(col.type)
    ):
        # only a narrowing copy can overflow (the file's values are finite: checked)
        bad = ~np.isfinite(row)
        if bad.any():  # finite in the file (checked before): too large for the dtype
            i = int(np.argmax(bad))
            where, at = origin.column(name, i)
            raise DataError(
                f"{fn}: {where} has the value {col[i].as_py()} at {at}, too large "
                f"for {row.dtype} (max {np.finfo(row.dtype).max:.3g}); use "
                "dtype='float64'"
            )


def fill_onehot(block: np.ndarray, col: pa.ChunkedArray, levels: pa.Array) -> None:
    """Rows ``block[j - 1] = (col == levels[j])`` for j >= 1 (first level dropped)."""
    import pyarrow.compute as pc

    block[...] = 0
    offset = 0
    for chunk in col.chunks:
        codes = as_numpy(pc.index_in(chunk, value_set=levels))
        hit = np.flatnonzero(codes >= 1)
        block[codes[hit] - 1, offset + hit] = 1
        offset += len(chunk)


def fill_labels(y: np.ndarray, col: pa.ChunkedArray, positive: pa.Scalar) -> None:
    """``y[:] = (col == positive)``, a chunk at a time (by NumPy where
    :func:`levels_of` is)."""
    values = _numeric_values(col)
    if values is not None:
        np.equal(values, positive.as_py(), out=y, casting="unsafe")
        return
    import pyarrow.compute as pc

    offset = 0
    for chunk in col.chunks:
        hit = as_numpy(pc.equal(chunk, positive))
        y[offset : offset + len(chunk)] = hit
        offset += len(chunk)


def plan_features(
    fn: str, table: pa.Table, features: list[str], origin: Origin
) -> FeaturePlan:
    """Per feature column: (name, None) when numeric, (name, sorted levels) when not."""
    plan = []
    for name in features:
        col = table[name]
        t = col.type
        if pa.types.is_dictionary(t) or is_string(t):
            col = decoded(col)
            check_present(fn, col, name, origin)
            plan.append((name, levels_of(col)))
        elif is_number(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
            check_present(fn, col, name, origin)
            plan.append((name, None))
        else:
            raise DataError(
                f"{fn}: column {name!r} of '{origin.label}' has type {t}, neither "
                "numeric nor categorical (string); leave it out of features"
            )
    return plan


def feature_names(fn: str, plan: FeaturePlan, label: str) -> list[str]:
    """The names of the encoded features: ``col`` or ``col[level]`` (first dropped)."""
    names: list[str] = []
    for name, levels in plan:
        if levels is None:
            names.append(name)
        else:
            names += [f"{name}[{lv}]" for lv in levels.to_pylist()[1:]]
    if not names:
        columns = [name for name, _ in plan]
        raise DataError(
            f"{fn}: the features of '{label}' "
            f"({quote_list(columns, SHOWN_COLUMNS)}) are categorical with a single "
            "level each; no feature columns remain after one-hot encoding"
        )
    return names


def check_target_type(fn: str, t: pa.DataType, target: str, label: str) -> None:
    """The target must hold class labels: numbers, strings or booleans."""
    if not (
        is_string(t) or is_number(t) or pa.types.is_boolean(t) or pa.types.is_null(t)
    ):
        raise DataError(
            f"{fn}: target column {target!r} of '{label}' has type {t}; "
            "expected two class labels (numbers, strings or booleans)"
        )


def _same_label(value: Any, positive: Any) -> bool:
    """Whether the file's label ``value`` is the label ``positive`` the user gave."""
    if isinstance(value, bool):
        if isinstance(positive, str):
            return positive.strip().lower() in (
                ("true", "1") if value else ("false", "0")
            )
        return isinstance(positive, bool | int | float | np.number) and (
            positive == value
        )
    if isinstance(value, int | float) and not isinstance(positive, bool):
        if isinstance(positive, str):
            try:
                return float(positive) == value
            except ValueError:
                return False
        return isinstance(positive, int | float | np.number) and positive == value
    if isinstance(value, str):
        return value == str(positive)
    return value == positive


def read_target(
    fn: str,
    table: pa.Table,
    target: str,
    positive: Any,
    origin: Origin,
    y: np.ndarray,
    multiclass: bool = False,
) -> tuple[Any, ...]:
    """Fill ``y`` (1 for the positive label); return (negative, positive). With
    ``multiclass`` a target of K > 2 levels is read too: ``y`` the index of each
    row's level in the sorted levels, which are returned (the first the reference)."""
    col = decoded(table[target])
    check_target_type(fn, col.type, target, origin.label)
    check_present(fn, col, target, origin)
    levels = levels_of(col)
    values = levels.to_pylist()
    shown = f"({quote_list(values, SHOWN_VALUES)})"
    if len(values) > 2 and multiclass:
        if positive is not None:
            raise DataError(
                f"{fn}: a positive label only applies to a two-level target; target "
                f"column {target!r} of '{origin.label}' has {len(values)} levels "
                f"{shown} (fitted as multinomial, the first the reference): leave "
                f"out positive={positive!r}"
            )
        import pyarrow.compute as pc

        offset = 0
        for chunk in col.chunks:
            codes = as_numpy(pc.index_in(chunk, value_set=levels))
            y[offset : offset + len(chunk)] = codes
            offset += len(chunk)
        return tuple(values)
    if len(values) != 2:
        hint = (
            ""
            if len(values) < 2
            else " here (more levels fit a multinomial model "
            "in memory: read_table(..., multiclass=True), or fit without --stream)"
        )
        raise DataError(
            f"{fn}: target column {target!r} of '{origin.label}' has "
            f"{len(values)} distinct value{'s' if len(values) != 1 else ''} "
            f"{shown}; expected exactly two classes{hint}"
        )
    if positive is None:
        hit = 1
    else:
        matches = [i for i, x in enumerate(values) if _same_label(x, positive)]
        if len(matches) != 1:
            raise DataError(
                f"{fn}: positive={positive!r} is not a value of target column "
                f"{target!r} of '{origin.label}'; its values are "
                f"{quote_list(values, SHOWN_VALUES)}"
            )
        hit = matches[0]
    # the level's own Arrow scalar: pa.scalar() of a Python value imports pandas
    fill_labels(y, col, levels[hit])
    return values[1 - hit], values[hit]


def read_weights(
    fn: str,
    table: pa.Table,
    weights: str,
    origin: Origin,
    dtype: np.dtype,
    *,
    require_positive: bool = True,
) -> np.ndarray:
    """The weights column as an array of ``dtype``: numeric, present, ``>= 0`` (and
    not all zero with ``require_positive``)."""
    col = decoded(table[weights])
    if not is_number(col.type):
        raise DataError(
            f"{fn}: weights column {weights!r} of '{origin.label}' must be "
            f"numeric, got type {col.type}"
        )
    check_present(fn, col, weights, origin)
    sw = np.empty(table.num_rows, dtype)
    fill_numeric(fn, sw, col, weights, origin)
    negative = sw < 0
    if negative.any():
        i = int(np.argmax(negative))
        where, row = origin.column(weights, i)
        raise DataError(
            f"{fn}: {where} has a negative weight {col[i].as_py()} at {row}; "
            "weights must be >= 0"
        )
    if require_positive and not (sw > 0).any():
        raise all_zero_weights(fn, weights, origin.label)
    return sw


def all_zero_weights(fn: str, weights: str, label: str) -> DataError:
    return DataError(
        f"{fn}: weights column {weights!r} of '{label}' is all zero; "
        "at least one weight must be positive"
    )
