"""Reading tabular files against pandas references; splits; standardizing; bad data."""

from __future__ import annotations

import gzip
import re
import tracemalloc

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.preprocessing import StandardScaler

from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.data.table import (
    DataError,
    TabularData,
    read_table,
)
from jaxlogloss.model.scaling import standardize, unstandardize_coef

LEVELS = ["north", "south", "coastal", "inland"]
SIZES = ["S", "M", "L"]


def frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Fresh random data with every kind of column read_table handles."""
    return pd.DataFrame(
        {
            "height": rng.normal(170, 10, n).round(3),
            "visits": rng.integers(0, 20, n),
            "region": rng.choice(LEVELS, n),
            "member": rng.random(n) < 0.4,
            "size": rng.choice(SIZES, n),
            "ratio": rng.random(n),
            "label": rng.choice(["jacket", "cardigan"], n),
            "w": rng.uniform(0.5, 2.0, n).round(4),
        }
    )


def reference(df: pd.DataFrame, features: list[str]) -> tuple[np.ndarray, list[str]]:
    """(X (n, d) float64, names) by pandas.get_dummies, put in read_table's order."""
    # read_table sorts the levels of a categorical by value, not in category order
    plain = df[features].apply(
        lambda c: c.astype(str) if isinstance(c.dtype, pd.CategoricalDtype) else c
    )
    dummies = pd.get_dummies(plain, drop_first=True, prefix_sep="[", dtype=float)
    dummies.columns = [c if c in features else c + "]" for c in dummies.columns]
    order = [
        c for f in features for c in dummies.columns if c == f or c.startswith(f + "[")
    ]
    return dummies[order].to_numpy(np.float64), order


def one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def check_against(data: TabularData, df: pd.DataFrame, features: list[str]) -> None:
    X, names = reference(df, features)
    assert data.feature_names == tuple(names)
    assert data.xt.shape == (len(names), len(df))
    assert data.xt.flags.c_contiguous
    np.testing.assert_allclose(data.xt, X.T.astype(data.xt.dtype), rtol=0, atol=0)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_csv_round_trip_equals_pandas_one_hot(rng, tmp_path, dtype):
    df = frame(rng, int(rng.integers(30, 80)))
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    data = read_table(path, target="label", weights="w", dtype=dtype)
    features = ["height", "visits", "region", "member", "size", "ratio"]
    check_against(data, df, features)
    assert "region[coastal]" not in data.feature_names  # the first sorted level
    assert "region[inland]" in data.feature_names
    assert data.xt.dtype == data.y.dtype == data.sample_weight.dtype == dtype
    assert data.classes == ("cardigan", "jacket")  # sorted: the second is positive
    np.testing.assert_array_equal(data.y, (df["label"] == "jacket").to_numpy())
    np.testing.assert_array_equal(data.sample_weight, df["w"].to_numpy().astype(dtype))
    assert data.target == "label" and data.source == str(path)


def test_parquet_round_trip_with_categorical_and_bool_columns(rng, tmp_path):
    df = frame(rng, 60)
    df["size"] = pd.Categorical(df["size"], categories=SIZES)  # a dictionary column
    path = tmp_path / "data.parquet"
    df.to_parquet(path, index=False)
    assert pa.types.is_dictionary(pq.read_schema(path).field("size").type)
    features = ["size", "height", "member", "region"]
    data = read_table(path, target="label", features=features, dtype="float64")
    check_against(data, df, features)
    # levels sorted by value ('L' < 'M' < 'S'), not in the categorical's order
    assert data.feature_names[:2] == ("size[M]", "size[S]")
    pq_path = tmp_path / "data.pq"
    df.to_parquet(pq_path, index=False)
    again = read_table(pq_path, target="label", features=features, dtype="float64")
    np.testing.assert_array_equal(again.xt, data.xt)


