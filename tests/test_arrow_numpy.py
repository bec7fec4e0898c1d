"""Arrow arrays to NumPy without Arrow's pandas layer (``data.encoding.as_numpy``),
and the read path that relies on it: reading a file imports neither pandas nor
``pyarrow.dataset``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from jaxlogloss.data.encoding import as_numpy, fill_labels, levels_of

NUMERIC = [
    pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(),
    pa.uint32(), pa.uint64(), pa.float16(), pa.float32(), pa.float64(),
]  # fmt: skip


@given(
    kind=st.sampled_from([*NUMERIC, pa.bool_()]),
    n=st.integers(0, 70),
    start=st.integers(0, 20),
    length=st.integers(0, 40),
    seed=st.integers(0, 2**31),
)
def test_as_numpy_equals_to_numpy_on_slices(kind, n, start, length, seed):
    """Every type, any offset (slices start mid-byte for booleans), empty arrays."""
    rng = np.random.default_rng(seed)
    if pa.types.is_boolean(kind):
        values = rng.random(n) < 0.5
    else:
        values = rng.integers(0, 100, n).astype(kind.to_pandas_dtype())
    arr = pa.array(values, type=kind).slice(min(start, n), length)
    got = as_numpy(arr)
    want = arr.to_numpy(zero_copy_only=False)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_as_numpy_falls_back_where_there_are_nulls():
    arr = pa.array([1.5, None, 3.0])
    np.testing.assert_array_equal(as_numpy(arr), [1.5, np.nan, 3.0])
    np.testing.assert_array_equal(as_numpy(pa.array([True, None])), [True, None])


def _imported(code: str, modules: tuple[str, ...] = ("pandas", "pyarrow.dataset")):
    script = (
        f"import sys\n{code}\nimport json\nprint(json.dumps([m for m in "
        f"{modules!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_reading_a_file_imports_neither_pandas_nor_pyarrow_dataset(tmp_path):
    """``pyarrow.dataset`` imports pandas where it is installed (0.35-0.4 s of a CLI
    process); ``Array.to_numpy`` and ``pa.scalar`` of a Python value do too."""
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "x": rng.normal(size=50),
            "k": pa.array(["a", "b"] * 25),
            "b": rng.random(50) < 0.5,
            "y": pa.array(["no", "yes"] * 25),
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    (tmp_path / "d.csv").write_text(
        "x,k,y\n" + "".join(f"{i / 7},{'ab'[i % 2]},{i % 3 == 0}\n" for i in range(40))
    )
    code = (
        "from jaxlogloss import read_table\n"
        f"d = read_table({str(tmp_path / 'd.parquet')!r}, target='y', "
        "positive='yes')\n"
        "assert d.X.shape == (50, 3), d.X.shape\n"
        f"c = read_table({str(tmp_path / 'd.csv')!r}, target='y')\n"
        "assert c.X.shape == (40, 2), c.X.shape"
    )
    assert _imported(code) == []
    cli = (
        "from jaxlogloss.cli import main\n"
        f"assert main(['fit', {str(tmp_path / 'd.parquet')!r}, '--target', 'y', "
        "'--json']) == 0"
    )
    assert _imported(cli) == []


def test_file_batches_and_read_file_agree(tmp_path):
    """``predict``'s reads: batches of at most ``batch_rows`` rows, in order, that
    concatenate to the whole file; a CSV's types are its first block's."""
    from jaxlogloss.data.files import file_batches, file_schema, read_file

    rng = np.random.default_rng(3)
    table = pa.table({"x": rng.normal(size=50), "k": pa.array(["a", "b"] * 25)})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=20)
    pairs = zip(table["x"].to_pylist(), "ab" * 25, strict=True)
    lines = "".join(f"{v!r},{k}\n" for v, k in pairs)
    (tmp_path / "d.csv").write_text("x,k\n" + lines)
    for kind, name in [("parquet", "d.parquet"), ("csv", "d.csv")]:
        path = str(tmp_path / name)
        schema = file_schema(kind, path)
        whole = read_file(kind, path, schema)
        assert whole.column_names == ["x", "k"]
        assert whole["x"].to_pylist() == table["x"].to_pylist()
        batches = list(file_batches(kind, path, 7))
        assert all(0 < b.num_rows <= 7 for b in batches)
        assert sum(b.num_rows for b in batches) == 50
        joined = pa.Table.from_batches(batches)
        assert joined.equals(whole.combine_chunks())
        assert read_file(kind, path, schema, ["k"]).column_names == ["k"]


def test_a_file_with_two_columns_of_one_name_is_refused_by_predict(tmp_path):
    import pytest

    from jaxlogloss.data.files import DataError
    from jaxlogloss.data.new_rows import read_batches, read_columns

    path = tmp_path / "dup.csv"
    path.write_text("x,x,y\n1,2,0\n3,4,1\n")
    for batch_rows in (None, 1):
        with pytest.raises(DataError, match="duplicate column names 'x'"):
            list(read_batches("predict", path, batch_rows))
    with pytest.raises(DataError, match="duplicate column names 'x'"):
        read_columns("fit", path, ["y"])


@given(
    kind=st.sampled_from([*NUMERIC, pa.bool_()]),
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=4),
    levels=st.integers(1, 4),
    zeros=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_levels_and_labels_of_numbers_equal_arrows(kind, sizes, levels, zeros, seed):
    """A number or boolean target's levels and labels, found by NumPy, equal Arrow's
    compute functions' (sorted unique values; col == level), chunked or not; a float
    column holding both 0.0 and -0.0 (distinct in Arrow) keeps Arrow's answer. Half
    floats, which Arrow cannot sort, are compared with Python's sorted set."""
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    chunks = []
    for n in sizes:
        if pa.types.is_boolean(kind):
            values = rng.random(n) < 0.5
        else:
            values = rng.integers(0, levels, n).astype(kind.to_pandas_dtype())
            if zeros and pa.types.is_floating(kind):
                values[rng.random(n) < 0.3] = -0.0
        chunks.append(pa.array(values, type=kind))
    col = pa.chunked_array(chunks, type=kind)
    got = levels_of(col)
    assert got.type == kind
    if kind == pa.float16():  # Arrow has no sort or equal kernel for half floats
        assert got.to_pylist() == sorted(set(col.to_pylist()))
        for level in range(len(got)):
            y = np.full(len(col), 7.0)
            fill_labels(y, col, got[level])
            hit = [v == got[level].as_py() for v in col.to_pylist()]
            np.testing.assert_array_equal(y, np.asarray(hit, float))
        return
    unique = pc.unique(col)
    assert got.equals(unique.take(pc.array_sort_indices(unique)))
    for level in range(len(got)):
        y = np.full(len(col), 7.0)
        fill_labels(y, col, got[level])
        hit = np.concatenate([as_numpy(pc.equal(c, got[level])) for c in col.chunks])
        np.testing.assert_array_equal(y, hit.astype(float))


