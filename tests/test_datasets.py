"""The built-in data sets: shapes, determinism, balance, separability, the case study."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from jaxlogloss.data import datasets as ds
from jaxlogloss.data.table import (
    TabularData,
    read_table,
)
from jaxlogloss.model.scaling import standardize, unstandardize_coef


def check_layout(data: TabularData, d: int, n: int, dtype) -> None:
    assert data.xt.shape == (d, n) and data.X.shape == (n, d)
    assert data.xt.flags.c_contiguous
    assert data.xt.dtype == data.y.dtype == np.dtype(dtype)
    assert set(np.unique(data.y)) <= {0.0, 1.0}
    assert len(data.feature_names) == d


def seed_from(rng) -> int:
    return int(rng.integers(0, 2**31))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gaussian_classes_shape_balance_determinism_and_geometry(rng, dtype):
    n, d = 4000, int(rng.integers(1, 6))
    seed = seed_from(rng)
    sep, noise, balance = 3.0, 0.5, 0.3
    kw = dict(separation=sep, noise=noise, balance=balance, seed=seed)
    data = ds.gaussian_classes(n, d, dtype=dtype, **kw)
    check_layout(data, d, n, dtype)
    assert data.classes == (0, 1) and data.feature_names[0] == "x0"
    assert data.y.sum() == round(balance * n)
    again = ds.gaussian_classes(n, d, dtype=dtype, **kw)
    np.testing.assert_array_equal(again.xt, data.xt)
    np.testing.assert_array_equal(again.y, data.y)
    assert not np.array_equal(
        ds.gaussian_classes(n, d, dtype=dtype, **{**kw, "seed": seed + 1}).xt, data.xt
    )
    wide = ds.gaussian_classes(n, d, dtype="float64", **kw)
    np.testing.assert_array_equal(wide.xt.astype(dtype), data.xt)
    # class means separation apart, within-class spread noise in every direction
    X = wide.X
    gap = X[wide.y == 1].mean(axis=0) - X[wide.y == 0].mean(axis=0)
    assert abs(np.linalg.norm(gap) - sep) < 0.1
    for c in (0, 1):
        cov = np.cov(X[wide.y == c].T).reshape(d, d)
        np.testing.assert_allclose(cov, noise**2 * np.eye(d), atol=0.05)


def test_separable_has_a_hard_margin(rng):
    for d in (2, int(rng.integers(3, 8))):
        margin = float(rng.uniform(0.2, 1.0))
        n = 200
        data = ds.separable(n, d, margin=margin, seed=seed_from(rng))
        check_layout(data, d, n, "float32")
        assert data.y.sum() == n // 2
        # the widest separating slab of a hard-margin SVM is at least 2 * margin wide
        X, y = data.X.astype(np.float64), data.y
        svm = SVC(kernel="linear", C=1e8, tol=1e-8).fit(X, y)
        assert svm.score(X, y) == 1.0
        w = svm.coef_.ravel()
        assert 1 / np.linalg.norm(w) >= margin * (1 - 1e-3)
        # and every point clears the SVM's hyperplane by its margin
        dist = (2 * y - 1) * (X @ w + svm.intercept_[0]) / np.linalg.norm(w)
        assert dist.min() >= margin * (1 - 1e-3)


def test_separable_margin_survives_float32_rounding_and_is_seeded(rng):
    seed, d, margin = seed_from(rng), 3, 0.25
    a = ds.separable(2000, d, margin=margin, seed=seed, dtype="float32")
    b = ds.separable(2000, d, margin=margin, seed=seed, dtype="float32")
    np.testing.assert_array_equal(a.xt, b.xt)
    wide = ds.separable(2000, d, margin=margin, seed=seed, dtype="float64")
    np.testing.assert_allclose(wide.xt, a.xt, rtol=1e-5, atol=1e-5)  # slack differs
    # the generator's direction: its first draw (white box)
    u = ds._unit_vector(np.random.default_rng(seed), d)
    for data in (a, wide):
        s = (2 * data.y - 1) * (data.X.astype(np.float64) @ u)
        assert s.min() >= margin  # exactly, in the stored values
        assert s.min() < margin + 0.01  # and not much more: the margin is tight


def jacket_fit(data: TabularData):
    """Logistic regression on standardized features, mapped back to the raw scale."""
    xs, mean, scale = standardize(data.xt.astype(np.float64))
    model = LogisticRegression(C=1e6, max_iter=1000).fit(xs.T, data.y)
    w, b = unstandardize_coef(model.coef_.ravel(), model.intercept_[0], mean, scale)
    return model, xs, w, b, scale


def test_jacket_cardigan_case_study(rng):
    seed = seed_from(rng)
    data = ds.jacket_cardigan(3000, seed=seed)
    check_layout(data, 8, 3000, "float32")
    assert data.feature_names == tuple(ds.JACKET_TRUE_COEF)
    assert data.classes == ("cardigan", "jacket") and data.target == "purchase"
    assert 0.35 < data.y.mean() < 0.65
    cols = dict(zip(data.feature_names, data.xt, strict=True))
    assert cols["age"].min() >= 18 and cols["age"].max() <= 85
    for share in ("outdoor_share", "returns_rate"):
        assert 0 <= cols[share].min() and cols[share].max() <= 1
    for flag in ("cold_region", "newsletter"):
        assert set(np.unique(cols[flag])) == {0.0, 1.0}
    assert (cols["avg_basket_eur"] > 0).all() and (cols["visits_last_90d"] >= 0).all()
    again = ds.jacket_cardigan(3000, seed=seed)
    np.testing.assert_array_equal(again.xt, data.xt)
    np.testing.assert_array_equal(again.y, data.y)
    # overlapping classes: a fitted model is good but far from perfect
    train, test = data.split(0.3, seed=seed)
    model, *_ = jacket_fit(train)
    xs_test = standardize(test.xt.astype(np.float64))[0]  # close enough for accuracy
    accuracy = model.score(xs_test.T, test.y)
    assert 0.72 < accuracy < 0.9, accuracy
    signs = {np.sign(c) for c in ds.JACKET_TRUE_COEF.values()}
    assert signs == {-1.0, 0.0, 1.0}  # negative, irrelevant and positive features


def test_jacket_cardigan_recovers_the_true_coefficients(rng):
    data = ds.jacket_cardigan(20000, seed=seed_from(rng), dtype="float64")
    _, _, w, b, scale = jacket_fit(data)
    true = np.array(list(ds.JACKET_TRUE_COEF.values()))
    # compare on the standardized scale, where the standard errors are ~0.02
    np.testing.assert_allclose(w * scale, true * scale, atol=0.12)
    assert abs(b - ds.JACKET_TRUE_INTERCEPT) < 0.6


@pytest.mark.parametrize("name", ["jackets.csv", "jackets.csv.gz"])
def test_jacket_csv_reads_back_with_one_hot_region_and_string_target(
    rng, tmp_path, name
):
    seed, n = seed_from(rng), 500
    path = ds.write_jacket_cardigan_csv(tmp_path / name, n, seed=seed)
    assert path == tmp_path / name
    header = open(path).readline() if name.endswith(".csv") else ""
    assert name.endswith(".gz") or "region" in header and "cold_region" not in header
    data = read_table(path, target="purchase", positive="jacket")
    ref = ds.jacket_cardigan(n, seed=seed)
    assert data.classes == ("cardigan", "jacket")
    names = list(ds.JACKET_FEATURES)
    k = names.index("cold_region")
    names[k : k + 1] = ["region[north]", "region[south]"]  # coastal dropped
    assert data.feature_names == tuple(names)
    np.testing.assert_array_equal(data.y, ref.y)
    raw = dict(zip(ref.feature_names, ref.xt, strict=True))
    got = dict(zip(data.feature_names, data.xt, strict=True))
    for feature in ds.JACKET_FEATURES:
        if feature != "cold_region":
            np.testing.assert_array_equal(got[feature], raw[feature], err_msg=feature)
    np.testing.assert_array_equal(got["region[north]"], raw["cold_region"])
    assert got["region[south]"][raw["cold_region"] == 1].sum() == 0
    assert 0 < got["region[south]"].sum() < (raw["cold_region"] == 0).sum()


def test_breast_cancer_matches_sklearn():
    from sklearn.datasets import load_breast_cancer

    data = ds.breast_cancer()
    check_layout(data, 30, 569, "float32")
    ref = load_breast_cancer()
    assert data.X.shape == (569, 30)
    assert data.classes == ("malignant", "benign")
    assert data.feature_names == tuple(ref.feature_names)
    assert data.y.sum() == 357  # benign = 1, as sklearn's target
    np.testing.assert_array_equal(data.y, ref.target)
    np.testing.assert_array_equal(ds.breast_cancer("float64").X, ref.data)


def test_breast_cancer_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        ds.breast_cancer()


def test_builtin_registry(rng):
    assert set(ds.BUILTIN) == {"gaussian", "separable", "jackets", "breast_cancer"}
    seed = seed_from(rng)
    a = ds.load_builtin("gaussian", n=50, d=3, seed=seed)
    np.testing.assert_array_equal(a.xt, ds.gaussian_classes(50, 3, seed=seed).xt)
    assert ds.load_builtin("jackets", n=20).n_samples == 20
    assert ds.load_builtin("separable", n=10, dtype="float64").xt.dtype == np.float64
    with pytest.raises(ValueError) as err:
        ds.load_builtin("iris")
    assert str(err.value) == (
        "load_builtin: unknown data set 'iris'; expected one of 'gaussian', "
        "'separable', 'jackets', 'breast_cancer'"
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ds.gaussian_classes(1), "n must be an integer >= 2, got 1"),
        (lambda: ds.gaussian_classes(10, 0), "d must be an integer >= 1, got 0"),
        (lambda: ds.gaussian_classes(noise=0), "noise must be a finite number > 0"),
        (lambda: ds.gaussian_classes(separation=-1), "separation must be a finite"),
        (lambda: ds.gaussian_classes(balance=1), r"balance .* must be in \(0, 1\)"),
        (lambda: ds.gaussian_classes(10, balance=0.01), "both classes need"),
        (lambda: ds.gaussian_classes(seed=-1), "seed must be an integer >= 0"),
        (lambda: ds.separable(margin=0), "margin must be a finite number > 0"),
        (lambda: ds.jacket_cardigan(2.5), "n must be an integer"),
        (lambda: ds.jacket_cardigan(dtype="int8"), "dtype must be 'float32'"),
    ],
)
def test_generators_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