def test_tsv_and_gzip_csv_read_the_same_as_csv(rng, tmp_path):
    df = frame(rng, 40)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    with gzip.open(tmp_path / "a.csv.gz", "wt") as f:
        df.to_csv(f, index=False)
    base = read_table(tmp_path / "a.csv", target="label")
    for name in ["a.tsv", "a.csv.gz"]:
        other = read_table(str(tmp_path / name), target="label")
        np.testing.assert_array_equal(other.xt, base.xt)
        np.testing.assert_array_equal(other.y, base.y)
        assert other.feature_names == base.feature_names


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_directory_of_files_equals_the_single_file(rng, tmp_path, fmt):
    df = frame(rng, 90)
    single = tmp_path / f"all.{fmt}"
    parts = tmp_path / "parts"
    parts.mkdir()
    cuts = np.sort(rng.choice(np.arange(5, 85), size=3, replace=False))
    bounds = [0, *cuts, len(df)]
    for k in range(len(bounds) - 1):
        piece = df.iloc[bounds[k] : bounds[k + 1]]
        # zero-padded names: the directory is read in sorted order
        if fmt == "parquet":
            piece.to_parquet(parts / f"part-{k:02d}.parquet", index=False)
        else:
            piece.to_csv(parts / f"part-{k:02d}.csv", index=False)
    if fmt == "parquet":
        df.to_parquet(single, index=False)
    else:
        df.to_csv(single, index=False)
    (parts / "_SUCCESS").write_text("")
    (parts / ".hidden.csv").write_text("junk")
    whole = read_table(single, target="label", weights="w")
    split = read_table(parts, target="label", weights="w")
    np.testing.assert_array_equal(split.xt, whole.xt)
    np.testing.assert_array_equal(split.y, whole.y)
    np.testing.assert_array_equal(split.sample_weight, whole.sample_weight)
    assert split.feature_names == whole.feature_names
    assert split.source == str(parts)


def test_directory_rows_name_their_own_file_in_errors(rng, tmp_path):
    df = frame(rng, 20).astype({"height": float})
    df.loc[13, "height"] = np.nan
    df.iloc[:10].to_csv(tmp_path / "a.csv", index=False)
    df.iloc[10:].to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(DataError) as err:
        read_table(tmp_path, target="label")
    assert re.search(
        r"column 'height' of '.*b\.csv' has a missing value .* at row 4 \(1-based, "
        r"after the header\)",
        one_line(err),
    )


def test_features_in_the_order_given_and_weights_left_out(rng, tmp_path):
    df = frame(rng, 30)
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    data = read_table(path, target="label", features=["ratio", "visits"])
    assert data.feature_names == ("ratio", "visits")
    assert data.sample_weight is None
    every = read_table(path, target="label")
    assert "w" in every.feature_names  # without weights=, w is a feature
    weighted = read_table(path, target="label", weights="w")
    assert "w" not in weighted.feature_names
    assert read_table(path, target="label", features="ratio").feature_names == (
        "ratio",
    )


def test_feature_major_layout_views_and_design(rng, tmp_path):
    df = frame(rng, 25)
    path = tmp_path / "d.parquet"
    df.to_parquet(path)
    data = read_table(path, target="label", features=["height", "region", "ratio"])
    d, n = data.xt.shape
    assert (d, n) == (data.n_features, data.n_samples) == (5, 25)
    assert data.xt.flags.c_contiguous
    assert data.X.shape == (n, d) and np.shares_memory(data.X, data.xt)
    design = data.design()
    assert isinstance(design, FeatureMajor) and design.shape == (n, d)
    np.testing.assert_array_equal(np.asarray(design.xt), data.xt)
    assert "n_samples=25" in repr(data) and "\n" not in repr(data)


def test_reading_allocates_xt_once_and_skips_a_saved_pandas_index(rng, tmp_path):
    n, d = 20000, 12
    df = pd.DataFrame({f"f{j}": rng.standard_normal(n) for j in range(d)})
    df["s"] = rng.choice(["a", "b", "c"], n)
    df["y"] = rng.integers(0, 2, n)
    df.index = rng.permutation(n)  # not a RangeIndex: saved as __index_level_0__
    df.to_parquet(tmp_path / "a.parquet")
    assert "__index_level_0__" in pq.read_schema(tmp_path / "a.parquet").names
    read_table(tmp_path / "a.parquet", target="y")  # warm up imports and caches
    tracemalloc.start()
    try:
        data = read_table(tmp_path / "a.parquet", target="y")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.feature_names[-3:] == ("f11", "s[b]", "s[c]")
    assert data.n_features == d + 2
    # NumPy memory: xt plus O(n) scratch; an (n, d) intermediate would double it
    assert peak < data.xt.nbytes + 48 * n, (peak, data.xt.nbytes)
    tracemalloc.start()
    try:
        standardize(data.xt)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < data.xt.nbytes + 48 * n, (peak, data.xt.nbytes)


