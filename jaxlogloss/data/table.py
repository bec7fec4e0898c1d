"""Tabular data for logistic regression in memory: files in, a feature-major design out.

:func:`read_table` reads a CSV (``.csv``, ``.csv.gz``, ``.tsv``, ``.tsv.gz``) or
Parquet (``.parquet``, ``.pq``) file, or a directory of such files, with pyarrow and
returns a :class:`TabularData`: the features stored **feature-major** as ``xt`` of
shape ``(d, n)`` (one feature a contiguous row, the fast layout of
:class:`~jaxlogloss.data.design.FeatureMajor`), the 0/1 labels ``y``, optional sample
weights, the feature names and the two class labels as they appear in the file.

``xt`` is allocated once and filled column by column straight from the Arrow columns:
no ``(n, d)`` array is ever built and transposed, so reading holds at most the Arrow
table plus ``xt``, and a fit on ``design()`` needs no second copy of X in NumPy.

The encoding (numeric columns as they are, string and categorical columns one-hot with
the first sorted level dropped, the target's two values as 0/1) is
:mod:`jaxlogloss.data.encoding`'s; finding and opening the files is
:mod:`jaxlogloss.data.files`'.

Bad data raises :class:`DataError`, one line naming the file, the column and the first
bad row. Rows are counted from 1 as a person counts them: in a CSV the first line after
the header is row 1. Empty cells and ``NA``, ``NaN``, ``null`` and the like are missing
values (pyarrow's defaults, which are also pandas').
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
import pyarrow as pa

from jaxlogloss.data.arguments import float_dtype
from jaxlogloss.data.codebook import plan_encoding
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.data.encoding import (
    decoded,
    feature_names,
    fill_numeric,
    fill_onehot,
    plan_features,
    read_target,
    read_weights,
)
from jaxlogloss.data.files import DataError as DataError
from jaxlogloss.data.files import (
    DataSource,
    Origin,
    arrow_error,
    check_row_count,
    find_data,
    mixed_types,
)
from jaxlogloss.data.host import aligned_empty

_READ = "read_table"


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TabularData:
    """A classification data set with the features stored feature-major.

    ``xt`` has shape ``(d, n)`` (C-contiguous, float32 or float64), ``y`` shape ``(n,)``
    with 0/1 in the same dtype (1 = ``classes[1]``, the positive label),
    ``sample_weight`` shape ``(n,)`` or None. ``classes`` is ``(negative, positive)``
    as the labels appear in the source, e.g. ``("cardigan", "jacket")`` or ``(0, 1)``.
    A multinomial target (``read_table(..., multiclass=True)`` on K > 2 levels) has
    the K sorted levels as ``classes`` and each row's index among them as ``y``.
    """

    xt: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    feature_names: tuple[str, ...]
    target: str
    classes: tuple
    source: str
    #: per feature column (name, sorted levels or None): a reader's one-hot plan, kept
    #: so that a saved model encodes new rows the same way (data/codebook.py)
    encoding: Any = None

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
        k = max(2, len(tuple(self.classes)))
        bad = (y != np.round(y)) | (y < 0) | (y > k - 1)
        if bad.any():
            i = int(np.argmax(bad))
            what = "0 or 1" if k == 2 else f"a class index in 0..{k - 1}"
            raise ValueError(f"{fn}: y must be {what}, got {y[i]} at index {i}")
        sw = self.sample_weight
        if sw is not None:
            sw = np.asarray(sw)
            if sw.shape != (n,):
                raise ValueError(
                    f"{fn}: sample_weight has shape {sw.shape}; expected ({n},)"
                )
            # float64 weights stay float64 next to float32 features (dtype "auto")
            wide = sw.dtype.kind == "f" and sw.dtype.itemsize > xt.dtype.itemsize
            sw = sw.astype(sw.dtype if wide else xt.dtype, copy=False)
        names = tuple(str(name) for name in self.feature_names)
        if len(names) != d:
            raise ValueError(
                f"{fn}: {len(names)} feature names for {d} features (xt has shape "
                f"{xt.shape})"
            )
        classes = tuple(self.classes)
        if len(classes) < 2:
            raise ValueError(
                f"{fn}: classes must be (negative, positive) or K > 2 sorted levels, "
                f"got {self.classes!r}"
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
            encoding=self.encoding,
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
            groups = [np.flatnonzero(self.y == k) for k in range(len(self.classes))]
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


def _load(source: DataSource) -> tuple[pa.Table, Origin, list[str]]:
    """Read the columns to read of every file, concatenated: the whole data set."""
    tables, starts, names = [], [], []
    wanted: list[str] = []
    for file in source.open(_READ):
        try:
            table = file.read()
        except (pa.ArrowException, OSError) as err:
            raise arrow_error(_READ, file.name, err) from err
        starts.append(sum(t.num_rows for t in tables))
        tables.append(table)
        names.append(file.name)
        wanted = file.columns
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowException, TypeError) as err:
        raise mixed_types(_READ, source.label, err) from err
    return table, Origin(source.label, tuple(names), tuple(starts), source.csv), wanted


def read_table(
    path: str | os.PathLike,
    *,
    target: str,
    features: Sequence[str] | None = None,
    positive: Any = None,
    weights: str | None = None,
    dtype: Any = "float32",
    multiclass: bool = False,
) -> TabularData:
    """Read a CSV or Parquet file (or a directory of them) into :class:`TabularData`.

    ``features=None`` takes every column except ``target`` and ``weights`` (and a
    pandas index saved in Parquet as ``__index_level_0__``). Numeric and
    boolean columns are used as they are; string and categorical columns are one-hot
    encoded (sorted levels, first dropped, named ``col[level]``). ``positive`` is the
    label for ``y = 1`` (matched against the target's values, also as text, so ``"1"``
    picks ``1``); by default the second of the two sorted values. ``weights`` names a
    numeric column of sample weights. ``multiclass=True`` also reads a target of
    K > 2 levels (a multinomial fit: ``classes`` the sorted levels, ``y`` their
    indices; ``positive`` is then an error); two levels stay a binary target.

    ``dtype``: "float32", "float64", or "auto": the features in float32 when every
    feature column is exactly representable there (float32 or narrower floats, 8- and
    16-bit integers, booleans, one-hot levels), else float64; labels and weights in
    float64. A float64 fit of an "auto" table computes in float64 on the float32 values
    without doubling them (:mod:`jaxlogloss.fitting.inputs`, the dtype policy).

    Raises :class:`DataError` (one line naming file, column and row) for bad data.
    """
    fn = _READ
    auto = isinstance(dtype, str) and dtype == "auto"
    dt = np.dtype(np.float64) if auto else float_dtype(fn, dtype)
    source = find_data(fn, path, target, features, weights)
    target, weights = source.target, source.weights
    table, origin, columns = _load(source)
    names = source.feature_columns(columns)
    n = table.num_rows
    check_row_count(fn, origin.label, n, origin.csv)

    y = np.empty(n, dt)
    classes = read_target(fn, table, target, positive, origin, y, multiclass)
    sample_weight = (
        None if weights is None else read_weights(fn, table, weights, origin, dt)
    )
    plan = plan_features(fn, table, names, origin)

    names_out = feature_names(fn, plan, origin.label)
    x_dt = exact_storage(table, plan) if auto else dt
    # each column goes straight into its row of the feature-major xt (no (n, d)
    # intermediate) and its Arrow buffers are freed once copied, so the Arrow table
    # shrinks while xt fills: the peak is about xt plus one column, not xt plus the
    # table; the pool hands the freed memory back to the system as it goes
    columns = {name: table[name] for name, _ in plan}
    del table
    pool = pa.default_memory_pool()
    xt = aligned_empty((len(names_out), n), x_dt)
    j = 0
    for name, levels in plan:
        col = columns.pop(name)
        if levels is None:
            fill_numeric(fn, xt[j], col, name, origin)
            j += 1
        else:
            k = len(levels) - 1
            fill_onehot(xt[j : j + k], decoded(col), levels)
            j += k
        del col
        pool.release_unused()
    return TabularData(
        xt=xt,
        y=y,
        sample_weight=sample_weight,
        feature_names=tuple(names_out),
        target=target,
        classes=classes,
        source=origin.label,
        encoding=plan_encoding(plan),
    )


FLOAT32_EXACT = (pa.float16(), pa.float32(), pa.int8(), pa.uint8(), pa.int16(),
                 pa.uint16(), pa.bool_(), pa.null())  # fmt: skip


def exact_storage(table: pa.Table, plan: Any) -> np.dtype:
    """float32 when every planned feature column holds values float32 represents
    exactly (one-hot levels do), else float64."""
    for name, levels in plan:
        if levels is None and table[name].type not in FLOAT32_EXACT:
            return np.dtype(np.float64)
    return np.dtype(np.float32)
