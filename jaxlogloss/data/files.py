"""Data files: formats, discovery, the columns to read, and where a row comes from.

A data set is a CSV (``.csv``, ``.csv.gz``, ``.tsv``, ``.tsv.gz``) or Parquet
(``.parquet``, ``.pq``) file, or a directory of files of one format (sorted; names
starting with ``.`` or ``_`` skipped). The first file picks the columns to read (the
features, then the target, then the weights); every later file must have them.

Bad files and columns raise :class:`DataError`, a one-line message that starts with
the name ``fn`` of the public function the user called (``read_table``,
``open_stream``, ...), which every helper here takes as its first argument.
:class:`Origin` turns a 0-based row of the concatenated files into the file and its
1-based row, as a person counts them (in a CSV the first line after the header is
row 1).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import pathlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CSV_EXTENSIONS = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
PARQUET_EXTENSIONS = (".parquet", ".pq")
EXTENSIONS = CSV_EXTENSIONS + PARQUET_EXTENSIONS

SHOWN_VALUES = 5  # distinct values listed in an error
SHOWN_COLUMNS = 30  # available columns listed in an error
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")  # a DataFrame index in Parquet

#: ``columns_for(available, file)``: the columns to read from the first file
ColumnPicker = Callable[[list[str], str], list[str]]


class DataError(ValueError):
    """Bad data in a file or table; the one-line message names file, column and row."""


DataError.__module__ = "jaxlogloss.data"  # its public home


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where each row of the concatenated files comes from, for error messages."""

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


@dataclasses.dataclass(frozen=True)
class DataFile:
    """One opened data file: its name in messages, path, format ('csv', 'tsv' or
    'parquet'), schema and columns to read."""

    name: str
    path: str
    kind: str
    schema: pa.Schema
    columns: list[str]

    def read(self) -> pa.Table:
        """The columns to read, whole, in their order (:func:`read_file`)."""
        return read_file(self.kind, self.path, self.schema, self.columns)


def read_file(
    kind: str, path: str, schema: pa.Schema, columns: list[str] | None = None
) -> pa.Table:
    """``columns`` (default: all) of a file of format ``kind`` whose schema is
    ``schema`` (:func:`file_schema`), whole, in that order; Arrow errors are raised as
    they come (callers turn them into :class:`DataError` with :func:`arrow_error`)."""
    columns = list(schema.names) if columns is None else columns
    if kind == "parquet":
        # no pre-buffering: a local file's column chunks are read as they are
        # decoded (measured on 1,000,000 x 100 float32: Arrow's peak 1.02 -> 0.61
        # GB, and faster)
        with pq.ParquetFile(path, pre_buffer=False) as reader:
            return reader.read(columns=columns).select(columns)
    types = {c: schema.field(c).type for c in columns}
    return pacsv.read_csv(
        path,
        parse_options=csv_parse_options(kind),
        convert_options=csv_convert_options(columns, types),
    ).select(columns)


CSV_READAHEAD = 2  # CSV blocks parsed ahead of the consumer within a file


def file_batches(
    kind: str,
    path: str,
    batch_rows: int,
    columns: list[str] | None = None,
    row_groups: list[int] | None = None,
) -> Iterator[pa.RecordBatch]:
    """``columns`` (default: all) of a file in record batches of at most
    ``batch_rows`` rows, in order, never the whole file at once: a Parquet file one
    row group at a time (only ``row_groups``, default all; without pre-buffering,
    which reads ahead by as much as the consumer is slower), a CSV block by block
    (typed by its first block, as :func:`file_schema`) through Arrow's dataset
    scanner, which parses :data:`CSV_READAHEAD` blocks ahead: ``pyarrow.csv``'s
    streaming reader took 6.2 s where it took 4.2 s (a streamed fit of a 400,000 x
    20 CSV). ``pyarrow.dataset`` is imported here, not with the module: it imports
    pandas where pandas is installed (0.35-0.4 s of a process)."""
    if kind == "parquet":
        with pq.ParquetFile(path, pre_buffer=False) as reader:
            yield from reader.iter_batches(
                batch_size=batch_rows, row_groups=row_groups, columns=columns
            )
        return
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    fmt = pads.CsvFileFormat(
        parse_options=csv_parse_options(kind), convert_options=csv_convert_options()
    )
    yield from fmt.make_fragment(path, filesystem=pafs.LocalFileSystem()).to_batches(
        columns=columns, batch_size=batch_rows, batch_readahead=CSV_READAHEAD
    )


