"""The design a fit reads: layout, copies and the dtype policy (fitting/inputs.py)."""

from __future__ import annotations

import json

import chex
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import jaxlogloss as jl
from jaxlogloss.cli.main import main
from jaxlogloss.data import host
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.fitting.inputs import as_design, storage_dtype
from jaxlogloss.precision import enable_x64


def test_storage_dtype_rule():
    assert storage_dtype(np.float32, "float64") == "float32"
    assert storage_dtype(np.float64, "float64") == "float64"
    assert storage_dtype(np.float64, "float32") == "float32"
    assert storage_dtype(np.float32, "float64", objective_based=False) == "float64"


def test_float32_x_of_a_float64_fit_is_held_as_is():
    x = host.aligned_empty((500, 3), np.float32)
    x[...] = np.arange(1500, dtype=np.float32).reshape(500, 3)
    with enable_x64():
        design = as_design("fit", x, "float64")
        chex.assert_shape(design, (500, 3))
        assert design.dtype == np.float32
        assert design.unsafe_buffer_pointer() == x.ctypes.data  # no copy
        fm = as_design("fit", FeatureMajor(np.ascontiguousarray(x.T)), "float64")
        assert fm.xt.dtype == np.float32
        first_order = as_design("fit", x, "float64", objective_based=False)
        assert isinstance(first_order, FeatureMajor) and first_order.dtype == np.float64


@pytest.fixture(scope="module")
def mixed_data():
    rng = np.random.default_rng(7)
    n = 2000
    X = (rng.standard_normal((n, 3)) * [0.5, 2.0, 10.0] + [0, 5, -20]).astype(
        np.float32
    )
    z = X.astype(np.float64) @ [1.0, -0.4, 0.05] + 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    weights = rng.uniform(0.5, 2.0, n)
    return X, y, weights


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_float32_x_fitted_in_float64_equals_the_float64_fit(mixed_data, solver):
    X, y, weights = mixed_data
    held = jl.fit(X, y, sample_weight=weights, solver=solver)
    wide = jl.fit(X.astype(np.float64), y, sample_weight=weights, solver=solver)
    assert held.converged and wide.converged
    np.testing.assert_allclose(held.coef, wide.coef, rtol=1e-9)
    np.testing.assert_allclose(
        held.inference.std_err, wide.inference.std_err, rtol=1e-9
    )
    exog = np.c_[np.ones(len(y)), X.astype(np.float64)]
    ref = sm.GLM(y, exog, family=sm.families.Binomial(), freq_weights=weights).fit(
        tol=1e-12
    )
    np.testing.assert_allclose(np.r_[held.intercept, held.coef], ref.params, rtol=1e-7)
    # inference lists the intercept first, as statsmodels' exog here
    np.testing.assert_allclose(held.inference.std_err, ref.bse, rtol=1e-6)


def _parquet(tmp_path, columns):
    path = tmp_path / "data.parquet"
    pd.DataFrame(columns).to_parquet(path)
    return path


def test_read_table_auto_keeps_float32_columns_and_float64_weights(
    tmp_path, mixed_data
):
    X, y, weights = mixed_data
    cols = {"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "k": (y * 3).astype(np.int8)}
    cols.update(y=y.astype(int), wt=weights)
    path = _parquet(tmp_path, cols)
    auto = jl.read_table(path, target="y", weights="wt", dtype="auto")
    assert auto.xt.dtype == np.float32 and auto.sample_weight.dtype == np.float64
    wide = jl.read_table(path, target="y", weights="wt", dtype="float64")
    np.testing.assert_array_equal(auto.xt, wide.xt)
    a, b = jl.fit(auto), jl.fit(wide)
    # the same float64 fit (float32 storage widened a block at a time, or not); the
    # coefficients at 0 differ by the summation order's rounding only
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10, atol=1e-13)
    cols["i"] = np.arange(len(y), dtype=np.int32)  # not exact in float32 beyond 2^24
    path = _parquet(tmp_path, cols)
    assert jl.read_table(path, target="y", dtype="auto").xt.dtype == np.float64


def test_cli_float64_fit_of_a_float32_file(tmp_path, mixed_data, capsys, monkeypatch):
    monkeypatch.setenv("JAXLOGLOSS_CACHE_DIR", "off")
    X, y, _ = mixed_data
    path = _parquet(tmp_path, {"a": X[:, 0], "b": X[:, 1], "y": y.astype(int)})
    assert main(["fit", str(path), "--target", "y", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = jl.fit(X[:, :2].astype(np.float64), y)
    np.testing.assert_allclose(
        [out["coef"]["a"], out["coef"]["b"]], ref.coef, rtol=1e-9
    )
