"""Tabular data larger than memory, read batch by batch with ``read_table``'s encoding.

:func:`open_stream` takes what :func:`~jaxlogloss.data.read_table` takes (a CSV or
Parquet file or a directory of them, ``target``, ``features``, ``positive``,
``weights``, ``dtype``) and returns a :class:`TableStream`, which yields the rows as
feature-major :class:`Batch` es, each encoded exactly as ``read_table`` encodes the
whole data set: the same feature columns, names, one-hot levels and labels, so the
batches put side by side equal ``read_table(...)``'s arrays.

Two passes over the files:

1. **Schema pass** (:func:`open_stream`, once). The column types come from each
   file's schema (Parquet metadata, a CSV's first block), merged across files as
   ``read_table`` merges them. Then the target, the weights and the string /
   categorical feature columns, and only those, are scanned one Arrow batch at a time:
   this counts the rows of each file (a Parquet file's and each row group's count come
   from its metadata), checks the target, weights and categorical values as
   ``read_table`` checks them, and collects the target's two classes and the sorted
   levels of every categorical column over all files, so that the one-hot encoding is
   global. Numeric feature columns are not read.
2. **Data pass** (:meth:`TableStream.batches`, any number of times, any row range).
   Only the files overlapping the range are opened, and of a Parquet file only the row
   groups overlapping it, one at a time; a CSV file is streamed from its start, in
   Arrow's blocks, and the rows before the range skipped. Arrow's record batches,
   whatever their sizes, are re-cut so that every batch has exactly ``batch_rows``
   rows but the last; a batch may span files. Every batch is validated as
   ``read_table`` validates (missing and non-finite values, values too large for the
   dtype, negative weights) and a :class:`DataError` names the file, the column and
   the row within that file, counted as ``read_table`` counts (1-based; in a CSV the
   first line after the header is row 1).

Memory is bounded by the batch size, never by the data size: the schema pass holds one
Arrow batch (at most a Parquet row group, or a CSV block) of a few columns plus the
distinct values it collects; the data pass holds the Arrow batches of one output batch,
the batch being encoded, the ``prefetch`` finished batches waiting in the queue and the
one the consumer has. The reading and encoding run in a daemon thread ahead of the
consumer (``prefetch=0``: inline); an error there is raised in the consumer, and a
consumer that stops early stops the thread. :meth:`TableStream.read` puts a row range
in memory as :class:`~jaxlogloss.data.TabularData` (a process's shard, say), filling
one preallocated ``xt`` piece by piece.

Errors in the data are found when the pass that reads the column gets there: in the
target, weights and categorical columns by :func:`open_stream`, in numeric features by
the batches that hold them; where a data set has several problems, the one reported
can differ from the one ``read_table`` reports first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from jaxlogloss.data.table import (
    _READ,
    _SHOWN_VALUES,
    DataError,
    TabularData,
    _arrow_error,
    _check_present,
    _column_names,
    _column_picker,
    _data_files,
    _feature_names,
    _file_format,
    _fill_numeric,
    _fill_onehot,
    _first_true,
    _float_dtype,
    _is_number,
    _is_string,
    _levels,
    _Origin,
    _pick_columns,
    _plan_features,
    _quote_list,
    _target,
    _weights,
)

_FS = pafs.LocalFileSystem()
_OPEN = "open_stream"
_BATCHES = "TableStream.batches"
_RANGE = "TableStream.read"

_ARROW_ROWS = 65_536  # rows per Arrow record batch read from Parquet
_READAHEAD = 2  # CSV blocks read ahead within a file
_MAX_TARGET_VALUES = 1_000  # distinct target values collected before giving up
_POLL_S = 0.05  # how often a blocked reader thread checks whether to stop
_JOIN_S = 5.0  # how long a closed stream waits for its reader thread


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Batch:
    """Rows ``[start, start + b)`` of a stream, encoded as ``read_table`` encodes.

    ``xt`` has shape ``(d, b)`` (C-contiguous, float32 or float64, feature-major),
    ``y`` shape ``(b,)`` with 0/1 in the same dtype, ``sample_weight`` shape ``(b,)``
    or None; ``start`` is the global 0-based index of the first row (files in sorted
    order).
    """

    xt: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    start: int

    @property
    def n_samples(self) -> int:
        return self.xt.shape[1]

    @property
    def stop(self) -> int:
        """One past the global index of the last row."""
        return self.start + self.n_samples

    def __repr__(self) -> str:
        return (
            f"Batch(start={self.start}, n_samples={self.n_samples}, "
            f"n_features={self.xt.shape[0]}, dtype={self.xt.dtype}, "
            f"weighted={self.sample_weight is not None})"
        )


@dataclasses.dataclass(frozen=True)
class _File:
    """One data file: its name in messages, path, first global row and row counts."""

    name: str
    path: str
    start: int
    n_rows: int
    row_groups: tuple[int, ...] | None  # rows per Parquet row group; None for CSV


@dataclasses.dataclass(frozen=True)
class _Piece:
    """Consecutive rows of one file, columns decoded and cast to the global types."""

    table: pa.Table
    file: str
    row: int  # 0-based row within the file of the first row
    start: int  # global 0-based row of the first row

    @property
    def n_rows(self) -> int:
        return self.table.num_rows

    def split(self, k: int) -> tuple[_Piece, _Piece | None]:
        """The first ``k`` rows and the rest (None when nothing is left)."""
        if k >= self.n_rows:
            return self, None
        head = _Piece(self.table.slice(0, k), self.file, self.row, self.start)
        rest = _Piece(self.table.slice(k), self.file, self.row + k, self.start + k)
        return head, rest

    def origin(self, label: str, csv: bool) -> _Origin:
        """An :class:`_Origin` that names this file and counts its rows in the file."""
        # _Origin counts a row from the start of its file; this piece's first row is
        # row `self.row` of the file, so the file "starts" `self.row` rows before it.
        return _Origin(label, (self.file,), (-self.row,), csv)


@contextlib.contextmanager
def _named(fn: str) -> Iterator[None]:
    """Errors of ``data``'s helpers, which name ``read_table``, named after ``fn``."""
    try:
        yield
    except (DataError, TypeError) as err:
        text = str(err)
        if type(err) not in (DataError, TypeError) or not text.startswith(_READ + ":"):
            raise
        new = type(err)(fn + text[len(_READ) :])
        raise new.with_traceback(err.__traceback__) from err.__cause__