def check_unique_columns(fn: str, name: str, available: list[str]) -> None:
    """A file's column names must be unique."""
    dupes = sorted({c for c in available if available.count(c) > 1})
    if dupes:
        raise DataError(
            f"{fn}: '{name}' has duplicate column names "
            f"{quote_list(dupes, SHOWN_COLUMNS)}; column names must be unique"
        )


def csv_parse_options(kind: str) -> pacsv.ParseOptions:
    """CSV or TSV."""
    return pacsv.ParseOptions(delimiter="\t" if kind == "tsv" else ",")


def csv_convert_options(
    columns: list[str] | None = None, types: dict[str, pa.DataType] | None = None
) -> pacsv.ConvertOptions:
    """Empty strings as null; ``columns`` (all by default) as ``types`` (the types
    the file's first block gave its schema: the rows after it must fit them)."""
    return pacsv.ConvertOptions(
        strings_can_be_null=True,
        include_columns=columns or [],
        column_types=types or {},
    )


def file_schema(kind: str, path: str) -> pa.Schema:
    """A file's schema: Parquet's stored one, a CSV's inferred from its first block
    (as Arrow's dataset fragments infer it)."""
    if kind == "parquet":
        return pq.read_schema(path)
    reader = pacsv.open_csv(
        path,
        parse_options=csv_parse_options(kind),
        convert_options=csv_convert_options(),
    )
    try:
        return reader.schema
    finally:
        reader.close()


def quote_list(values: Sequence[Any], limit: int) -> str:
    """The first ``limit`` values, quoted, and how many more there are."""
    shown = ", ".join(repr(x) for x in values[:limit])
    more = len(values) - limit
    return shown + (f", ... ({more} more)" if more > 0 else "")


def file_kind(name: str) -> str | None:
    """'csv', 'tsv' or 'parquet' by the file name's extension; None if unsupported."""
    low = name.lower()
    if low.endswith(PARQUET_EXTENSIONS):
        return "parquet"
    if low.endswith((".tsv", ".tsv.gz")):
        return "tsv"
    if low.endswith((".csv", ".csv.gz")):
        return "csv"
    return None


