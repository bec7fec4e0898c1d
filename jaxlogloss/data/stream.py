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

The schema pass and the reading of files in Arrow batches are
:mod:`jaxlogloss.data.scan`'s; the reader thread is :mod:`jaxlogloss.data.prefetch`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from jaxlogloss.data.arguments import count, float_dtype
from jaxlogloss.data.codebook import plan_encoding
from jaxlogloss.data.encoding import (
    check_present,
    fill_labels,
    fill_numeric,
    fill_onehot,
    read_weights,
)
from jaxlogloss.data.files import DataError, quote_list
from jaxlogloss.data.host import aligned_empty
from jaxlogloss.data.prefetch import prefetched
from jaxlogloss.data.scan import (
    FileRows,
    Piece,
    StreamSchema,
    conform,
    first_unknown,
    read_schema,
    scan_batches,
)
from jaxlogloss.data.table import TabularData

_OPEN = "open_stream"
_BATCHES = "TableStream.batches"
_RANGE = "TableStream.read"


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


class TableStream:
    """A data set read batch by batch; made by :func:`open_stream`.

    Attributes: ``source`` (the path as given), ``target``, ``feature_names``,
    ``classes`` (negative, positive) as in :class:`~jaxlogloss.data.TabularData`,
    ``n_samples``, ``n_features``, ``dtype``, ``batch_rows`` and ``prefetch`` (the
    defaults of :meth:`batches`), ``has_weights``.
    """

    def __init__(
        self, schema: StreamSchema, *, dtype: np.dtype, batch_rows: int, prefetch: int
    ) -> None:
        self.source = schema.label
        self.target = schema.target
        self.feature_names = tuple(schema.feature_names)
        self.classes = tuple(schema.classes)
        self.n_samples = sum(f.n_rows for f in schema.files)
        self.n_features = len(schema.feature_names)
        self.dtype = dtype
        self.batch_rows = batch_rows
        self.prefetch = prefetch
        self.has_weights = schema.weights is not None
        self._weights = schema.weights
        self._plan = schema.plan
        self.encoding = plan_encoding(schema.plan)  # as TabularData.encoding
        self._types = schema.types
        self._columns = list(schema.types)  # features, target, weights
        self._files = schema.files
        self._kind = schema.kind
        self._csv = schema.kind != "parquet"
        ttype = schema.types[schema.target]
        self._positive = pa.scalar(self.classes[1], type=ttype)
        self._classes = pa.array(list(self.classes), type=ttype)

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
            else count(fn, "batch_rows", batch_rows, 1)
        )
        ahead = (
            self.prefetch if prefetch is None else count(fn, "prefetch", prefetch, 0)
        )
        produced = self._produce(start, stop, rows, fn)
        return produced if ahead == 0 else prefetched(produced, ahead)

    def read(self, start: int = 0, stop: int | None = None) -> TabularData:
        """The rows ``[start, stop)`` (default: all) in memory as ``TabularData``.

        ``xt`` is allocated once for the range and filled from the files piece by
        piece: memory is that of the result plus one Arrow batch.
        """
        fn = _RANGE
        start, stop = self._range(fn, start, stop, allow_empty=False)
        xt, y, sw = self._encode(fn, self._pieces(start, stop, fn), start, stop - start)
        return TabularData(
            xt=xt,
            y=y,
            sample_weight=sw,
            feature_names=self.feature_names,
            target=self.target,
            classes=self.classes,
            source=self.source,
            encoding=self.encoding,
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
        self, file: FileRows, row_groups: list[int] | None, fn: str
    ) -> Iterator[pa.RecordBatch]:
        """All the columns of a file, of only ``row_groups`` of a Parquet file."""
        return scan_batches(
            fn, self._kind, file.path, file.name, self._columns, row_groups
        )

    def _file_batches(
        self, file: FileRows, lo: int, hi: int, fn: str
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
        for batch in self._read(file, groups, fn):
            yield row, batch
            row += batch.num_rows

    def _pieces(self, start: int, stop: int, fn: str) -> Iterator[Piece]:
        """The global rows ``[start, stop)`` as pieces, in order; files outside the
        range are not opened."""
        for file in self._files:
            lo = max(start, file.start) - file.start
            hi = min(stop, file.start + file.n_rows) - file.start
            if lo >= hi:
                continue
            reached = lo
            with contextlib.closing(self._file_batches(file, lo, hi, fn)) as batches:
                for row, batch in batches:
                    a, b = max(lo, row), min(hi, row + batch.num_rows)
                    if a < b:
                        table = conform(
                            fn, batch.slice(a - row, b - a), self._types, file.name
                        )
                        yield Piece(table, file.name, a, file.start + a)
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
    ) -> Iterator[tuple[int, list[Piece]]]:
        """(global start, pieces) of ``batch_rows`` rows each but the last."""
        pending: list[Piece] = []
        have = 0
        at = start
        for piece in self._pieces(start, stop, fn):
            rest: Piece | None = piece
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
        for at, pieces in self._chunks(start, stop, batch_rows, fn):
            n = sum(p.n_rows for p in pieces)
            xt, y, sw = self._encode(fn, pieces, at, n)
            yield Batch(xt=xt, y=y, sample_weight=sw, start=at)

    def _encode(
        self, fn: str, pieces: Iterable[Piece], start: int, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(xt, y, sample_weight)`` of the ``n`` consecutive rows from global row
        ``start`` that ``pieces`` hold, each allocated once and filled piece by piece.
        ``xt`` lies on its own memory map (:func:`~jaxlogloss.data.host.aligned_empty`),
        returned to the system when the batch is freed: from NumPy's heap, the freed
        batches of the reader thread stayed in glibc's arenas and the peak of a
        streamed Newton fit grew with each pass (a quarter and all of 10^6 x 100
        float32 in Parquet files: 0.84-0.95 GB against 0.54-0.61 GB;
        benchmarks/NOTES.md, twentieth session)."""
        xt = aligned_empty((self.n_features, n), self.dtype)
        y = np.empty(n, self.dtype)
        sw = np.empty(n, self.dtype) if self.has_weights else None
        for piece in pieces:
            a, b = piece.start - start, piece.start - start + piece.n_rows
            self._encode_piece(
                fn, piece, xt[:, a:b], y[a:b], None if sw is None else sw[a:b]
            )
        return xt, y, sw

    def _encode_piece(
        self,
        fn: str,
        piece: Piece,
        xt: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray | None,
    ) -> None:
        """Encode a piece into the views ``xt`` (d, m), ``y`` and ``sw`` (m,)."""
        origin = piece.origin(self.source, self._csv)
        table = piece.table
        col = table[self.target]
        check_present(fn, col, self.target, origin)
        i = first_unknown(col, self._classes)
        if i is not None:
            where, row = origin.column(self.target, i)
            raise DataError(
                f"{fn}: {where} has the value {col[i].as_py()!r} at {row}, not one "
                f"of the classes {quote_list(list(self.classes), 2)} that "
                "open_stream found; did the file change?"
            )
        fill_labels(y, col, self._positive)
        if sw is not None:
            sw[:] = read_weights(
                fn, table, self._weights, origin, self.dtype, require_positive=False
            )
        j = 0
        for name, levels in self._plan:
            col = table[name]
            check_present(fn, col, name, origin)
            if levels is None:
                fill_numeric(fn, xt[j], col, name, origin)
                j += 1
                continue
            i = first_unknown(col, levels)
            if i is not None:
                where, row = origin.column(name, i)
                raise DataError(
                    f"{fn}: {where} has the level {col[i].as_py()!r} at {row}, "
                    "which open_stream did not see; did the file change?"
                )
            k = len(levels) - 1
            fill_onehot(xt[j : j + k], col, levels)
            j += k


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

    Makes the schema pass (module docstring, :func:`~jaxlogloss.data.scan.read_schema`):
    reads the target, weights and categorical columns once, in Arrow batches, without
    holding the data set. Raises :class:`~jaxlogloss.data.DataError` (one line naming
    file, column and row) for bad data in those columns, and for bad columns, types or
    files.
    """
    fn = _OPEN
    dt = float_dtype(fn, dtype)
    batch_rows = count(fn, "batch_rows", batch_rows, 1)
    prefetch = count(fn, "prefetch", prefetch, 0)
    schema = read_schema(fn, path, target, features, positive, weights, dt)
    return TableStream(schema, dtype=dt, batch_rows=batch_rows, prefetch=prefetch)