def _count(fn: str, name: str, value: Any, low: int) -> int:
    """``value`` as an int ``>= low``, else a ValueError naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < low
    ):
        raise ValueError(f"{fn}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _plain(t: pa.DataType) -> pa.DataType:
    """The type of a column's values: a dictionary's value type, else ``t``."""
    return t.value_type if pa.types.is_dictionary(t) else t


def _scan(
    fmt: pads.FileFormat,
    path: str,
    name: str,
    columns: list[str],
    row_groups: list[int] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The record batches of ``columns`` of a file, in order; of a Parquet file only
    ``row_groups`` (default: all), read one row group at a time."""
    try:
        if isinstance(fmt, pads.ParquetFileFormat):
            # not the dataset scanner: it reads Parquet ahead (pre-buffering, row
            # groups in parallel) by as much as the consumer is slower, memory growing
            # with the file; ParquetFile without pre-buffering holds one row group
            with pq.ParquetFile(path, pre_buffer=False) as reader:
                yield from reader.iter_batches(
                    batch_size=_ARROW_ROWS, row_groups=row_groups, columns=columns
                )
        else:
            fragment = fmt.make_fragment(path, filesystem=_FS)
            yield from fragment.to_batches(columns=columns, batch_readahead=_READAHEAD)
    except (pa.ArrowException, OSError) as err:
        raise _arrow_error(name, err) from err