# ---------------------------------------------------------------------- targets


def write(tmp_path, df: pd.DataFrame, name="t.csv"):
    path = tmp_path / name
    if name.endswith(".csv"):
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("name", ["t.csv", "t.parquet"])
def test_string_numeric_and_boolean_targets(rng, tmp_path, name):
    n = 40
    x = rng.standard_normal(n)
    pick = rng.random(n) < 0.5
    pick[:2] = [True, False]  # both classes present
    cases = [
        (np.where(pick, "yes", "no"), None, ("no", "yes"), pick),
        (np.where(pick, "yes", "no"), "no", ("yes", "no"), ~pick),
        (pick.astype(int), None, (0, 1), pick),
        (pick.astype(int), "0", (1, 0), ~pick),
        (pick.astype(int), 0, (1, 0), ~pick),
        (np.where(pick, 7, 2), 7, (2, 7), pick),
        (np.where(pick, 7.5, -1.0), "7.5", (-1.0, 7.5), pick),
        (pick, None, (False, True), pick),
        (pick, False, (True, False), ~pick),
        (pick, "false", (True, False), ~pick),
    ]
    for values, positive, classes, expected in cases:
        path = write(tmp_path, pd.DataFrame({"x": x, "t": values}), name)
        data = read_table(path, target="t", positive=positive)
        assert data.classes == classes, (values[:4], positive)
        assert type(data.classes[0]) is type(classes[0])
        np.testing.assert_array_equal(data.y, expected.astype(np.float32))
        np.testing.assert_array_equal(data.xt[0], x.astype(np.float32))


# ------------------------------------------------------------------ split/subset


def test_split_is_seeded_stratified_disjoint_and_covers_all_rows(rng):
    n = int(rng.integers(200, 400))
    y = (rng.random(n) < 0.3).astype(np.float32)
    xt = np.arange(n, dtype=np.float32)[None, :]  # the row id as the feature
    data = TabularData(xt, y, None, ("id",), "y", (0, 1), "test")
    test_size = float(rng.uniform(0.1, 0.5))
    seed = int(rng.integers(0, 2**31))
    train, test = data.split(test_size, seed=seed)
    ids_train, ids_test = train.xt[0].astype(int), test.xt[0].astype(int)
    assert not set(ids_train) & set(ids_test)
    np.testing.assert_array_equal(np.sort(np.r_[ids_train, ids_test]), np.arange(n))
    np.testing.assert_array_equal(test.y, y[ids_test])
    for c in (0, 1):
        n_c = int(np.sum(y == c))
        assert abs(np.sum(test.y == c) - test_size * n_c) <= 1
    again = data.split(test_size, seed=seed)[1]
    np.testing.assert_array_equal(again.xt, test.xt)
    other = data.split(test_size, seed=seed + 1)[1]
    assert not np.array_equal(other.xt, test.xt)
    plain_train, plain_test = data.split(test_size, seed=seed, stratify=False)
    assert plain_train.n_samples + plain_test.n_samples == n
    assert plain_train.classes == (0, 1) and plain_train.feature_names == ("id",)


def test_split_keeps_both_classes_and_rejects_bad_sizes():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], np.float32)
    data = TabularData(
        np.ones((2, 10), np.float32), y, None, ("a", "b"), "y", (0, 1), "t"
    )
    train, test = data.split(0.05)
    assert set(train.y) == set(test.y) == {0.0, 1.0}
    for bad in [0, 1, 1.5, -0.1, True, "0.2"]:
        with pytest.raises(ValueError, match="test_size must be a fraction"):
            data.split(bad)
    two = TabularData(
        np.ones((1, 2), np.float32), np.array([0, 1.0]), None, ("a",), "y", (0, 1), "t"
    )
    with pytest.raises(ValueError, match="both parts must be non-empty"):
        two.split(0.5)


