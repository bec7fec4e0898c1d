"""Streamed batches against read_table: same arrays, few files read, same errors."""

from __future__ import annotations

import gc
import gzip
import threading
import time

import numpy as np
import pandas as pd
import pytest

import jaxlogloss.data.scan as scan
from jaxlogloss.data.prefetch import prefetched
from jaxlogloss.data.stream import Batch, TableStream, open_stream
from jaxlogloss.data.table import DataError, TabularData, read_table

PARQUET_SIZES = [13, 1, 0, 38, 7, 55, 22]  # 136 rows; one file without rows
CSV_SIZES = [29, 1, 44, 8, 37]  # 119 rows; the third file gzipped
THREAD = "jaxlogloss-stream-reader"


def frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Numeric, boolean, categorical, a yes/no target and weights."""
    return pd.DataFrame(
        {
            "height": rng.normal(170, 10, n).round(3),
            "visits": rng.integers(0, 20, n),
            "region": rng.choice(["north", "south", "inland"], n),
            "member": rng.random(n) < 0.4,
            "answer": rng.choice(["yes", "no"], n),
            "w": rng.uniform(0.5, 2.0, n).round(4),
        }
    )


def parts(rng: np.random.Generator, sizes: list[int]) -> list[pd.DataFrame]:
    """Pieces of one frame; the first file has one region only and the first sorted
    level ('coastal') is only in the last file, so the levels are global."""
    df = frame(rng, sum(sizes))
    bounds = np.cumsum([0, *sizes])
    out = [
        df.iloc[a:b].reset_index(drop=True)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    out[0]["region"] = "north"
    out[-1].loc[::2, "region"] = "coastal"
    return out


def write(pieces: list[pd.DataFrame], directory, fmt: str, rng=None) -> list:
    """Write the pieces as numbered files (sorted order = row order)."""
    directory.mkdir()
    paths = []
    for k, piece in enumerate(pieces):
        if fmt == "parquet":
            path = directory / f"part-{k:02d}.parquet"
            size = int(rng.integers(3, 10))  # several small row groups
            piece.to_parquet(path, index=False, row_group_size=size)
        elif k == 2:
            path = directory / f"part-{k:02d}.csv.gz"
            with gzip.open(path, "wt") as f:
                piece.to_csv(f, index=False)
        else:
            path = directory / f"part-{k:02d}.csv"
            piece.to_csv(path, index=False)
        paths.append(path)
    return paths


def dataset(rng, tmp_path, fmt: str) -> tuple:
    sizes = PARQUET_SIZES if fmt == "parquet" else CSV_SIZES
    pieces = parts(rng, sizes)
    paths = write(pieces, tmp_path / fmt, fmt, rng)
    return tmp_path / fmt, paths, pieces


def concat(batches: list[Batch]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    xt = np.concatenate([b.xt for b in batches], axis=1)
    y = np.concatenate([b.y for b in batches])
    sw = None
    if batches[0].sample_weight is not None:
        sw = np.concatenate([b.sample_weight for b in batches])
    return xt, y, sw


def same_data(got: TabularData, ref: TabularData) -> None:
    np.testing.assert_array_equal(got.xt, ref.xt)
    np.testing.assert_array_equal(got.y, ref.y)
    if ref.sample_weight is None:
        assert got.sample_weight is None
    else:
        np.testing.assert_array_equal(got.sample_weight, ref.sample_weight)
    assert got.xt.dtype == ref.xt.dtype and got.xt.flags.c_contiguous
    assert got.feature_names == ref.feature_names
    assert got.classes == ref.classes
    assert (got.target, got.source) == (ref.target, ref.source)


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD and t.is_alive()]


def no_reader_threads(timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while reader_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not reader_threads()


def as_read_table(err: pytest.ExceptionInfo, fn: str) -> str:
    """The message with read_table's name in place of ``fn``'s."""
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(fn + ": ")
    return "read_table" + msg[len(fn) :]


# --------------------------------------------------------------- equal to read_table


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_batches_equal_read_table_for_any_batch_size_and_range(
    rng, tmp_path, monkeypatch, fmt
):
    # small Arrow batches too: record batches cut inside row groups
    monkeypatch.setattr(scan, "_ARROW_ROWS", 4)
    path, _, pieces = dataset(rng, tmp_path, fmt)
    ref = read_table(path, target="answer", weights="w")
    s = open_stream(path, target="answer", weights="w", batch_rows=64)
    n = ref.n_samples
    assert n == sum(len(p) for p in pieces)
    assert (s.n_samples, s.n_features, s.dtype) == (n, ref.n_features, np.float32)
    assert s.feature_names == ref.feature_names and s.classes == ("no", "yes")
    assert s.has_weights and s.source == str(path) and s.target == "answer"
    # the levels are global: 'coastal' (last file only) is the dropped first level
    assert "region[north]" in s.feature_names
    assert "region[coastal]" not in s.feature_names

    first = len(pieces[0])
    spanning = (first - 3, n - len(pieces[-1]) + 2)  # from the first to the last file
    ranges = [(0, n), (0, 17), spanning, (first, first + 1), (n - 1, n), (5, 5)]
    for batch_rows in [1, 7, 64, n + 5]:
        for start, stop in ranges:
            got = list(s.batches(start, stop, batch_rows=batch_rows))
            sizes = [b.n_samples for b in got]
            full, last = divmod(stop - start, batch_rows)
            assert sizes == [batch_rows] * full + ([last] if last else [])
            assert [b.start for b in got] == list(range(start, stop, batch_rows))
            if stop == start:
                continue
            xt, y, sw = concat(got)
            for b in got:
                assert b.xt.flags.c_contiguous and b.xt.dtype == np.float32
                assert b.y.dtype == b.sample_weight.dtype == np.float32
            np.testing.assert_array_equal(xt, ref.xt[:, start:stop])
            np.testing.assert_array_equal(y, ref.y[start:stop])
            np.testing.assert_array_equal(sw, ref.sample_weight[start:stop])
    # the default range and batch size
    xt, y, sw = concat(list(s.batches()))
    np.testing.assert_array_equal(xt, ref.xt)
    for start, stop in ranges[:-1]:
        same_data(s.read(start, stop), ref.subset(np.arange(start, stop)))
    same_data(s.read(), ref)


def test_single_files_positive_features_and_float64(rng, tmp_path):
    df = frame(rng, 57)
    df.loc[0, "region"] = "coastal"
    csv, pq = tmp_path / "one.csv", tmp_path / "one.parquet"
    df.to_csv(csv, index=False)
    df.to_parquet(pq, index=False, row_group_size=10)
    kw = dict(target="answer", features=["member", "region", "height"])
    for path in [csv, pq]:
        for args in [dict(positive="no", dtype="float64"), dict(weights="w")]:
            ref = read_table(path, **kw, **args)
            s = open_stream(path, **kw, **args, batch_rows=10)
            assert s.classes == ref.classes and s.feature_names == ref.feature_names
            assert s.has_weights == ("weights" in args)
            same_data(s.read(), ref)
            same_data(s.read(11, 40), ref.subset(np.arange(11, 40)))
            xt, y, sw = concat(list(s.batches(3, 50)))
            np.testing.assert_array_equal(xt, ref.xt[:, 3:50])
            np.testing.assert_array_equal(y, ref.y[3:50])
            assert (sw is None) == (ref.sample_weight is None)
    assert s.classes == ("no", "yes") and s.dtype == np.float32
    assert "Batch(start=0, n_samples=10" in repr(next(iter(s.batches())))
    assert "TableStream(n_samples=57" in repr(s)


def test_dictionary_categorical_and_pandas_index_as_read_table(rng, tmp_path):
    df = frame(rng, 40)
    df["region"] = pd.Categorical(
        df["region"], categories=["south", "north", "inland", "x"]
    )
    df.index = df.index + 100  # saved as __index_level_0__, not a feature
    path = tmp_path / "cat.parquet"
    df.to_parquet(path)
    ref = read_table(path, target="answer")
    s = open_stream(path, target="answer", batch_rows=9)
    same_data(s.read(), ref)
    assert "__index_level_0__" not in s.feature_names
    assert "region[x]" not in s.feature_names  # an unused category is no level


# ----------------------------------------------------------- only what is needed is read


def test_schema_pass_reads_only_target_weights_and_categoricals(
    rng, tmp_path, monkeypatch
):
    path, _, _ = dataset(rng, tmp_path, "parquet")
    seen = []
    scan_batches = scan.scan_batches

    def spy(fn, fmt, path, name, columns, row_groups=None):
        seen.append(list(columns))
        return scan_batches(fn, fmt, path, name, columns, row_groups)

    monkeypatch.setattr(scan, "scan_batches", spy)
    open_stream(path, target="answer", weights="w")
    assert seen and all(c == ["answer", "w", "region"] for c in seen)


def test_a_narrow_range_opens_one_file_and_its_row_groups(rng, tmp_path, monkeypatch):
    path, paths, pieces = dataset(rng, tmp_path, "parquet")
    s = open_stream(path, target="answer", weights="w")
    ref = read_table(path, target="answer", weights="w")
    opened = []
    read = TableStream._read

    def spy(self, file, row_groups, fn):
        opened.append((file.name, row_groups, file.row_groups))
        return read(self, file, row_groups, fn)

    monkeypatch.setattr(TableStream, "_read", spy)
    k = 5  # rows [lo, hi) of the sixth file
    begin = sum(len(p) for p in pieces[:k])
    lo, hi = 11, 30
    got = list(s.batches(begin + lo, begin + hi, batch_rows=8))
    np.testing.assert_array_equal(concat(got)[0], ref.xt[:, begin + lo : begin + hi])
    assert len(opened) == 1
    name, groups, sizes = opened[0]
    assert name == str(paths[k])
    bounds = np.cumsum([0, *sizes])
    overlapping = [
        g for g in range(len(sizes)) if bounds[g] < hi and bounds[g + 1] > lo
    ]
    assert groups == overlapping and len(groups) < len(sizes)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_files_outside_the_range_are_not_read(rng, tmp_path, fmt):
    path, paths, pieces = dataset(rng, tmp_path, fmt)
    ref = read_table(path, target="answer", weights="w")
    s = open_stream(path, target="answer", weights="w", batch_rows=5)
    paths[0].write_bytes(b"\x00\x01 garbage, not a data file \xff\n")
    tail = ref.n_samples - len(pieces[-1])
    got = s.read(tail + 1, ref.n_samples)
    same_data(got, ref.subset(np.arange(tail + 1, ref.n_samples)))
    with pytest.raises(DataError) as err:
        list(s.batches())
    assert f"'{paths[0]}'" in str(err.value)
    assert str(err.value).startswith("TableStream.batches: ")


# -------------------------------------------------------------------------- errors


def test_bad_numeric_value_in_a_later_file_names_file_column_and_row(rng, tmp_path):
    pieces = parts(rng, CSV_SIZES)
    pieces[3].loc[4, "height"] = np.nan  # an empty cell: row 5 of the fourth file
    path = tmp_path / "csv"
    paths = write(pieces, path, "csv")
    with pytest.raises(DataError) as expected:
        read_table(path, target="answer", weights="w")
    s = open_stream(path, target="answer", weights="w")  # numeric columns not read
    assert f"column 'height' of '{paths[3]}'" in str(expected.value)
    assert "row 5 (1-based, after the header)" in str(expected.value)
    bad = sum(CSV_SIZES[:3]) + 4  # its global index
    for prefetch in [0, 2]:
        got = []
        with pytest.raises(DataError) as err:
            for b in s.batches(batch_rows=6, prefetch=prefetch):
                got.append(b)
        assert as_read_table(err, "TableStream.batches") == str(expected.value)
        assert sum(b.n_samples for b in got) == bad // 6 * 6  # the good ones came
    assert no_reader_threads()
    with pytest.raises(DataError) as err:
        s.read(bad - 2, bad + 1)
    assert as_read_table(err, "TableStream.read") == str(expected.value)
    s.read(0, bad)  # the rows before it are fine
    s.read(bad + 1)


def test_bad_values_in_parquet_name_the_row_without_a_header(rng, tmp_path):
    pieces = parts(rng, PARQUET_SIZES)
    pieces[5].loc[2, "height"] = np.inf
    path = tmp_path / "pq"
    paths = write(pieces, path, "parquet", rng)
    s = open_stream(path, target="answer")
    with pytest.raises(DataError) as err:
        s.read()
    msg = str(err.value)
    assert f"column 'height' of '{paths[5]}'" in msg
    assert "non-finite value inf at row 3 (1-based);" in msg


def test_value_too_large_for_float32_is_found_by_the_batch(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("x,y\n1.0,a\n2.0,b\n1e300,a\n")
    with pytest.raises(DataError) as expected:
        read_table(path, target="y")
    s = open_stream(path, target="y")
    with pytest.raises(DataError) as err:
        list(s.batches())
    assert as_read_table(err, "TableStream.batches") == str(expected.value)
    assert open_stream(path, target="y", dtype="float64").read().xt[0, 2] == 1e300


def _missing_target(pieces):
    pieces[4].loc[6, "answer"] = None


def _third_class(pieces):
    pieces[-1].loc[3, "answer"] = "maybe"


def _negative_weight(pieces):
    pieces[2].loc[1, "w"] = -1.0


def _missing_level(pieces):
    pieces[3].loc[0, "region"] = None


def _all_zero_weights(pieces):
    for p in pieces:
        p["w"] = 0.0


def _dropped_column(pieces):
    del pieces[3]["visits"]


@pytest.mark.parametrize(
    "damage",
    [
        _missing_target,
        _third_class,
        _negative_weight,
        _missing_level,
        _all_zero_weights,
        _dropped_column,
    ],
)
def test_bad_target_weights_levels_or_columns_fail_in_open_stream(
    rng, tmp_path, damage
):
    pieces = parts(rng, CSV_SIZES)
    damage(pieces)
    path = tmp_path / "csv"
    write(pieces, path, "csv")
    with pytest.raises(DataError) as expected:
        read_table(path, target="answer", weights="w")
    with pytest.raises(DataError) as err:
        open_stream(path, target="answer", weights="w")
    assert as_read_table(err, "open_stream") == str(expected.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(target="anser"),
        dict(target="answer", weights="weight"),
        dict(target="answer", features=["height", "colour"]),
        dict(target="answer", positive="maybe"),
        dict(target="answer", features=["height", "height"]),
        dict(target="answer", features=["answer"]),
    ],
)
def test_bad_column_arguments_as_read_table(rng, tmp_path, kwargs):
    path = tmp_path / "a.parquet"
    frame(rng, 20).to_parquet(path, index=False)
    with pytest.raises(DataError) as expected:
        read_table(path, **kwargs)
    with pytest.raises(DataError) as err:
        open_stream(path, **kwargs)
    assert as_read_table(err, "open_stream") == str(expected.value)
    if "anser" in str(kwargs):
        assert "'anser'" in str(err.value) and "did you mean 'answer'?" in str(
            err.value
        )


def test_too_few_rows_missing_files_and_mixed_types(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("x,y\n1,a\n")
    header = tmp_path / "header.csv"
    header.write_text("x,y\n")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.csv").write_text("x,y\n1,a\n2,b\n")
    (mixed / "b.csv").write_text("x,y\nfoo,a\nbar,b\n")
    for path in [one, header, mixed, tmp_path / "nothing.csv", tmp_path / "a.txt"]:
        with pytest.raises(DataError) as expected:
            read_table(path, target="y")
        with pytest.raises(DataError) as err:
            open_stream(path, target="y")
        assert as_read_table(err, "open_stream") == str(expected.value)
    with pytest.raises(TypeError, match="^open_stream: target must be a column name"):
        open_stream(one, target=3)


@pytest.mark.parametrize(
    "call, message",
    [
        (dict(batch_rows=0), "open_stream: batch_rows must be an integer >= 1, got 0"),
        (dict(batch_rows=2.5), "batch_rows must be an integer >= 1, got 2.5"),
        (dict(batch_rows=True), "batch_rows must be an integer >= 1, got True"),
        (dict(prefetch=-1), "open_stream: prefetch must be an integer >= 0, got -1"),
        (dict(dtype="int32"), "open_stream: dtype must be 'float32' or 'float64'"),
    ],
)
def test_open_stream_rejects_bad_arguments(tmp_path, call, message):
    path = tmp_path / "a.csv"
    path.write_text("x,y\n1,a\n2,b\n")
    with pytest.raises(ValueError) as err:
        open_stream(path, target="y", **call)
    assert str(err.value).startswith("open_stream: ") and message in str(err.value)


def test_batches_and_read_reject_bad_ranges_and_sizes(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("x,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(10)))
    s = open_stream(path, target="y", batch_rows=np.int64(3))
    assert s.batch_rows == 3 and type(s.batch_rows) is int
    assert [b.n_samples for b in s.batches(np.int64(2))] == [3, 3, 2]
    bad = [
        (dict(start=-1), "TableStream.batches: start must be an integer with 0 <="),
        (dict(start=11), "start must be an integer with 0 <= start <= 10 (10 rows)"),
        (dict(start=1.0), "start must be an integer"),
        (dict(start=5, stop=4), "stop must be None or an integer with start <= stop"),
        (dict(stop=11), "stop must be None or an integer with start <= stop <= 10"),
        (dict(stop="3"), "stop must be None or an integer"),
        (dict(batch_rows=0), "TableStream.batches: batch_rows must be an integer >= 1"),
        (dict(prefetch=1.5), "TableStream.batches: prefetch must be an integer >= 0"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError) as err:
            s.batches(**kwargs)  # checked at the call, before iterating
        assert str(err.value).startswith("TableStream.batches: ")
        assert message in str(err.value)
    with pytest.raises(ValueError, match=r"^TableStream.read: start .* <= 9"):
        s.read(10)
    with pytest.raises(ValueError, match="start < stop <= 10"):
        s.read(4, 4)
    assert s.read(9).n_samples == 1
    assert list(s.batches(10)) == [] and list(s.batches(4, 4)) == []


# ------------------------------------------------------------------- reader thread


def test_prefetch_zero_gives_the_same_batches_without_a_thread(rng, tmp_path):
    path, _, _ = dataset(rng, tmp_path, "csv")
    s = open_stream(path, target="answer", weights="w", batch_rows=16)
    threaded = list(s.batches(prefetch=3))
    inline = []
    for b in s.batches(prefetch=0):
        assert not reader_threads()
        inline.append(b)
    assert [b.start for b in inline] == [b.start for b in threaded]
    for a, b in zip(inline, threaded, strict=True):
        np.testing.assert_array_equal(a.xt, b.xt)
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.sample_weight, b.sample_weight)
    assert no_reader_threads()


def test_stopping_early_stops_the_reader_thread(rng, tmp_path):
    path, _, _ = dataset(rng, tmp_path, "parquet")
    s = open_stream(path, target="answer", weights="w", batch_rows=1, prefetch=2)
    before = threading.active_count()
    for _ in s.batches():  # break out of the loop
        assert len(reader_threads()) == 1
        break
    assert no_reader_threads()
    it = s.batches()  # closed explicitly
    next(it)
    (thread,) = reader_threads()
    it.close()
    thread.join(2)
    assert not thread.is_alive()
    it = s.batches()  # dropped unfinished
    next(it)
    (thread,) = reader_threads()
    del it
    gc.collect()
    thread.join(2)
    assert not thread.is_alive()
    assert threading.active_count() == before
    s.batches()  # not iterated: no thread starts
    assert not reader_threads()


def test_reader_thread_stays_a_bounded_number_of_items_ahead():
    made = []

    def source():
        for i in range(100):
            made.append(i)
            yield i

    it = prefetched(source(), 3)
    assert next(it) == 0
    time.sleep(0.3)
    assert len(made) <= 1 + 3 + 1  # taken, queued, waiting to be queued
    assert list(it) == list(range(1, 100))
    assert no_reader_threads()


def test_reader_thread_errors_are_raised_in_the_consumer():
    failure = KeyError("boom")

    def source():
        yield 1
        raise failure

    it = prefetched(source(), 2)
    assert next(it) == 1
    with pytest.raises(KeyError) as err:
        next(it)
    assert err.value is failure
    assert no_reader_threads()


def test_large_batches_live_on_their_own_memory_maps(tmp_path):
    """A batch's xt of 2 MB or more is page-aligned on an anonymous memory map (given
    back to the system when the batch is freed; from NumPy's heap, the reader
    thread's freed batches stayed in the C allocator's arenas), and holds the same
    values as read_table."""
    import mmap

    rng = np.random.default_rng(5)
    n, d = 40_000, 8
    df = pd.DataFrame({f"x{j}": rng.normal(size=n) for j in range(d)})
    df["y"] = rng.integers(0, 2, n)
    path = tmp_path / "wide.parquet"
    df.to_parquet(path, index=False)
    s = open_stream(path, target="y", dtype="float64", batch_rows=32_768)
    batches = list(s.batches())
    whole = read_table(path, target="y", dtype="float64")
    assert [b.xt.shape for b in batches] == [(d, 32_768), (d, n - 32_768)]
    big = batches[0].xt
    root = big
    while isinstance(root, np.ndarray | memoryview):
        root = root.base if isinstance(root, np.ndarray) else root.obj
    assert isinstance(root, mmap.mmap)
    assert big.ctypes.data % mmap.PAGESIZE == 0
    np.testing.assert_array_equal(
        np.concatenate([b.xt for b in batches], axis=1), np.asarray(whole.X).T
    )