def _conform(
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


def _union(seen: pa.Array | None, col: pa.ChunkedArray) -> pa.Array:
    """The distinct values of ``seen`` and ``col`` together (unsorted)."""
    new = pc.unique(col)
    return new if seen is None else pc.unique(pa.concat_arrays([seen, new]))


def _sorted(values: pa.Array | None, t: pa.DataType) -> pa.Array:
    """Distinct values, sorted as ``read_table`` sorts levels."""
    return _levels(pa.chunked_array([] if values is None else [values], type=t))


def _first_unknown(col: pa.ChunkedArray, known: pa.Array) -> int | None:
    """Index of the first value of ``col`` not among ``known``, or None."""
    return _first_true(pc.invert(pc.is_in(col, value_set=known)))


class TableStream:
    """A data set read batch by batch; made by :func:`open_stream`.

    Attributes: ``source`` (the path as given), ``target``, ``feature_names``,
    ``classes`` (negative, positive) as in :class:`~jaxlogloss.data.TabularData`,
    ``n_samples``, ``n_features``, ``dtype``, ``batch_rows`` and ``prefetch`` (the
    defaults of :meth:`batches`), ``has_weights``.
    """

    def __init__(
        self,
        *,
        source: str,
        target: str,
        weights: str | None,
        classes: tuple[Any, Any],
        plan: list[tuple[str, pa.Array | None]],
        feature_names: list[str],
        types: dict[str, pa.DataType],
        files: list[_File],
        kind: str,
        dtype: np.dtype,
        batch_rows: int,
        prefetch: int,
    ) -> None:
        self.source = source
        self.target = target
        self.feature_names = tuple(feature_names)
        self.classes = tuple(classes)
        self.n_samples = sum(f.n_rows for f in files)
        self.n_features = len(feature_names)
        self.dtype = dtype
        self.batch_rows = batch_rows
        self.prefetch = prefetch
        self.has_weights = weights is not None
        self._weights = weights
        self._plan = plan
        self._types = types
        self._columns = list(types)  # features, target, weights: as read_table reads
        self._files = files
        self._format = _file_format(kind)
        self._csv = kind != "parquet"
        ttype = types[target]
        self._positive = pa.scalar(classes[1], type=ttype)
        self._classes = pa.array(list(classes), type=ttype)

    def __repr__(self) -> str:
        return (
            f"TableStream(n_samples={self.n_samples}, n_features={self.n_features}, "
            f"target={self.target!r}, classes={self.classes!r}, dtype={self.dtype}, "
            f"weighted={self.has_weights}, files={len(self._files)}, "
            f"batch_rows={self.batch_rows}, source={self.source!r})"
        )

    # ------------------------------------------------------------------ public

    def batches(
        self,
        start: int = 0,
        stop: int | None = None,
        *,
        batch_rows: int | None = None,
        prefetch: int | None = None,
    ) -> Iterator[Batch]:
        """The rows ``[start, stop)`` (default: all) as :class:`Batch` es, in order.

        Every batch has ``batch_rows`` rows (default: the stream's) but the last,
        which may be shorter. ``prefetch`` batches (default: the stream's) are read
        and encoded ahead in a background thread; ``prefetch=0`` reads inline. Bad data
        raises :class:`~jaxlogloss.data.DataError` from the batch that holds it.
        """
        fn = _BATCHES
        start, stop = self._range(fn, start, stop, allow_empty=True)
        rows = (
            self.batch_rows
            if batch_rows is None
            else _count(fn, "batch_rows", batch_rows, 1)
        )
        ahead = (
            self.prefetch if prefetch is None else _count(fn, "prefetch", prefetch, 0)
        )
        produced = self._produce(start, stop, rows, fn)
        return produced if ahead == 0 else _prefetched(produced, ahead)

    def read(self, start: int = 0, stop: int | None = None) -> TabularData:
        """The rows ``[start, stop)`` (default: all) in memory as ``TabularData``.

        ``xt`` is allocated once for the range and filled from the files piece by
        piece: memory is that of the result plus one Arrow batch.
        """
        fn = _RANGE
        start, stop = self._range(fn, start, stop, allow_empty=False)
        n = stop - start
        xt = np.empty((self.n_features, n), self.dtype)
        y = np.empty(n, self.dtype)
        sw = np.empty(n, self.dtype) if self.has_weights else None
        with _named(fn):
            for piece in self._pieces(start, stop, fn):
                a, b = piece.start - start, piece.start - start + piece.n_rows
                self._encode(piece, xt[:, a:b], y[a:b], None if sw is None else sw[a:b])
        return TabularData(
            xt=xt,
            y=y,
            sample_weight=sw,
            feature_names=self.feature_names,
            target=self.target,
            classes=self.classes,
            source=self.source,
        )

    # ---------------------------------------------------------------- internal

    def _range(
        self, fn: str, start: Any, stop: Any, *, allow_empty: bool
    ) -> tuple[int, int]:
        n = self.n_samples
        last = n if allow_empty else n - 1
        if (
            isinstance(start, bool)
            or not isinstance(start, int | np.integer)
            or not 0 <= start <= last
        ):
            raise ValueError(
                f"{fn}: start must be an integer with 0 <= start <= {last} "
                f"({n} rows), got {start!r}"
            )
        start = int(start)
        if stop is None:
            return start, n
        low = start if allow_empty else start + 1
        if (
            isinstance(stop, bool)
            or not isinstance(stop, int | np.integer)
            or not low <= stop <= n
        ):
            rel = "<=" if allow_empty else "<"
            raise ValueError(
                f"{fn}: stop must be None or an integer with start {rel} stop <= {n} "
                f"(start={start}, {n} rows), got {stop!r}"
            )
        return start, int(stop)

    def _read(
        self, file: _File, row_groups: list[int] | None
    ) -> Iterator[pa.RecordBatch]:
        """All the columns of a file, of only ``row_groups`` of a Parquet file."""
        return _scan(self._format, file.path, file.name, self._columns, row_groups)

    def _file_batches(
        self, file: _File, lo: int, hi: int
    ) -> Iterator[tuple[int, pa.RecordBatch]]:
        """(row in the file of its first row, record batch), from a Parquet file's row
        groups overlapping rows ``[lo, hi)`` of the file, or a CSV file from its start.
        """
        first = 0
        groups = None
        if file.row_groups is not None:
            bounds = np.cumsum((0, *file.row_groups))
            g0 = int(np.searchsorted(bounds, lo, side="right")) - 1
            g1 = int(np.searchsorted(bounds, hi - 1, side="right")) - 1
            groups = list(range(g0, g1 + 1))
            first = int(bounds[g0])
        row = first
        for batch in self._read(file, groups):
            yield row, batch
            row += batch.num_rows

    def _pieces(self, start: int, stop: int, fn: str) -> Iterator[_Piece]:
        """The global rows ``[start, stop)`` as pieces, in order; files outside the
        range are not opened."""
        for file in self._files:
            lo = max(start, file.start) - file.start
            hi = min(stop, file.start + file.n_rows) - file.start
            if lo >= hi:
                continue
            reached = lo
            with contextlib.closing(self._file_batches(file, lo, hi)) as batches:
                for row, batch in batches:
                    a, b = max(lo, row), min(hi, row + batch.num_rows)
                    if a < b:
                        table = _conform(
                            fn, batch.slice(a - row, b - a), self._types, file.name
                        )
                        yield _Piece(table, file.name, a, file.start + a)
                        reached = b
                    if reached >= hi:
                        break  # the rest of the file is not read
            if reached < hi:
                raise DataError(
                    f"{fn}: '{file.name}' has fewer rows than the {file.n_rows} that "
                    "open_stream counted; did the file change?"
                )

    def _chunks(
        self, start: int, stop: int, batch_rows: int, fn: str
    ) -> Iterator[tuple[int, list[_Piece]]]:
        """(global start, pieces) of ``batch_rows`` rows each but the last."""
        pending: list[_Piece] = []
        have = 0
        at = start
        for piece in self._pieces(start, stop, fn):
            rest: _Piece | None = piece
            while rest is not None:
                head, rest = rest.split(batch_rows - have)
                pending.append(head)
                have += head.n_rows
                if have == batch_rows:
                    yield at, pending
                    at += have
                    pending, have = [], 0
        if pending:
            yield at, pending

    def _produce(
        self, start: int, stop: int, batch_rows: int, fn: str
    ) -> Generator[Batch, None, None]:
        with _named(fn):
            for at, pieces in self._chunks(start, stop, batch_rows, fn):
                b = sum(p.n_rows for p in pieces)
                xt = np.empty((self.n_features, b), self.dtype)
                y = np.empty(b, self.dtype)
                sw = np.empty(b, self.dtype) if self.has_weights else None
                off = 0
                for p in pieces:
                    end = off + p.n_rows
                    self._encode(
                        p,
                        xt[:, off:end],
                        y[off:end],
                        None if sw is None else sw[off:end],
                    )
                    off = end
                yield Batch(xt=xt, y=y, sample_weight=sw, start=at)

    def _encode(
        self,
        piece: _Piece,
        xt: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray | None,
    ) -> None:
        """Encode a piece into the views ``xt`` (d, m), ``y`` and ``sw`` (m,).

        Messages name ``read_table``; the caller renames them (:func:`_named`).
        """
        origin = piece.origin(self.source, self._csv)
        table = piece.table
        col = table[self.target]
        _check_present(col, self.target, origin)
        i = _first_unknown(col, self._classes)
        if i is not None:
            where, row = origin.column(self.target, i)
            raise DataError(
                f"{_READ}: {where} has the value {col[i].as_py()!r} at {row}, not one "
                f"of the classes {_quote_list(list(self.classes), 2)} that "
                "open_stream found; did the file change?"
            )
        offset = 0
        for chunk in col.chunks:
            hit = pc.equal(chunk, self._positive).to_numpy(zero_copy_only=False)
            y[offset : offset + len(chunk)] = hit
            offset += len(chunk)
        if sw is not None:
            sw[:] = _weights(
                table, self._weights, origin, self.dtype, require_positive=False
            )
        j = 0
        for name, levels in self._plan:
            col = table[name]
            _check_present(col, name, origin)
            if levels is None:
                _fill_numeric(xt[j], col, name, origin)
                j += 1
                continue
            i = _first_unknown(col, levels)
            if i is not None:
                where, row = origin.column(name, i)
                raise DataError(
                    f"{_READ}: {where} has the level {col[i].as_py()!r} at {row}, "
                    "which open_stream did not see; did the file change?"
                )
            k = len(levels) - 1
            _fill_onehot(xt[j : j + k], col, levels)
            j += k


class _Failed:
    """An exception raised in the reader thread, to raise in the consumer."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


def _prefetched(source: Generator[Batch, None, None], size: int) -> Iterator[Batch]:
    """``source``'s items, produced in a daemon thread up to ``size`` items ahead.

    An exception in the thread is raised here; closing this generator (a ``break``
    out of the loop, ``close()``, garbage collection) stops the thread, which notices
    at its next hand-over and closes ``source``.
    """
    q: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                pass
        return False

    def work() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as err:  # any: re-raised in the consumer
            put(_Failed(err))
        finally:
            source.close()

    thread = threading.Thread(target=work, name="jaxlogloss-stream-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(_JOIN_S)


def _check_target_type(t: pa.DataType, target: str, label: str) -> None:
    if not (
        _is_string(t) or _is_number(t) or pa.types.is_boolean(t) or pa.types.is_null(t)
    ):
        raise DataError(
            f"{_READ}: target column {target!r} of '{label}' has type {t}; "
            "expected two class labels (numbers, strings or booleans)"
        )


def open_stream(
    path: str | os.PathLike,
    *,
    target: str,
    features: Sequence[str] | None = None,
    positive: Any = None,
    weights: str | None = None,
    dtype: Any = "float32",
    batch_rows: int = 65536,
    prefetch: int = 2,
) -> TableStream:
    """Open a CSV or Parquet file (or a directory of them) to read batch by batch.

    The arguments up to ``dtype`` are :func:`~jaxlogloss.data.read_table`'s, with the
    same meaning, and the batches encode the rows as ``read_table`` would.
    ``batch_rows`` and ``prefetch`` are the defaults of :meth:`TableStream.batches`.

    Makes the schema pass (module docstring): reads the target, weights and
    categorical columns once, in Arrow batches, without holding the data set.
    Raises :class:`~jaxlogloss.data.DataError` (one line naming file, column and row)
    for bad data in those columns, and for bad columns, types or files.
    """
    fn = _OPEN
    dt = _float_dtype(fn, dtype)
    batch_rows = _count(fn, "batch_rows", batch_rows, 1)
    prefetch = _count(fn, "prefetch", prefetch, 0)
    with _named(fn):
        return _open(
            path, target, features, positive, weights, dt, batch_rows, prefetch
        )


def _open(
    path: str | os.PathLike,
    target: Any,
    features: Any,
    positive: Any,
    weights: Any,
    dt: np.dtype,
    batch_rows: int,
    prefetch: int,
) -> TableStream:
    """:func:`open_stream`'s schema pass; messages name ``read_table`` (renamed)."""
    target, features, weights = _column_names(target, features, weights)
    columns_for = _column_picker(target, features, weights)
    label = os.fspath(path)
    kind, paths = _data_files(pathlib.Path(path), label)
    fmt = _file_format(kind)
    csv = kind != "parquet"

    # column names and types from each file's schema, merged as read_table merges
    opened: list[tuple[str, str, pads.Fragment]] = []
    schemas: list[pa.Schema] = []
    wanted: list[str] | None = None
    first = ""
    for p in paths:
        name = label if len(paths) == 1 else str(p)
        try:
            fragment = fmt.make_fragment(str(p), filesystem=_FS)
            schema = fragment.physical_schema
        except (pa.ArrowException, OSError) as err:
            raise _arrow_error(name, err) from err
        if wanted is None:
            first = name
        wanted = _pick_columns(name, schema.names, wanted, first, columns_for)
        try:
            schemas.append(pa.schema([schema.field(c) for c in wanted]))
        except (KeyError, pa.ArrowException) as err:  # a wanted name twice
            raise _arrow_error(name, err) from err
        opened.append((name, str(p), fragment))
    try:
        merged = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowException, TypeError) as err:
        raise DataError(
            f"{_READ}: the files of '{label}' disagree on column types: "
            f"{' '.join(str(err).split())}"
        ) from err
    names = wanted[: len(wanted) - 1 - (weights is not None)]
    whole = _Origin(label, (label,), (0,), csv)  # for messages naming the data set

    # types: target, weights and features (categorical ones with levels to collect)
    types = {c: _plain(merged.field(c).type) for c in wanted}
    _check_target_type(types[target], target, label)
    empty = merged.empty_table()
    if weights is not None:
        _weights(empty, weights, whole, dt, require_positive=False)
    categorical = [n for n, lv in _plan_features(empty, names, whole) if lv is not None]

    # the schema pass: count rows, check and collect target, weights and levels
    scanned = [target] + ([weights] if weights else []) + categorical
    classes: pa.Array | None = None
    levels: dict[str, pa.Array | None] = dict.fromkeys(categorical)
    positive_weight = False
    files: list[_File] = []
    start = 0
    for name, p, fragment in opened:
        n_rows = 0
        for batch in _scan(fmt, p, name, scanned):
            table = _conform(_READ, batch, types, name)
            origin = _Piece(table, name, n_rows, start + n_rows).origin(label, csv)
            col = table[target]
            _check_present(col, target, origin)
            classes = _union(classes, col)
            if len(classes) > _MAX_TARGET_VALUES:
                shown = _sorted(classes, types[target]).to_pylist()
                raise DataError(
                    f"{_READ}: target column {target!r} of '{label}' has more than "
                    f"{_MAX_TARGET_VALUES} distinct values "
                    f"({_quote_list(shown, _SHOWN_VALUES)}); expected exactly two "
                    "classes"
                )
            if weights is not None:
                sw = _weights(table, weights, origin, dt, require_positive=False)
                positive_weight = positive_weight or bool((sw > 0).any())
            for c in categorical:
                _check_present(table[c], c, origin)
                levels[c] = _union(levels[c], table[c])
            n_rows += table.num_rows
        groups = None
        if not csv:  # counts from the metadata, as read_table's table has them
            meta = fragment.metadata
            groups = tuple(
                meta.row_group(g).num_rows for g in range(meta.num_row_groups)
            )
            n_rows = meta.num_rows
        files.append(_File(name, p, start, n_rows, groups))
        start += n_rows

    n = start
    if n == 0:
        what = "a header but no data rows" if csv else "no rows"
        raise DataError(f"{_READ}: '{label}' has {what}; expected at least two")
    if n < 2:
        raise DataError(f"{_READ}: '{label}' has 1 data row; at least two are needed")
    values = pa.table({target: _sorted(classes, types[target])})
    negative, positive_value = _target(
        values, target, positive, whole, np.empty(values.num_rows, dt)
    )
    if weights is not None and not positive_weight:
        raise DataError(
            f"{_READ}: weights column {weights!r} of '{label}' is all zero; "
            "at least one weight must be positive"
        )
    plan = [
        (c, None if c not in levels else _sorted(levels[c], types[c])) for c in names
    ]
    return TableStream(
        source=label,
        target=target,
        weights=weights,
        classes=(negative, positive_value),
        plan=plan,
        feature_names=_feature_names(plan, label),
        types=types,
        files=files,
        kind=kind,
        dtype=dt,
        batch_rows=batch_rows,
        prefetch=prefetch,
    )
