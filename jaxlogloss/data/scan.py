"""A streamed data set's files, scanned in Arrow batches: row pieces and the schema pass.

:func:`scan_batches` reads some columns of one file as Arrow record batches (of a
Parquet file one row group at a time, of a CSV file in blocks), never the whole file.
A :class:`Piece` is consecutive rows of one file with its columns cast to the types
merged over all files (:func:`conform`). :func:`read_schema` is
:func:`~jaxlogloss.data.stream.open_stream`'s schema pass: it merges the files' column
types, counts their rows, checks the target, weights and categorical columns as
:func:`~jaxlogloss.data.read_table` checks them, and collects the two classes and the
sorted levels of every categorical column over all files, so that the one-hot encoding
is global. Numeric feature columns are not read.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jaxlogloss.data.encoding import (
    FeaturePlan,
    all_zero_weights,
    check_present,
    check_target_type,
    feature_names,
    first_true,
    levels_of,
    plan_features,
    read_target,
    read_weights,
)
from jaxlogloss.data.files import (
    SHOWN_VALUES,
    DataError,
    Origin,
    arrow_error,
    check_row_count,
    file_batches,
    find_data,
    mixed_types,
    quote_list,
)

_ARROW_ROWS = 65_536  # rows per Arrow record batch read
_MAX_TARGET_VALUES = 1_000  # distinct target values collected before giving up


@dataclasses.dataclass(frozen=True)
class FileRows:
    """One data file: its name in messages, path, first global row and row counts."""

    name: str
    path: str
    start: int
    n_rows: int
    row_groups: tuple[int, ...] | None  # rows per Parquet row group; None for CSV


@dataclasses.dataclass(frozen=True)
class Piece:
    """Consecutive rows of one file, columns decoded and cast to the global types."""

    table: pa.Table
    file: str
    row: int  # 0-based row within the file of the first row
    start: int  # global 0-based row of the first row

    @property
    def n_rows(self) -> int:
        return self.table.num_rows

    def split(self, k: int) -> tuple[Piece, Piece | None]:
        """The first ``k`` rows and the rest (None when nothing is left)."""
        if k >= self.n_rows:
            return self, None
        head = Piece(self.table.slice(0, k), self.file, self.row, self.start)
        rest = Piece(self.table.slice(k), self.file, self.row + k, self.start + k)
        return head, rest

    def origin(self, label: str, csv: bool) -> Origin:
        """An :class:`Origin` that names this file and counts its rows in the file."""
        # Origin counts a row from the start of its file; this piece's first row is
        # row `self.row` of the file, so the file "starts" `self.row` rows before it.
        return Origin(label, (self.file,), (-self.row,), csv)


@dataclasses.dataclass(frozen=True)
class StreamSchema:
    """What the schema pass learns: columns, their merged types, classes, the one-hot
    plan, the encoded feature names and the files with their row counts."""

    label: str  # the path as given
    target: str
    weights: str | None
    classes: tuple[Any, Any]  # (negative, positive) as in the files
    plan: FeaturePlan
    feature_names: list[str]
    types: dict[str, pa.DataType]  # features, target, weights: as read_table reads
    files: list[FileRows]
    kind: str  # 'csv', 'tsv' or 'parquet'


def plain_type(t: pa.DataType) -> pa.DataType:
    """The type of a column's values: a dictionary's value type, else ``t``."""
    return t.value_type if pa.types.is_dictionary(t) else t


def scan_batches(
    fn: str,
    kind: str,
    path: str,
    name: str,
    columns: list[str],
    row_groups: list[int] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The record batches of ``columns`` of a file of format ``kind`` ('csv', 'tsv'
    or 'parquet'), in order (:func:`~jaxlogloss.data.files.file_batches`); of a
    Parquet file only ``row_groups`` (default: all), read one row group at a time."""
    try:
        yield from file_batches(kind, path, _ARROW_ROWS, columns, row_groups)
    except (pa.ArrowException, OSError) as err:
        raise arrow_error(fn, name, err) from err