def _data_files(
    fn: str, path: pathlib.Path, label: str
) -> tuple[str, list[pathlib.Path]]:
    """The format and the files to read: the file itself, or a directory's files."""
    supported = ", ".join(EXTENSIONS)
    if not path.exists():
        raise DataError(f"{fn}: data file '{label}' does not exist")
    if path.is_file():
        kind = file_kind(path.name)
        if kind is None:
            raise DataError(
                f"{fn}: '{label}' has an unsupported extension; expected one of "
                f"{supported} (or a directory of such files)"
            )
        return kind, [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and file_kind(p.name) is not None
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if not files:
        raise DataError(
            f"{fn}: directory '{label}' holds no data files; expected files ending "
            f"in {supported}"
        )
    kinds = sorted({file_kind(p.name) for p in files})
    if len(kinds) > 1:
        raise DataError(
            f"{fn}: directory '{label}' mixes {' and '.join(kinds)} files; keep "
            "one format per directory"
        )
    return kinds[0], files


def arrow_error(fn: str, file: str, err: Exception) -> DataError:
    """Arrow's error reading ``file`` as a one-line :class:`DataError`."""
    text = " ".join(str(err).split())  # one line
    if "Empty CSV file" in text:
        return DataError(
            f"{fn}: data file '{file}' is empty; expected a header line naming "
            "the columns, then data rows"
        )
    return DataError(f"{fn}: cannot read '{file}': {text}")


def mixed_types(fn: str, label: str, err: Exception) -> DataError:
    """The files of a directory whose column types do not merge."""
    return DataError(
        f"{fn}: the files of '{label}' disagree on column types: "
        f"{' '.join(str(err).split())}"
    )


def check_row_count(fn: str, label: str, n: int, csv: bool) -> None:
    """A data set needs at least two rows."""
    if n == 0:
        what = "a header but no data rows" if csv else "no rows"
        raise DataError(f"{fn}: '{label}' has {what}; expected at least two")
    if n < 2:
        raise DataError(f"{fn}: '{label}' has 1 data row; at least two are needed")


def _unknown_column(
    fn: str, name: str, role: str, file: str, available: list[str]
) -> DataError:
    close = difflib.get_close_matches(name, available, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return DataError(
        f"{fn}: {role} column {name!r} is not in '{file}'{hint}; available "
        f"columns: {quote_list(available, SHOWN_COLUMNS)}"
    )


def _check_column_names(
    fn: str, target: Any, features: Any, weights: Any
) -> tuple[str, list[str] | None, str | None]:
    """The ``target``, ``features`` and ``weights`` arguments, checked: distinct names."""
    if not isinstance(target, str):
        raise TypeError(
            f"{fn}: target must be a column name (str), got {type(target).__name__}"
        )
    if weights is not None and not isinstance(weights, str):
        raise TypeError(
            f"{fn}: weights must be a column name (str) or None, got "
            f"{type(weights).__name__}"
        )
    if weights == target:
        raise DataError(
            f"{fn}: weights={weights!r} is also the target column; they must differ"
        )
    if features is None:
        return target, None, weights
    if isinstance(features, str):
        features = [features]
    features = list(features)
    for name in features:
        if not isinstance(name, str):
            raise TypeError(f"{fn}: features must be column names (str), got {name!r}")
    if not features:
        raise DataError(f"{fn}: features is empty; name at least one column")
    seen: set[str] = set()
    for name in features:
        if name in seen:
            raise DataError(f"{fn}: feature {name!r} is listed twice in features")
        seen.add(name)
        for other, role in [(target, "target"), (weights, "weights")]:
            if name == other:
                raise DataError(
                    f"{fn}: feature {name!r} is the {role} column; remove it from "
                    "features"
                )
    return target, features, weights


def _column_picker(
    fn: str, target: str, features: list[str] | None, weights: str | None
) -> ColumnPicker:
    """``columns_for(available, file)``: the columns to read, in the order features,
    target, weights; ``features=None`` picks every column but target, weights and a
    saved pandas index."""

    def columns_for(available: list[str], file: str) -> list[str]:
        for name, role in [(target, "target"), (weights, "weights")]:
            if name is not None and name not in available:
                raise _unknown_column(fn, name, role, file, available)
        if features is None:
            chosen = [
                c
                for c in available
                if c not in (target, weights) and not _PANDAS_INDEX.fullmatch(c)
            ]
            if not chosen:
                raise DataError(
                    f"{fn}: '{file}' has no columns besides the target"
                    f"{' and weights' if weights else ''}; nothing to use as features"
                )
        else:
            chosen = features
            for name in chosen:
                if name not in available:
                    raise _unknown_column(fn, name, "feature", file, available)
        return [*chosen, target] + ([weights] if weights else [])

    return columns_for


def _pick_columns(
    fn: str,
    name: str,
    available: list[str],
    wanted: list[str] | None,
    first: str,
    columns_for: ColumnPicker,
) -> list[str]:
    """The columns to read from file ``name``: the first file's pick (``wanted`` is
    None) by ``columns_for(available, name)``, which every later file must have."""
    if wanted is None:
        check_unique_columns(fn, name, available)
        return columns_for(available, name)
    missing = [c for c in wanted if c not in available]
    if missing:
        raise DataError(
            f"{fn}: column {missing[0]!r} is in '{first}' but not in "
            f"'{name}'; every file of a directory needs the same columns"
        )
    return wanted


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A data set's files and the columns asked for (checked), not yet opened."""

    label: str  # the path as given
    kind: str  # 'csv', 'tsv' or 'parquet'
    paths: list[pathlib.Path]
    target: str
    features: list[str] | None  # None: every column but target, weights, an index
    weights: str | None

    @property
    def csv(self) -> bool:
        return self.kind != "parquet"

    def feature_columns(self, columns: list[str]) -> list[str]:
        """The features of the columns to read (features, target, weights)."""
        return columns[: len(columns) - 1 - (self.weights is not None)]

    def open(self, fn: str) -> Iterator[DataFile]:
        """Each file's schema and columns to read, in order, one file at a
        time (a file is opened when the one before it has been used). The first file
        picks the columns; every later file must have them."""
        columns_for = _column_picker(fn, self.target, self.features, self.weights)
        wanted: list[str] | None = None
        first = ""
        for path in self.paths:
            name = self.label if len(self.paths) == 1 else str(path)
            try:
                schema = file_schema(self.kind, str(path))
            except (pa.ArrowException, OSError) as err:
                raise arrow_error(fn, name, err) from err
            if wanted is None:
                first = name
            wanted = _pick_columns(fn, name, schema.names, wanted, first, columns_for)
            yield DataFile(name, str(path), self.kind, schema, wanted)


def find_data(
    fn: str, path: str | os.PathLike, target: Any, features: Any, weights: Any
) -> DataSource:
    """The files at ``path`` and the column arguments, checked (nothing read yet)."""
    target, features, weights = _check_column_names(fn, target, features, weights)
    label = os.fspath(path)
    kind, paths = _data_files(fn, pathlib.Path(path), label)
    return DataSource(label, kind, paths, target, features, weights)