def test_subset_by_indices_and_mask(rng):
    n = 30
    xt = rng.standard_normal((3, n)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    sw = rng.random(n).astype(np.float32)
    data = TabularData(xt, y, sw, ("a", "b", "c"), "y", (0, 1), "t")
    idx = rng.choice(n, 12)
    sub = data.subset(idx)
    np.testing.assert_array_equal(sub.xt, xt[:, idx])
    np.testing.assert_array_equal(sub.sample_weight, sw[idx])
    assert sub.xt.flags.c_contiguous
    mask = rng.random(n) < 0.5
    np.testing.assert_array_equal(data.subset(mask).y, y[mask])
    with pytest.raises(ValueError, match=f"index {n} at position 1 is out of range"):
        data.subset([0, n])
    with pytest.raises(ValueError, match="select no rows"):
        data.subset(np.zeros(n, bool))


def test_tabular_data_checks_its_fields():
    xt = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"y must be 0 or 1, got 2.0 at index 1"):
        TabularData(xt, np.array([0, 2, 1]), None, ("a", "b"), "y", (0, 1), "t")
    with pytest.raises(ValueError, match=r"1 feature names for 2 features"):
        TabularData(xt, np.zeros(3), None, ("a",), "y", (0, 1), "t")
    with pytest.raises(ValueError, match=r"y has shape \(2,\) but xt has shape"):
        TabularData(xt, np.zeros(2), None, ("a", "b"), "y", (0, 1), "t")
    with pytest.raises(ValueError, match="float32 or float64"):
        TabularData(xt.astype(int), np.zeros(3), None, ("a", "b"), "y", (0, 1), "t")
    fortran = TabularData(
        np.asfortranarray(xt), np.zeros(3), None, ["a", "b"], "y", [0, 1], "t"
    )
    assert fortran.xt.flags.c_contiguous and fortran.feature_names == ("a", "b")
    assert fortran.y.dtype == np.float32


# ------------------------------------------------------------------ standardize


@pytest.mark.parametrize("weighted", [False, True])
def test_standardize_matches_sklearn_and_round_trips_logits(rng, weighted):
    d, n = 4, 300
    xt = (rng.standard_normal((d, n)) * rng.uniform(0.1, 50, (d, 1))).astype(np.float64)
    xt += rng.uniform(-100, 100, (d, 1))
    xt[2] = 3.7  # constant feature: scale 1
    sw = rng.uniform(0, 3, n) if weighted else None
    xs, mean, scale = standardize(xt, sw)
    varying = [0, 1, 3]  # sklearn's weighted variance of a constant can be -1e-17
    ref = StandardScaler().fit(xt[varying].T, sample_weight=sw)
    np.testing.assert_allclose(mean[varying], ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(scale[varying], ref.scale_, rtol=1e-9)
    np.testing.assert_allclose(
        xs[varying], ref.transform(xt[varying].T).T, rtol=1e-9, atol=1e-12
    )
    assert mean[2] == 3.7 and scale[2] == 1.0 and np.all(xs[2] == 0)
    np.testing.assert_allclose(np.average(xs, axis=1, weights=sw), 0, atol=1e-12)

    w_std, b_std = rng.standard_normal(d), float(rng.standard_normal())
    w, b = unstandardize_coef(w_std, b_std, mean, scale)
    np.testing.assert_allclose(w @ xt + b, w_std @ xs + b_std, rtol=1e-10, atol=1e-9)

    W_std, B_std = rng.standard_normal((d, 3)), rng.standard_normal(3)
    W, B = unstandardize_coef(W_std, B_std, mean, scale)
    np.testing.assert_allclose(
        W.T @ xt + B[:, None], W_std.T @ xs + B_std[:, None], rtol=1e-10, atol=1e-9
    )


def test_standardize_in_jax_float32_matches_numpy_and_jits(rng):
    d, n = 3, 500
    xt = (rng.standard_normal((d, n)) * 5 + 2).astype(np.float32)
    sw = rng.uniform(0.5, 2, n).astype(np.float32)
    ref = standardize(xt, sw)
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in ref)
    got = jax.jit(standardize)(jnp.asarray(xt), jnp.asarray(sw))
    assert all(isinstance(a, jax.Array) and a.dtype == jnp.float32 for a in got)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    xs, mean, scale = got
    w_std, b_std = jnp.asarray(rng.standard_normal(d), jnp.float32), jnp.float32(0.3)
    w, b = jax.jit(unstandardize_coef)(w_std, b_std, mean, scale)
    assert isinstance(w, jax.Array) and w.dtype == jnp.float32
    np.testing.assert_allclose(w @ xt + b, w_std @ xs + b_std, rtol=1e-4, atol=1e-4)


