"""Tabular data for logistic regression: files in, a feature-major design out.

:func:`read_table` reads a CSV (``.csv``, ``.csv.gz``, ``.tsv``, ``.tsv.gz``) or
Parquet (``.parquet``, ``.pq``) file, or a directory of such files, with pyarrow and
returns a :class:`TabularData`: the features stored **feature-major** as ``xt`` of
shape ``(d, n)`` (one feature a contiguous row, the fast layout of
:class:`~jaxlogloss.design.FeatureMajor`), the 0/1 labels ``y``, optional sample
weights, the feature names and the two class labels as they appear in the file.

``xt`` is allocated once and filled column by column straight from the Arrow columns:
no ``(n, d)`` array is ever built and transposed, so reading holds at most the Arrow
table plus ``xt``, and a fit on ``design()`` needs no second copy of X in NumPy.

Encoding, the same as ``pandas.get_dummies(drop_first=True)`` up to column order:

* numeric columns (integer, floating, boolean, decimal) are used as they are;
* string / dictionary (categorical) columns are one-hot encoded over their observed
  levels, sorted, with the first level dropped; the columns are named ``col[level]``.
  Feature columns keep the order they are given in, each expanded in place.

The target is any column with exactly two distinct values; ``y = 1`` for the positive
label (by default the larger of the two sorted values, as scikit-learn does).

Bad data raises :class:`DataError`, one line naming the file, the column and the first
bad row. Rows are counted from 1 as a person counts them: in a CSV the first line after
the header is row 1. Empty cells and ``NA``, ``NaN``, ``null`` and the like are missing
values (pyarrow's defaults, which are also pandas').

:func:`standardize` and :func:`unstandardize_coef` centre and scale the features and map
a model fitted on standardized features back to the raw scale; both take NumPy or JAX
arrays.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import pathlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from jaxlogloss import _validation as v
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.scaling import Scaling, to_raw

CSV_EXTENSIONS = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
PARQUET_EXTENSIONS = (".parquet", ".pq")
EXTENSIONS = CSV_EXTENSIONS + PARQUET_EXTENSIONS
DTYPES = ("float32", "float64")

_READ = "read_table"
_SHOWN_VALUES = 5  # distinct target values listed in an error
_SHOWN_COLUMNS = 30  # available columns listed in an error
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")  # a DataFrame index in Parquet


class DataError(ValueError):
    """Bad data in a file or table; the one-line message names file, column and row."""


def _float_dtype(fn: str, dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ValueError(f"{fn}: dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TabularData:
    """A binary classification data set with the features stored feature-major.

    ``xt`` has shape ``(d, n)`` (C-contiguous, float32 or float64), ``y`` shape ``(n,)``
    with 0/1 in the same dtype (1 = ``classes[1]``, the positive label),
    ``sample_weight`` shape ``(n,)`` or None. ``classes`` is ``(negative, positive)``
    as the labels appear in the source, e.g. ``("cardigan", "jacket")`` or ``(0, 1)``.
    """

    xt: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    feature_names: tuple[str, ...]
    target: str
    classes: tuple
    source: str

    def __post_init__(self) -> None:
        fn = "TabularData"
        xt = self.xt
        if not isinstance(xt, np.ndarray) or xt.ndim != 2:
            raise ValueError(
                f"{fn}: xt must be a 2-D NumPy array of shape (d, n), got "
                f"{type(xt).__name__} of shape {getattr(xt, 'shape', None)}"
            )
        if xt.dtype not in (np.float32, np.float64):
            raise ValueError(f"{fn}: xt must be float32 or float64, got {xt.dtype}")
        xt = np.ascontiguousarray(xt)
        d, n = xt.shape
        y = np.asarray(self.y)
        if y.shape != (n,):
            raise ValueError(
                f"{fn}: y has shape {y.shape} but xt has shape {xt.shape}; expected "
                f"y of shape ({n},)"
            )
        y = y.astype(xt.dtype, copy=False)
        bad = (y != 0) & (y != 1)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{fn}: y must be 0 or 1, got {y[i]} at index {i}")
        sw = self.sample_weight
        if sw is not None:
            sw = np.asarray(sw)
            if sw.shape != (n,):
                raise ValueError(
                    f"{fn}: sample_weight has shape {sw.shape}; expected ({n},)"
                )
            sw = sw.astype(xt.dtype, copy=False)
        names = tuple(str(name) for name in self.feature_names)
        if len(names) != d:
            raise ValueError(
                f"{fn}: {len(names)} feature names for {d} features (xt has shape "
                f"{xt.shape})"
            )
        classes = tuple(self.classes)
        if len(classes) != 2:
            raise ValueError(
                f"{fn}: classes must be (negative, positive), got {self.classes!r}"
            )
        for name, value in [
            ("xt", xt),
            ("y", y),
            ("sample_weight", sw),
            ("feature_names", names),
            ("classes", classes),
            ("target", str(self.target)),
            ("source", str(self.source)),
        ]:
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return (
            f"TabularData(n_samples={self.n_samples}, n_features={self.n_features}, "
            f"target={self.target!r}, classes={self.classes!r}, "
            f"dtype={self.xt.dtype}, weighted={self.sample_weight is not None}, "
            f"source={self.source!r})"
        )

    @property
    def n_samples(self) -> int:
        return self.xt.shape[1]

    @property
    def n_features(self) -> int:
        return self.xt.shape[0]

    @property
    def X(self) -> np.ndarray:
        """The ``(n, d)`` matrix: a transposed view of ``xt``, no copy."""
        return self.xt.T

    def design(self) -> FeatureMajor:
        """The design matrix for the model and losses: ``FeatureMajor(jnp.asarray(xt))``.

        float64 data stays float64 only with JAX's 64-bit mode on (``enable_x64``).
        """
        return FeatureMajor(jnp.asarray(self.xt))

    def subset(self, indices: Any) -> TabularData:
        """The rows ``indices`` (integer indices, repeats allowed, or a boolean mask)."""
        fn = "TabularData.subset"
        n = self.n_samples
        idx = np.asarray(indices)
        if idx.dtype == np.bool_:
            if idx.shape != (n,):
                raise ValueError(
                    f"{fn}: a boolean mask must have shape ({n},), got {idx.shape}"
                )
            idx = np.flatnonzero(idx)
        elif idx.dtype.kind in "iu" and idx.ndim == 1:
            bad = (idx < 0) | (idx >= n)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(
                    f"{fn}: index {idx[i]} at position {i} is out of range for "
                    f"{n} rows (expected 0 <= index < {n})"
                )
        elif idx.size == 0 and idx.ndim == 1:
            idx = idx.astype(np.intp)
        else:
            raise ValueError(
                f"{fn}: indices must be a 1-D array of integers or a boolean mask, "
                f"got dtype {idx.dtype} and shape {idx.shape}"
            )
        if idx.size == 0:
            raise ValueError(f"{fn}: indices select no rows; expected at least one")
        sw = self.sample_weight
        return TabularData(
            xt=np.take(self.xt, idx, axis=1),
            y=self.y[idx],
            sample_weight=None if sw is None else sw[idx],
            feature_names=self.feature_names,
            target=self.target,
            classes=self.classes,
            source=self.source,
        )

    def split(
        self, test_size: float = 0.25, *, seed: Any = 0, stratify: bool = True
    ) -> tuple[TabularData, TabularData]:
        """A seeded ``(train, test)`` split of the rows; rows keep their order.

        With ``stratify`` each class is split on its own, ``round(test_size * n_c)``
        of its ``n_c`` rows to the test part, but at least one and at most ``n_c - 1``
        when ``n_c >= 2``, so both parts keep both classes whenever possible.
        """
        fn = "TabularData.split"
        if (
            isinstance(test_size, bool)
            or not isinstance(test_size, int | float | np.floating)
            or not 0 < test_size < 1
        ):
            raise ValueError(
                f"{fn}: test_size must be a fraction strictly between 0 and 1, got "
                f"{test_size!r}"
            )
        rng = np.random.default_rng(seed)
        n = self.n_samples
        if stratify:
            groups = [np.flatnonzero(self.y == 0), np.flatnonzero(self.y == 1)]
        else:
            groups = [np.arange(n)]
        test_parts, train_parts = [], []
        for group in groups:
            group = rng.permutation(group)
            k = math.floor(test_size * group.size + 0.5)
            if group.size >= 2:
                k = min(max(k, 1), group.size - 1)
            test_parts.append(group[:k])
            train_parts.append(group[k:])
        test = np.sort(np.concatenate(test_parts))
        train = np.sort(np.concatenate(train_parts))
        if test.size == 0 or train.size == 0:
            raise ValueError(
                f"{fn}: test_size={test_size} splits {n} rows into {train.size} "
                f"train and {test.size} test rows; both parts must be non-empty"
            )
        return self.subset(train), self.subset(test)


# --------------------------------------------------------------------------- reading


def _kind(name: str) -> str | None:
    low = name.lower()
    if low.endswith(PARQUET_EXTENSIONS):
        return "parquet"
    if low.endswith((".tsv", ".tsv.gz")):
        return "tsv"
    if low.endswith((".csv", ".csv.gz")):
        return "csv"
    return None


def _supported() -> str:
    return ", ".join(EXTENSIONS)


def _data_files(path: pathlib.Path, label: str) -> tuple[str, list[pathlib.Path]]:
    """The format and the files to read: the file itself, or a directory's files."""
    if not path.exists():
        raise DataError(f"{_READ}: data file '{label}' does not exist")
    if path.is_file():
        kind = _kind(path.name)
        if kind is None:
            raise DataError(
                f"{_READ}: '{label}' has an unsupported extension; expected one of "
                f"{_supported()} (or a directory of such files)"
            )
        return kind, [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and _kind(p.name) is not None
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if not files:
        raise DataError(
            f"{_READ}: directory '{label}' holds no data files; expected files ending "
            f"in {_supported()}"
        )
    kinds = sorted({_kind(p.name) for p in files})
    if len(kinds) > 1:
        raise DataError(
            f"{_READ}: directory '{label}' mixes {' and '.join(kinds)} files; keep "
            "one format per directory"
        )
    return kinds[0], files


def _file_format(kind: str) -> pads.FileFormat:
    if kind == "parquet":
        return pads.ParquetFileFormat()
    return pads.CsvFileFormat(
        parse_options=pacsv.ParseOptions(delimiter="\t" if kind == "tsv" else ","),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )


def _arrow_error(file: str, err: Exception) -> DataError:
    text = " ".join(str(err).split())  # one line
    if "Empty CSV file" in text:
        return DataError(
            f"{_READ}: data file '{file}' is empty; expected a header line naming "
            "the columns, then data rows"
        )
    return DataError(f"{_READ}: cannot read '{file}': {text}")


@dataclasses.dataclass(frozen=True)
class _Origin:
    """Where each row of the concatenated table comes from, for error messages."""

    label: str  # the path as given
    files: tuple[str, ...]
    starts: tuple[int, ...]  # first global row of each file
    csv: bool

    def row(self, index: int) -> tuple[str, str]:
        """(file, 'row 17 (1-based, after the header)') of a 0-based global row."""
        k = int(np.searchsorted(self.starts, index, side="right")) - 1
        convention = "1-based, after the header" if self.csv else "1-based"
        return self.files[k], f"row {index - self.starts[k] + 1} ({convention})"

    def column(self, name: str, index: int) -> tuple[str, str]:
        """("column 'age' of 'x.csv'", 'row 17 (...)') of a 0-based global row."""
        file, row = self.row(index)
        return f"column '{name}' of '{file}'", row


def _quote_list(values: Sequence[Any], limit: int) -> str:
    shown = ", ".join(repr(x) for x in values[:limit])
    more = len(values) - limit
    return shown + (f", ... ({more} more)" if more > 0 else "")


def _unknown_column(name: str, role: str, file: str, available: list[str]) -> DataError:
    close = difflib.get_close_matches(name, available, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return DataError(
        f"{_READ}: {role} column {name!r} is not in '{file}'{hint}; available "
        f"columns: {_quote_list(available, _SHOWN_COLUMNS)}"
    )


def _pick_columns(
    name: str,
    available: list[str],
    wanted: list[str] | None,
    first: str,
    columns_for: Any,
) -> list[str]:
    """The columns to read from file ``name``: the first file's pick (``wanted`` is
    None) by ``columns_for(available, name)``, which every later file must have."""
    if wanted is None:
        dupes = sorted({c for c in available if available.count(c) > 1})
        if dupes:
            raise DataError(
                f"{_READ}: '{name}' has duplicate column names "
                f"{_quote_list(dupes, _SHOWN_COLUMNS)}; column names must be unique"
            )
        return columns_for(available, name)
    missing = [c for c in wanted if c not in available]
    if missing:
        raise DataError(
            f"{_READ}: column {missing[0]!r} is in '{first}' but not in "
            f"'{name}'; every file of a directory needs the same columns"
        )
    return wanted


def _load(
    path: str | os.PathLike, columns_for: Any
) -> tuple[pa.Table, _Origin, list[str]]:
    """Read the columns that ``columns_for(available_names, first_file)`` picks."""
    label = os.fspath(path)
    kind, files = _data_files(pathlib.Path(path), label)
    fmt = _file_format(kind)
    fs = pafs.LocalFileSystem()
    tables, starts, names = [], [], []
    wanted: list[str] | None = None
    first = ""
    for file in files:
        name = label if len(files) == 1 else str(file)
        try:
            fragment = fmt.make_fragment(str(file), filesystem=fs)
            available = fragment.physical_schema.names
        except (pa.ArrowException, OSError) as err:
            raise _arrow_error(name, err) from err
        if wanted is None:
            first = name
        wanted = _pick_columns(name, available, wanted, first, columns_for)
        try:
            table = fragment.to_table(columns=wanted)
        except (pa.ArrowException, OSError) as err:
            raise _arrow_error(name, err) from err
        starts.append(sum(t.num_rows for t in tables))
        tables.append(table)
        names.append(name)
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowException, TypeError) as err:
        raise DataError(
            f"{_READ}: the files of '{label}' disagree on column types: "
            f"{' '.join(str(err).split())}"
        ) from err
    origin = _Origin(label, tuple(names), tuple(starts), csv=kind != "parquet")
    return table, origin, wanted


def _is_string(t: pa.DataType) -> bool:
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or getattr(pa.types, "is_string_view", lambda _: False)(t)
    )


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _decoded(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary column as its plain values (other columns unchanged)."""
    if not pa.types.is_dictionary(col.type):
        return col
    return pa.chunked_array(
        [c.dictionary_decode() for c in col.chunks], type=col.type.value_type
    )


def _first_true(mask: pa.ChunkedArray) -> int | None:
    """Index of the first true entry of a boolean chunked array, or None."""
    offset = 0
    for chunk in mask.chunks:
        if pc.any(chunk).as_py():
            return offset + int(np.argmax(chunk.to_numpy(zero_copy_only=False)))
        offset += len(chunk)
    return None


def _check_present(col: pa.ChunkedArray, what: str, origin: _Origin) -> None:
    """DataError at the first missing (null) or NaN/inf entry of a column."""
    if col.null_count:
        i = _first_true(pc.is_null(col))
        where, row = origin.column(what, i)
        raise DataError(
            f"{_READ}: {where} has a missing value (empty cell, NA, NaN or null) at "
            f"{row}"
        )
    if pa.types.is_floating(col.type):
        i = _first_true(pc.invert(pc.is_finite(col)))
        if i is not None:
            where, row = origin.column(what, i)
            raise DataError(
                f"{_READ}: {where} has a non-finite value {col[i].as_py()} at {row}; "
                "expected finite numbers"
            )


def _chunks_as_numpy(col: pa.ChunkedArray):
    """(offset, values) of each chunk of a numeric/boolean column, as NumPy."""
    offset = 0
    for chunk in col.chunks:
        if pa.types.is_decimal(chunk.type):
            chunk = pc.cast(chunk, pa.float64())
        yield offset, chunk.to_numpy(zero_copy_only=False)
        offset += len(chunk)


def _fill_numeric(
    row: np.ndarray, col: pa.ChunkedArray, name: str, origin: _Origin
) -> None:
    with np.errstate(over="ignore"):  # too large for float32: reported below
        for offset, values in _chunks_as_numpy(col):
            row[offset : offset + len(values)] = values
    if pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
        bad = ~np.isfinite(row)
        if bad.any():  # finite in the file (checked before): too large for the dtype
            i = int(np.argmax(bad))
            where, at = origin.column(name, i)
            raise DataError(
                f"{_READ}: {where} has the value {col[i].as_py()} at {at}, too large "
                f"for {row.dtype} (max {np.finfo(row.dtype).max:.3g}); use "
                "dtype='float64'"
            )


def _levels(col: pa.ChunkedArray) -> pa.Array:
    """The distinct values of a (decoded, null-free) column, sorted."""
    levels = pc.unique(col)
    return levels.take(pc.array_sort_indices(levels))


def _fill_onehot(block: np.ndarray, col: pa.ChunkedArray, levels: pa.Array) -> None:
    """Rows ``block[j - 1] = (col == levels[j])`` for j >= 1 (first level dropped)."""
    block[...] = 0
    offset = 0
    for chunk in col.chunks:
        codes = pc.index_in(chunk, value_set=levels).to_numpy(zero_copy_only=False)
        hit = np.flatnonzero(codes >= 1)
        block[codes[hit] - 1, offset + hit] = 1
        offset += len(chunk)


def _plan_features(
    table: pa.Table, features: list[str], origin: _Origin
) -> list[tuple[str, pa.Array | None]]:
    """Per feature column: (name, None) when numeric, (name, sorted levels) when not."""
    plan = []
    for name in features:
        col = table[name]
        t = col.type
        if pa.types.is_dictionary(t) or _is_string(t):
            col = _decoded(col)
            _check_present(col, name, origin)
            plan.append((name, _levels(col)))
        elif _is_number(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
            _check_present(col, name, origin)
            plan.append((name, None))
        else:
            raise DataError(
                f"{_READ}: column {name!r} of '{origin.label}' has type {t}, neither "
                "numeric nor categorical (string); leave it out of features"
            )
    return plan


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


def _target(
    table: pa.Table, target: str, positive: Any, origin: _Origin, y: np.ndarray
) -> tuple[Any, Any]:
    """Fill ``y`` (1 for the positive label); return (negative, positive)."""
    col = _decoded(table[target])
    t = col.type
    if not (
        _is_string(t) or _is_number(t) or pa.types.is_boolean(t) or pa.types.is_null(t)
    ):
        raise DataError(
            f"{_READ}: target column {target!r} of '{origin.label}' has type {t}; "
            "expected two class labels (numbers, strings or booleans)"
        )
    _check_present(col, target, origin)
    values = _levels(col).to_pylist()
    if len(values) != 2:
        raise DataError(
            f"{_READ}: target column {target!r} of '{origin.label}' has "
            f"{len(values)} distinct value{'s' if len(values) != 1 else ''} "
            f"({_quote_list(values, _SHOWN_VALUES)}); expected exactly two classes"
        )
    if positive is None:
        negative, positive_value = values
    else:
        matches = [x for x in values if _same_label(x, positive)]
        if len(matches) != 1:
            raise DataError(
                f"{_READ}: positive={positive!r} is not a value of target column "
                f"{target!r} of '{origin.label}'; its values are "
                f"{_quote_list(values, _SHOWN_VALUES)}"
            )
        positive_value = matches[0]
        negative = values[1] if positive_value == values[0] else values[0]
    scalar = pa.scalar(positive_value, type=col.type)
    offset = 0
    for chunk in col.chunks:
        hit = pc.equal(chunk, scalar).to_numpy(zero_copy_only=False)
        y[offset : offset + len(chunk)] = hit
        offset += len(chunk)
    return negative, positive_value


def _weights(
    table: pa.Table,
    weights: str,
    origin: _Origin,
    dtype: np.dtype,
    *,
    require_positive: bool = True,
) -> np.ndarray:
    col = _decoded(table[weights])
    if not _is_number(col.type):
        raise DataError(
            f"{_READ}: weights column {weights!r} of '{origin.label}' must be "
            f"numeric, got type {col.type}"
        )
    _check_present(col, weights, origin)
    sw = np.empty(table.num_rows, dtype)
    _fill_numeric(sw, col, weights, origin)
    negative = sw < 0
    if negative.any():
        i = int(np.argmax(negative))
        where, row = origin.column(weights, i)
        raise DataError(
            f"{_READ}: {where} has a negative weight {col[i].as_py()} at {row}; "
            "weights must be >= 0"
        )
    if require_positive and not (sw > 0).any():
        raise DataError(
            f"{_READ}: weights column {weights!r} of '{origin.label}' is all zero; "
            "at least one weight must be positive"
        )
    return sw


def _column_names(
    target: Any, features: Any, weights: Any
) -> tuple[str, list[str] | None, str | None]:
    if not isinstance(target, str):
        raise TypeError(
            f"{_READ}: target must be a column name (str), got {type(target).__name__}"
        )
    if weights is not None and not isinstance(weights, str):
        raise TypeError(
            f"{_READ}: weights must be a column name (str) or None, got "
            f"{type(weights).__name__}"
        )
    if weights == target:
        raise DataError(
            f"{_READ}: weights={weights!r} is also the target column; they must differ"
        )
    if features is None:
        return target, None, weights
    if isinstance(features, str):
        features = [features]
    features = list(features)
    for name in features:
        if not isinstance(name, str):
            raise TypeError(
                f"{_READ}: features must be column names (str), got {name!r}"
            )
    if not features:
        raise DataError(f"{_READ}: features is empty; name at least one column")
    seen: set[str] = set()
    for name in features:
        if name in seen:
            raise DataError(f"{_READ}: feature {name!r} is listed twice in features")
        seen.add(name)
        if name == target:
            raise DataError(
                f"{_READ}: feature {name!r} is the target column; remove it from "
                "features"
            )
        if name == weights:
            raise DataError(
                f"{_READ}: feature {name!r} is the weights column; remove it from "
                "features"
            )
    return target, features, weights


def _feature_names(plan: list[tuple[str, pa.Array | None]], label: str) -> list[str]:
    """The names of the encoded features: ``col`` or ``col[level]`` (first dropped)."""
    feature_names: list[str] = []
    for name, levels in plan:
        if levels is None:
            feature_names.append(name)
        else:
            feature_names += [f"{name}[{lv}]" for lv in levels.to_pylist()[1:]]
    if not feature_names:
        names = [name for name, _ in plan]
        raise DataError(
            f"{_READ}: the features of '{label}' "
            f"({_quote_list(names, _SHOWN_COLUMNS)}) are categorical with a single "
            "level each; no feature columns remain after one-hot encoding"
        )
    return feature_names


def _column_picker(
    target: str, features: list[str] | None, weights: str | None
) -> Callable[[list[str], str], list[str]]:
    """``columns_for(available, file)``: the columns to read, in the order features,
    target, weights; ``features=None`` picks every column but target, weights and a
    saved pandas index."""

    def columns_for(available: list[str], file: str) -> list[str]:
        for name, role in [(target, "target"), (weights, "weights")]:
            if name is not None and name not in available:
                raise _unknown_column(name, role, file, available)
        if features is None:
            chosen = [
                c
                for c in available
                if c not in (target, weights) and not _PANDAS_INDEX.fullmatch(c)
            ]
            if not chosen:
                raise DataError(
                    f"{_READ}: '{file}' has no columns besides the target"
                    f"{' and weights' if weights else ''}; nothing to use as features"
                )
        else:
            chosen = features
            for name in chosen:
                if name not in available:
                    raise _unknown_column(name, "feature", file, available)
        return [*chosen, target] + ([weights] if weights else [])

    return columns_for


def read_table(
    path: str | os.PathLike,
    *,
    target: str,
    features: Sequence[str] | None = None,
    positive: Any = None,
    weights: str | None = None,
    dtype: Any = "float32",
) -> TabularData:
    """Read a CSV or Parquet file (or a directory of them) into :class:`TabularData`.

    ``features=None`` takes every column except ``target`` and ``weights`` (and a
    pandas index saved in Parquet as ``__index_level_0__``). Numeric and
    boolean columns are used as they are; string and categorical columns are one-hot
    encoded (sorted levels, first dropped, named ``col[level]``). ``positive`` is the
    label for ``y = 1`` (matched against the target's values, also as text, so ``"1"``
    picks ``1``); by default the second of the two sorted values. ``weights`` names a
    numeric column of sample weights.

    Raises :class:`DataError` (one line naming file, column and row) for bad data.
    """
    dt = _float_dtype(_READ, dtype)
    target, features, weights = _column_names(target, features, weights)

    table, origin, columns = _load(path, _column_picker(target, features, weights))
    names = columns[: len(columns) - 1 - (weights is not None)]
    n = table.num_rows
    if n == 0:
        what = "a header but no data rows" if origin.csv else "no rows"
        raise DataError(f"{_READ}: '{origin.label}' has {what}; expected at least two")
    if n < 2:
        raise DataError(
            f"{_READ}: '{origin.label}' has 1 data row; at least two are needed"
        )

    y = np.empty(n, dt)
    classes = _target(table, target, positive, origin, y)
    sample_weight = None if weights is None else _weights(table, weights, origin, dt)
    plan = _plan_features(table, names, origin)

    feature_names = _feature_names(plan, origin.label)
    xt = np.empty((len(feature_names), n), dt)
    j = 0
    for name, levels in plan:
        col = table[name]
        if levels is None:
            _fill_numeric(xt[j], col, name, origin)
            j += 1
        else:
            k = len(levels) - 1
            _fill_onehot(xt[j : j + k], _decoded(col), levels)
            j += k
    return TabularData(
        xt=xt,
        y=y,
        sample_weight=sample_weight,
        feature_names=tuple(feature_names),
        target=target,
        classes=classes,
        source=origin.label,
    )


# --------------------------------------------------------------------- standardizing


def _is_jax(*arrays: Any) -> bool:
    return any(isinstance(a, jax.Array) for a in arrays)


def _check_weight_shape(fn: str, sample_weight: Any, n: int) -> None:
    shape = tuple(np.shape(sample_weight))
    if shape != (n,):
        raise ValueError(
            f"{fn}: sample_weight has shape {shape} but xt has {n} columns (examples); "
            f"expected shape ({n},)"
        )


def standardize(xt: Any, sample_weight: Any = None) -> tuple[Any, Any, Any]:
    """Centre and scale each feature (row) of ``xt`` of shape ``(d, n)``.

    Returns ``(xt_std, mean, scale)`` with ``xt_std = (xt - mean[:, None]) /
    scale[:, None]``; ``mean`` and ``scale`` are the (weighted) mean and population
    standard deviation of each feature; a constant feature gets its value as ``mean``
    and ``scale = 1`` (it standardizes to exactly 0), as does one that varies only
    where the weights are 0. NumPy in, NumPy out (statistics accumulated in float64, one row at a time, so the peak memory
    is ``xt`` plus ``xt_std``); JAX in, JAX out (works under ``jit``).

    >>> xs, m, s = standardize(np.array([[1.0, 3.0], [2.0, 2.0]]))
    >>> xs.tolist(), m.tolist(), s.tolist()
    ([[-1.0, 1.0], [0.0, 0.0]], [2.0, 2.0], [1.0, 1.0])
    """
    fn = "standardize"
    if _is_jax(xt, sample_weight):
        x = v.as_float(fn, "xt", xt)
        v.check_ndim(fn, "xt", x, (2,), "a (d, n) matrix")
        v.check_nonempty(fn, "xt", x)
        v.check_finite(fn, "xt", x)
        if sample_weight is None:
            mean = jnp.mean(x, axis=1)
            var = jnp.mean(jnp.square(x - mean[:, None]), axis=1)
        else:
            _check_weight_shape(fn, sample_weight, x.shape[1])
            w = v.check_sample_weight(fn, sample_weight, (x.shape[1],), x.dtype)
            total = jnp.sum(w)
            mean = (x @ w) / total
            var = (jnp.square(x - mean[:, None]) @ w) / total
        scale = jnp.sqrt(var)
        constant = jnp.max(x, axis=1) == jnp.min(x, axis=1)
        mean = jnp.where(constant, x[:, 0], mean)  # centred exactly to 0
        scale = jnp.where(constant | (scale == 0), jnp.ones_like(scale), scale)
        return (x - mean[:, None]) / scale[:, None], mean, scale

    x = np.asarray(xt)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: xt must have a floating dtype, got {x.dtype}")
    v.check_ndim(fn, "xt", x, (2,), "a (d, n) matrix")
    v.check_nonempty(fn, "xt", x)
    d, n = x.shape
    w = None
    if sample_weight is not None:
        _check_weight_shape(fn, sample_weight, n)
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "iuf":
            raise TypeError(
                f"{fn}: sample_weight must be real numbers, got dtype {w.dtype}"
            )
        w = w.astype(np.float64)
        v.check_finite(fn, "sample_weight", w)
        if (w < 0).any():
            i = int(np.argmax(w < 0))
            raise ValueError(
                f"{fn}: sample_weight must be non-negative, got {w[i]} at index {i}"
            )
        if not (w > 0).any():
            raise ValueError(
                f"{fn}: sample_weight is all zero; at least one weight must be positive"
            )
        total = w.sum()
    out = np.empty((d, n), x.dtype)
    mean = np.empty(d, x.dtype)
    scale = np.empty(d, x.dtype)
    for j in range(d):
        row = x[j].astype(np.float64)
        if not np.isfinite(row).all():
            i = int(np.argmax(~np.isfinite(row)))
            raise ValueError(
                f"{fn}: xt must be finite, got {row[i]} at index ({j}, {i})"
            )
        if row.max() == row.min():  # constant: centred exactly to 0, scale 1
            m, s = float(row[0]), 1.0
            row[:] = 0.0
        else:
            m = row.mean() if w is None else np.dot(w, row) / total
            row -= m
            var = np.dot(row, row) / n if w is None else np.dot(w, row * row) / total
            s = math.sqrt(var) or 1.0  # 0 when it varies only where weights are 0
        np.divide(row, s, out=out[j], casting="same_kind")
        mean[j], scale[j] = m, s
    return out, mean, scale


def unstandardize_coef(
    w_std: Any, b_std: Any, mean: Any, scale: Any
) -> tuple[Any, Any]:
    """Map a model fitted on standardized features back to the raw features.

    From ``z = w_std . (x - mean) / scale + b_std``: ``w = w_std / scale`` and
    ``b = b_std - sum(w * mean)``, so ``w . x + b`` gives the same logits on raw
    features. ``w_std`` has shape ``(d,)`` (``b_std`` a scalar) or ``(d, K)``
    (``b_std`` of shape ``(K,)``). NumPy or JAX arrays (JAX if any input is one).

    >>> w, b = unstandardize_coef(np.array([2.0]), 1.0, np.array([3.0]), np.array([2.0]))
    >>> w.tolist(), float(b)
    ([1.0], -2.0)
    """
    fn = "unstandardize_coef"
    xp = jnp if _is_jax(w_std, b_std, mean, scale) else np
    inputs = [
        a if isinstance(a, int | float) or hasattr(a, "dtype") else np.asarray(a)
        for a in (w_std, b_std, mean, scale)
    ]
    dt = xp.result_type(*inputs)
    if not xp.issubdtype(dt, xp.floating):
        dt = xp.result_type(dt, float)
    w_std, b_std, mean, scale = (xp.asarray(a, dtype=dt) for a in inputs)
    if w_std.ndim not in (1, 2):
        raise ValueError(
            f"{fn}: w_std must have shape (d,) or (d, K), got {tuple(w_std.shape)}"
        )
    d = w_std.shape[0]
    for name, a in [("mean", mean), ("scale", scale)]:
        if a.shape != (d,):
            raise ValueError(
                f"{fn}: {name} has shape {tuple(a.shape)} but w_std has shape "
                f"{tuple(w_std.shape)}; expected ({d},)"
            )
    expected_b = w_std.shape[1:]
    if b_std.shape != expected_b:
        raise ValueError(
            f"{fn}: b_std has shape {tuple(b_std.shape)} but w_std has shape "
            f"{tuple(w_std.shape)}; expected {expected_b}"
        )
    raw = to_raw(LinearParams(w_std, b_std), Scaling(mean, scale))
    return raw.w, raw.b
