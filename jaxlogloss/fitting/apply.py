"""A saved model applied to new rows: :func:`predict_file` (``jaxlogloss predict``).

The rows of DATA (a CSV / Parquet file or a directory of them) are encoded with the
model's codebook (:mod:`jaxlogloss.data.new_rows`: the same columns, one-hot levels
and dropped levels as the fit; an unseen level, a missing column or a missing value is
a :class:`~jaxlogloss.data.DataError`), and written out with two more columns:

* ``probability`` -- P(y = positive | x) = sigma(b + x . w);
* ``prediction``  -- the positive class where the probability exceeds ``threshold``
  (0.5: b + x . w > 0), else the negative class, as the target's values appear.

A multinomial model writes ``probability[level]`` for each class instead (softmax of
[0, x W + b]) and ``prediction``, the most probable level (``threshold`` unused).

The output (``.csv`` or ``.parquet``) is written to a temporary file next to it and
renamed into place when every row is done: a failure leaves nothing behind. With
``stream`` the rows go through in record batches of ``batch_rows`` (memory bounded by
the batch, not the data).
"""

from __future__ import annotations

import contextlib
import math
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jaxlogloss.data.arrow_from_numpy import label_array, numeric_array
from jaxlogloss.data.encoding import check_present, decoded
from jaxlogloss.data.files import DataError
from jaxlogloss.data.new_rows import encode_rows, numeric_column, read_batches
from jaxlogloss.model.multinomial import class_log_probabilities

OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
NEW_COLUMNS = ("probability", "prediction")


def output_format(fn: str, out: str | os.PathLike) -> str:
    """'csv' or 'parquet' from the output's extension; ValueError otherwise."""
    suffix = pathlib.Path(out).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(
            f"{fn}: the output '{out}' must end in .csv or .parquet, got "
            f"{suffix or 'no extension'!r}"
        )
    return OUTPUT_FORMATS[suffix]


def scored(fn: str, model: Any, table: pa.Table, origin: Any, threshold: float) -> Any:
    """``table`` with the ``probability`` and ``prediction`` columns appended."""
    for name in NEW_COLUMNS:
        if name in table.column_names:
            raise DataError(
                f"{fn}: '{origin.label}' already has a column {name!r}; rename it"
            )
    book = model.codebook
    xt = encode_rows(fn, table, book, np.float64, origin)
    if len(getattr(model, "classes", ())) > 2:  # multinomial: one column per class
        return _class_columns(fn, model, table, xt, origin)
    z = float(model.intercept) + np.asarray(model.coef, np.float64) @ xt
    if book.offset is not None:  # the model's known term, from the same column
        if book.offset not in table.column_names:
            raise DataError(
                f"{fn}: the model's offset column {book.offset!r} is missing from "
                f"'{origin.label}'"
            )
        col = decoded(table[book.offset])
        check_present(fn, col, book.offset, origin)
        z = z + numeric_column(fn, col, book.offset, origin)
    prob = 0.5 * (1 + np.tanh(0.5 * z))  # sigma(z), no overflow
    cut = 0.0 if threshold == 0.5 else math.log(threshold) - math.log1p(-threshold)
    negative, positive = book.classes
    prediction = label_array([positive, negative], np.where(z > cut, 0, 1))
    table = table.append_column("probability", numeric_array(prob))
    return table.append_column("prediction", prediction)


def _class_columns(
    fn: str, model: Any, table: pa.Table, xt: np.ndarray, origin: Any
) -> pa.Table:
    """``table`` with ``probability[level]`` per class and ``prediction`` (the most
    probable level) of a multinomial model."""
    names = [f"probability[{c}]" for c in model.classes]
    for name in (*names, "prediction"):
        if name in table.column_names:
            raise DataError(
                f"{fn}: '{origin.label}' already has a column {name!r}; rename it"
            )
    log_p = class_log_probabilities(model.coef, model.intercept, xt, model.symmetric)
    for name, column in zip(names, np.exp(log_p).T, strict=True):
        table = table.append_column(name, numeric_array(column))
    best = np.argmax(log_p, axis=1)
    return table.append_column("prediction", label_array(list(model.classes), best))


class _Out:
    """The output file, written batch by batch into a temporary file."""

    def __init__(self, path: str | os.PathLike, kind: str) -> None:
        self.path = pathlib.Path(path)
        self.kind = kind
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.writer: Any = None
        self.schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.schema = table.schema
            if self.kind == "csv":
                self.writer = pacsv.CSVWriter(str(self.tmp), table.schema)
            else:
                self.writer = pq.ParquetWriter(str(self.tmp), table.schema)
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        self.writer.write_table(table)

    def commit(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


def predict_file(
    model: Any,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    stream: bool = False,
    batch_rows: int = 65536,
    threshold: float = 0.5,
) -> int:
    """Write DATA's rows with ``probability`` and ``prediction`` to ``out``; the rows
    written. ``model``: a fit with a codebook (``jaxlogloss.load_model(path)``)."""
    fn = "predict"
    kind = output_format(fn, out)
    if not 0 < threshold < 1:
        raise ValueError(f"{fn}: threshold must be in (0, 1), got {threshold!r}")
    if model.codebook is None:
        raise ValueError(f"{fn}: the model has no codebook (encoding) to apply")
    stats = model.statistics
    if stats is not None and stats.offset and model.codebook.offset is None:
        raise ValueError(
            f"{fn}: the model was fitted with an offset but names no offset column "
            "(set its codebook's offset to the column's name)"
        )
    parts: Iterator[Any] = read_batches(fn, data, batch_rows if stream else None)
    sink = _Out(out, kind)
    rows = 0
    try:
        for table, origin in parts:
            rows_out = scored(fn, model, table, origin, threshold)
            try:
                sink.write(rows_out)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as err:
                text = " ".join(str(err).split())
                raise DataError(f"{fn}: cannot write '{out}': {text}") from None
            rows += table.num_rows
        if sink.writer is None:
            raise DataError(f"{fn}: '{data}' has no rows")
        sink.commit()
    except BaseException:
        sink.discard()
        raise
    return rows