def test_a_numeric_target_fit_imports_no_compute_or_solver_library(tmp_path):
    """A CLI Newton fit of a number-target file imports neither pyarrow.compute
    (0.06-0.15 s) nor pandas, optax or scipy.linalg."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + rng.normal(size=200) > 0).astype(np.int8)
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})
    pq.write_table(table, tmp_path / "n.parquet")
    cli = (
        "from jaxlogloss.cli import main\n"
        f"assert main(['fit', {str(tmp_path / 'n.parquet')!r}, '--target', 'y', "
        "'--solver', 'newton', '--json']) == 0"
    )
    heavy = ("pandas", "pyarrow.compute", "optax", "scipy.linalg")
    assert _imported(cli, heavy) == []


@given(
    kind=st.sampled_from([*NUMERIC, pa.bool_()]),
    n=st.integers(0, 70),
    seed=st.integers(0, 2**31),
)
def test_numeric_array_equals_pa_array(kind, n, seed):
    """Every numeric type and booleans (bit-packed), empty arrays included."""
    from jaxlogloss.data.arrow_from_numpy import numeric_array

    rng = np.random.default_rng(seed)
    if pa.types.is_boolean(kind):
        values = rng.random(n) < 0.5
    else:
        values = rng.integers(0, 100, n).astype(kind.to_pandas_dtype())
    got = numeric_array(values)
    want = pa.array(values)
    assert got.type == want.type == kind
    assert got.equals(want)
    assert numeric_array(values, kind).equals(want)


LABELS = [
    [0, 1], [2, -7], [False, True], [0.5, 1.0], [1, 2.5], [np.int8(3), np.int8(4)],
    ["no", "yes"], ["", "a"], ["ñandú", "yes, longer"], ["b", "a", "c"],
    [b"x", b"y"], [1, "a"], [2**70, 1],
]  # fmt: skip


@given(labels=st.sampled_from(LABELS), n=st.integers(0, 40), seed=st.integers(0, 99))
def test_label_array_equals_pa_array_take(labels, n, seed):
    """labels[index] typed as pa.array(list(labels)) types them; labels it does not
    build from buffers (bytes, mixed kinds, integers beyond int64) fall back."""
    from jaxlogloss.data.arrow_from_numpy import label_array

    index = np.random.default_rng(seed).integers(0, len(labels), n)
    try:
        want = pa.array(list(labels)).take(pa.array(index))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return  # Arrow cannot hold them either: the same error is raised
    got = label_array(labels, index)
    assert got.type == want.type
    assert got.equals(want)


def test_predict_imports_neither_pandas_nor_compute(tmp_path):
    """``jaxlogloss predict`` builds its output columns from NumPy buffers:
    ``pa.array`` imports pandas where it is installed (~0.24 s a process)."""
    import jaxlogloss as jl

    rng = np.random.default_rng(2)
    x = rng.normal(size=(120, 2))
    y = np.where(x[:, 0] + rng.normal(size=120) > 0, "yes", "no")
    pq.write_table(
        pa.table({"a": x[:, 0], "b": x[:, 1], "y": pa.array(list(y))}),
        tmp_path / "d.parquet",
    )
    data = jl.read_table(tmp_path / "d.parquet", target="y", positive="yes")
    jl.fit(data).save(tmp_path / "m.json")
    outs = [tmp_path / "p.csv", tmp_path / "p.parquet"]
    cli = "from jaxlogloss.cli import main\n" + "".join(
        f"assert main(['predict', {str(tmp_path / 'm.json')!r}, "
        f"{str(tmp_path / 'd.parquet')!r}, '--out', {str(out)!r}]) == 0\n"
        for out in outs
    )
    assert _imported(cli, ("pandas", "pyarrow.compute")) == []
    pred = pq.read_table(outs[1])
    assert pred["prediction"].type == pa.string()
    # a categorical column: its levels checked by pyarrow.compute, still no pandas
    k = pa.array(list(np.where(x[:, 1] > 0, "hi", "lo")))
    pq.write_table(
        pa.table({"a": x[:, 0], "k": k, "y": pa.array(list(y))}),
        tmp_path / "c.parquet",
    )
    cat = jl.read_table(tmp_path / "c.parquet", target="y", positive="yes")
    assert "k[lo]" in cat.feature_names
    jl.fit(cat).save(tmp_path / "c.json")
    cli_cat = (
        "from jaxlogloss.cli import main\n"
        f"assert main(['predict', {str(tmp_path / 'c.json')!r}, "
        f"{str(tmp_path / 'c.parquet')!r}, '--out', {str(tmp_path / 'c.csv')!r}]) == 0"
    )
    assert _imported(cli_cat, ("pandas",)) == []
    p = np.asarray(pred["probability"])
    np.testing.assert_array_equal(
        np.asarray(pred["prediction"].to_pylist()), np.where(p > 0.5, "yes", "no")
    )