def conform(
    fn: str, batch: pa.RecordBatch, types: dict[str, pa.DataType], name: str
) -> pa.Table:
    """``batch`` as a table, dictionaries decoded, columns cast to the merged types."""
    columns = []
    for column, field in zip(batch.columns, batch.schema, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        want = types[field.name]
        if column.type != want:
            try:
                column = column.cast(want)
            except (pa.ArrowException, TypeError) as err:
                raise DataError(
                    f"{fn}: column {field.name!r} of '{name}' has type {column.type}, "
                    f"which does not convert to the {want} of the other files: "
                    f"{' '.join(str(err).split())}"
                ) from err
        columns.append(column)
    return pa.Table.from_arrays(columns, names=batch.schema.names)


def first_unknown(col: pa.ChunkedArray, known: pa.Array) -> int | None:
    """Index of the first value of ``col`` not among ``known``, or None."""
    return first_true(pc.invert(pc.is_in(col, value_set=known)))


def _union(seen: pa.Array | None, col: pa.ChunkedArray) -> pa.Array:
    """The distinct values of ``seen`` and ``col`` together (unsorted)."""
    new = pc.unique(col)
    return new if seen is None else pc.unique(pa.concat_arrays([seen, new]))


def _sorted(values: pa.Array | None, t: pa.DataType) -> pa.Array:
    """Distinct values, sorted as ``read_table`` sorts levels."""
    return levels_of(pa.chunked_array([] if values is None else [values], type=t))


def read_schema(
    fn: str,
    path: str | os.PathLike,
    target: Any,
    features: Any,
    positive: Any,
    weights: Any,
    dt: np.dtype,
) -> StreamSchema:
    """The schema pass of ``open_stream``: messages name ``fn``."""
    source = find_data(fn, path, target, features, weights)
    target, weights, label = source.target, source.weights, source.label
    csv = source.csv

    # column names and types from each file's schema, merged as read_table merges
    opened = []
    schemas: list[pa.Schema] = []
    for file in source.open(fn):
        try:
            schemas.append(pa.schema([file.schema.field(c) for c in file.columns]))
        except (KeyError, pa.ArrowException) as err:  # a wanted name twice
            raise arrow_error(fn, file.name, err) from err
        opened.append(file)
    wanted = opened[-1].columns
    try:
        merged = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowException, TypeError) as err:
        raise mixed_types(fn, label, err) from err
    names = source.feature_columns(wanted)
    whole = Origin(label, (label,), (0,), csv)  # for messages naming the data set

    # types: target, weights and features (categorical ones with levels to collect)
    types = {c: plain_type(merged.field(c).type) for c in wanted}
    check_target_type(fn, types[target], target, label)
    empty = merged.empty_table()
    if weights is not None:
        read_weights(fn, empty, weights, whole, dt, require_positive=False)
    plan = plan_features(fn, empty, names, whole)
    categorical = [name for name, levels in plan if levels is not None]

    # the schema pass: count rows, check and collect target, weights and levels
    scanned = [target] + ([weights] if weights else []) + categorical
    classes: pa.Array | None = None
    levels: dict[str, pa.Array | None] = dict.fromkeys(categorical)
    positive_weight = False
    files: list[FileRows] = []
    start = 0
    for file in opened:
        n_rows = 0
        for batch in scan_batches(fn, source.kind, file.path, file.name, scanned):
            table = conform(fn, batch, types, file.name)
            origin = Piece(table, file.name, n_rows, start + n_rows).origin(label, csv)
            col = table[target]
            check_present(fn, col, target, origin)
            classes = _union(classes, col)
            if len(classes) > _MAX_TARGET_VALUES:
                shown = _sorted(classes, types[target]).to_pylist()
                raise DataError(
                    f"{fn}: target column {target!r} of '{label}' has more than "
                    f"{_MAX_TARGET_VALUES} distinct values "
                    f"({quote_list(shown, SHOWN_VALUES)}); expected exactly two "
                    "classes"
                )
            if weights is not None:
                sw = read_weights(
                    fn, table, weights, origin, dt, require_positive=False
                )
                positive_weight = positive_weight or bool((sw > 0).any())
            for c in categorical:
                check_present(fn, table[c], c, origin)
                levels[c] = _union(levels[c], table[c])
            n_rows += table.num_rows
        groups = None
        if not csv:  # counts from the metadata, as read_table's table has them
            meta = pq.read_metadata(file.path)
            groups = tuple(
                meta.row_group(g).num_rows for g in range(meta.num_row_groups)
            )
            n_rows = meta.num_rows
        files.append(FileRows(file.name, file.path, start, n_rows, groups))
        start += n_rows

    check_row_count(fn, label, start, csv)
    values = pa.table({target: _sorted(classes, types[target])})
    negative, positive_value = read_target(
        fn, values, target, positive, whole, np.empty(values.num_rows, dt)
    )
    if weights is not None and not positive_weight:
        raise all_zero_weights(fn, weights, label)
    plan = [
        (c, None if c not in levels else _sorted(levels[c], types[c])) for c in names
    ]
    return StreamSchema(
        label=label,
        target=target,
        weights=weights,
        classes=(negative, positive_value),
        plan=plan,
        feature_names=feature_names(fn, plan, label),
        types=types,
        files=files,
        kind=source.kind,
    )