def test_standardize_and_unstandardize_reject_bad_input():
    with pytest.raises(
        ValueError, match=r"sample_weight has shape \(2,\) but xt has 3"
    ):
        standardize(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="sample_weight must be non-negative, got -1"):
        standardize(np.ones((2, 3)), np.array([1.0, -1.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"xt must be finite, got nan at index \(1, 2\)"
    ):
        standardize(np.array([[1.0, 2, 3], [1, 2, np.nan]]))
    with pytest.raises(TypeError, match="floating dtype"):
        standardize(np.ones((2, 3), int))
    with pytest.raises(
        ValueError, match=r"scale has shape \(3,\) but w_std has shape \(2,\)"
    ):
        unstandardize_coef(np.ones(2), 0.0, np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match=r"b_std has shape \(2,\)"):
        unstandardize_coef(np.ones(2), np.zeros(2), np.zeros(2), np.ones(2))


def test_standardize_at_its_old_path_warns_and_still_works():
    import jaxlogloss.data as data

    xt = np.array([[1.0, 3.0], [2.0, 2.0]])
    with pytest.warns(DeprecationWarning, match="jaxlogloss.model.scaling.standardize"):
        old_standardize = data.standardize
    with pytest.warns(DeprecationWarning, match="unstandardize_coef moved"):
        from jaxlogloss.data import unstandardize_coef as old_unstandardize
    assert old_standardize is standardize
    assert old_unstandardize is unstandardize_coef
    xs, mean, scale = old_standardize(xt)
    np.testing.assert_array_equal(xs, [[-1.0, 1.0], [0.0, 0.0]])
    w, b = old_unstandardize(np.array([2.0, 0.0]), 1.0, mean, scale)
    np.testing.assert_allclose(w, [2.0, 0.0])
    np.testing.assert_allclose(b, -3.0)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        data.nonexistent  # noqa: B018


# --------------------------------------------------------------------- bad data


def csv(tmp_path, text: str, name: str = "bad.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_file_and_unsupported_extension(tmp_path):
    with pytest.raises(DataError, match=r"data file '.*nope\.csv' does not exist"):
        read_table(tmp_path / "nope.csv", target="y")
    path = csv(tmp_path, "a,y\n1,0\n", "data.xlsx")
    with pytest.raises(DataError) as err:
        read_table(path, target="y")
    assert "'" + str(path) + "' has an unsupported extension" in one_line(err)
    assert ".csv, .csv.gz, .tsv, .tsv.gz, .parquet, .pq" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no data files"):
        read_table(tmp_path / "empty", target="y")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    csv(mixed, "a,y\n1,0\n2,1\n", "a.csv")
    pd.DataFrame({"a": [1, 2], "y": [0, 1]}).to_parquet(mixed / "b.parquet")
    with pytest.raises(DataError, match="mixes csv and parquet files"):
        read_table(mixed, target="y")


def test_unknown_columns_name_the_column_and_list_the_available_ones(tmp_path):
    path = csv(tmp_path, "age,income,y\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError) as err:
        read_table(path, target="yy")
    assert re.search(
        r"target column 'yy' is not in '.*bad\.csv' \(did you mean 'y'\?\); "
        r"available columns: 'age', 'income', 'y'",
        one_line(err),
    )
    with pytest.raises(
        DataError, match=r"feature column 'agee' is not in .*'age', 'income', 'y'"
    ):
        read_table(path, target="y", features=["agee"])
    with pytest.raises(DataError, match=r"weights column 'wt' is not in"):
        read_table(path, target="y", weights="wt")


def test_features_listed_twice_or_equal_to_target_or_weights(tmp_path):
    path = csv(tmp_path, "a,b,y\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match="feature 'a' is listed twice in features"):
        read_table(path, target="y", features=["a", "b", "a"])
    with pytest.raises(DataError, match="feature 'y' is the target column"):
        read_table(path, target="y", features=["a", "y"])
    with pytest.raises(DataError, match="feature 'b' is the weights column"):
        read_table(path, target="y", features=["a", "b"], weights="b")
    with pytest.raises(DataError, match="also the target column"):
        read_table(path, target="y", weights="y")
    with pytest.raises(DataError, match="features is empty"):
        read_table(path, target="y", features=[])
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        read_table(path, target="y", dtype="int32")


@pytest.mark.parametrize("cell", ["", "NA", "nan", "inf", "-inf"])
def test_missing_or_infinite_feature_value_names_column_and_row(rng, tmp_path, cell):
    n = 20
    row = int(rng.integers(1, n + 1))  # 1-based data row
    lines = [f"{i}.5,{i % 2},{'abc'[i % 3]}" for i in range(n)]
    lines[row - 1] = f"{cell},{(row - 1) % 2},a"
    path = csv(tmp_path, "x1,y,s\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        read_table(path, target="y")
    what = "a non-finite value" if "inf" in cell else "a missing value"
    assert re.search(
        rf"read_table: column 'x1' of '.*bad\.csv' has {what}.* at row {row} "
        r"\(1-based, after the header\)",
        one_line(err),
    ), str(err.value)


def test_missing_values_in_target_string_and_weights_columns(rng, tmp_path):
    path = csv(tmp_path, "x,s,y,w\n1,a,0,1\n2,,1,1\n3,b,1,1\n")
    with pytest.raises(DataError, match=r"column 's' of .* missing value .* at row 2 "):
        read_table(path, target="y")
    path = csv(tmp_path, "x,y\n1,0\n2,1\n3,\n")
    with pytest.raises(DataError, match=r"column 'y' of .* missing value .* at row 3 "):
        read_table(path, target="y")
    path = csv(tmp_path, "x,y,w\n1,0,1\n2,1,nan\n")
    with pytest.raises(DataError, match=r"column 'w' of .* missing value .* at row 2 "):
        read_table(path, target="y", weights="w")


def test_parquet_nan_and_null_report_the_row_without_a_header(rng, tmp_path):
    n = 15
    i = int(rng.integers(0, n))
    x = rng.standard_normal(n)
    x[i] = np.nan
    y = np.arange(n) % 2
    pq.write_table(pa.table({"x": x, "y": y}), tmp_path / "a.parquet")
    with pytest.raises(DataError) as err:
        read_table(tmp_path / "a.parquet", target="y")
    assert re.search(
        rf"column 'x' of '.*a\.parquet' has a non-finite value nan at row {i + 1} "
        r"\(1-based\)",
        one_line(err),
    )
    s = pa.array(["u", None, "v"] * 2)
    pq.write_table(pa.table({"s": s, "y": [0, 1] * 3}), tmp_path / "b.parquet")
    with pytest.raises(
        DataError, match=r"column 's' of .* missing value .* at row 2 \(1-based\)"
    ):
        read_table(tmp_path / "b.parquet", target="y")


def test_value_too_large_for_float32(tmp_path):
    path = csv(tmp_path, "x,y\n1,0\n1e300,1\n")
    with pytest.raises(
        DataError,
        match=r"column 'x' of .* has the value 1e\+300 at row 2 .*use dtype='float64'",
    ):
        read_table(path, target="y")
    assert read_table(path, target="y", dtype="float64").xt[0, 1] == 1e300


def test_target_with_one_class_or_more_than_two(tmp_path):
    path = csv(tmp_path, "x,y\n1,a\n2,a\n")
    with pytest.raises(
        DataError,
        match=r"target column 'y' of .* has 1 distinct value \('a'\); expected exactly two classes",
    ):
        read_table(path, target="y")
    path = csv(tmp_path, "x,y\n" + "".join(f"{i},{i}\n" for i in range(8)))
    with pytest.raises(DataError) as err:
        read_table(path, target="y")
    assert "has 8 distinct values (0, 1, 2, 3, 4, ... (3 more))" in one_line(err)
    path = csv(tmp_path, "x,y\n1,0\n2,1\n3,0.5\n")
    with pytest.raises(DataError, match=r"3 distinct values \(0.0, 0.5, 1.0\)"):
        read_table(path, target="y")


def test_positive_label_not_among_the_values(tmp_path):
    path = csv(tmp_path, "x,y\n1,jacket\n2,cardigan\n")
    with pytest.raises(DataError) as err:
        read_table(path, target="y", positive="coat")
    assert re.search(
        r"positive='coat' is not a value of target column 'y' of '.*bad\.csv'; its "
        r"values are 'cardigan', 'jacket'",
        one_line(err),
    )
    path = csv(tmp_path, "x,y\n1,0\n2,1\n")
    with pytest.raises(DataError, match="positive='2' is not a value"):
        read_table(path, target="y", positive="2")


def test_too_few_rows_header_only_and_empty_files(tmp_path):
    with pytest.raises(
        DataError, match=r"'.*bad\.csv' has 1 data row; at least two are needed"
    ):
        read_table(csv(tmp_path, "x,y\n1,0\n"), target="y")
    with pytest.raises(DataError, match=r"'.*bad\.csv' has a header but no data rows"):
        read_table(csv(tmp_path, "x,y\n"), target="y")
    with pytest.raises(DataError, match=r"data file '.*bad\.csv' is empty"):
        read_table(csv(tmp_path, ""), target="y")
    pq.write_table(
        pa.table({"x": pa.array([], pa.float64()), "y": pa.array([], pa.int64())}),
        tmp_path / "e.parquet",
    )
    with pytest.raises(DataError, match=r"'.*e\.parquet' has no rows"):
        read_table(tmp_path / "e.parquet", target="y")


def test_bad_weights_columns(rng, tmp_path):
    path = csv(tmp_path, "x,y,w\n1,0,a\n2,1,b\n")
    with pytest.raises(
        DataError,
        match=r"weights column 'w' of '.*bad\.csv' must be numeric, got type string",
    ):
        read_table(path, target="y", weights="w")
    n = 12
    row = int(rng.integers(1, n + 1))
    w = ["1.5"] * n
    w[row - 1] = "-0.25"
    path = csv(tmp_path, "x,y,w\n" + "".join(f"{i},{i % 2},{w[i]}\n" for i in range(n)))
    with pytest.raises(DataError) as err:
        read_table(path, target="y", weights="w")
    assert re.search(
        rf"column 'w' of '.*bad\.csv' has a negative weight -0.25 at row {row} "
        r"\(1-based, after the header\)",
        one_line(err),
    )
    path = csv(tmp_path, "x,y,w\n1,0,0\n2,1,0\n")
    with pytest.raises(DataError, match="weights column 'w' of .* is all zero"):
        read_table(path, target="y", weights="w")


def test_malformed_files_and_columns(tmp_path):
    with pytest.raises(
        DataError, match=r"cannot read '.*bad\.csv': .*Expected 2 columns, got 1"
    ):
        read_table(csv(tmp_path, "x,y\n1,0\n2\n"), target="y")
    with pytest.raises(
        DataError, match=r"'.*bad\.csv' has duplicate column names 'x'; column names"
    ):
        read_table(csv(tmp_path, "x,x,y\n1,2,0\n3,4,1\n"), target="y")
    pq.write_table(
        pa.table({"t": pa.array([0, 1], pa.date32()), "y": [0, 1]}),
        tmp_path / "d.parquet",
    )
    with pytest.raises(DataError, match="column 't' of .* has type date32"):
        read_table(tmp_path / "d.parquet", target="y")
    parts = tmp_path / "parts"
    parts.mkdir()
    csv(parts, "x,z,y\n1,2,0\n3,4,1\n", "a.csv")
    csv(parts, "x,y\n1,0\n3,1\n", "b.csv")
    with pytest.raises(
        DataError, match=r"column 'z' is in '.*a\.csv' but not in '.*b\.csv'"
    ):
        read_table(parts, target="y")
