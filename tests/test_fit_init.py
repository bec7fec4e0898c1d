"""fit(..., init=(coef, intercept)): a warm start reaches the same optimum."""

from __future__ import annotations

import numpy as np
import pytest

import jaxlogloss as jl
from jaxlogloss.precision import enable_x64


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 4)) * [1, 3, 0.5, 2] + [0, 2, -1, 5]
    y = (rng.random(300) < 1 / (1 + np.exp(-(X @ [0.8, -0.3, 1.0, 0.2] - 1)))) * 1.0
    return X, y


@pytest.mark.parametrize(
    "options",
    [
        {"solver": "newton"},
        {"solver": "lbfgs"},
        {"penalty": "l1", "alpha": 0.01},
        {"solver": "adam", "learning_rate": 0.05, "max_iter": 3000, "tol": 1e-6},
    ],
    ids=["newton", "lbfgs", "prox_newton_l1", "adam"],
)
def test_warm_start_reaches_the_cold_optimum_in_fewer_iterations(data, options):
    X, y = data
    with enable_x64():
        cold = jl.fit(X, y, **options)
        near = (cold.coef * 1.001, cold.intercept - 0.001)
        warm = jl.fit(X, y, init=near, **options)
    tol = 1e-4 if options.get("solver") == "adam" else 1e-7
    np.testing.assert_allclose(warm.coef, cold.coef, rtol=tol, atol=tol)
    assert warm.objective <= cold.objective + 1e-9
    assert warm.n_iter < cold.n_iter


def test_init_from_the_optimum_takes_no_newton_step_and_keeps_inference(data):
    X, y = data
    with enable_x64():
        cold = jl.fit(X, y)
        warm = jl.fit(X, y, init=(cold.coef, cold.intercept))
    assert warm.n_iter <= 1
    np.testing.assert_allclose(
        warm.inference.std_err, cold.inference.std_err, rtol=1e-8
    )


@pytest.mark.parametrize(
    "init, error, needle",
    [
        ((np.zeros(3), 0.0), ValueError, "coef of shape (4,)"),
        ((np.zeros(4), np.zeros(2)), ValueError, "scalar intercept"),
        ((np.r_[np.nan, 0, 0, 0], 0.0), ValueError, "init must be finite"),
        (np.zeros(5), TypeError, "(coef, intercept) pair"),
    ],
)
def test_bad_init_names_the_argument(data, init, error, needle):
    X, y = data
    with pytest.raises(error, match=r"fit: init") as info:
        jl.fit(X, y, init=init)
    assert needle in str(info.value)


def test_init_is_refused_by_firth_and_multinomial(data):
    X, y = data
    with pytest.raises(ValueError, match="firth"):
        jl.fit(X, y, method="firth", init=(np.zeros(4), 0.0))
    with pytest.raises(ValueError, match="init="):
        jl.fit(X, np.arange(300) % 3, init=(np.zeros(4), 0.0))


def test_warm_start_on_a_stream(data, tmp_path):
    """A streamed Newton fit started at the in-memory optimum confirms it in at most
    one step (init maps to the stream's own standardised coordinates)."""
    import pandas as pd

    X, y = data
    path = tmp_path / "d.csv"
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame.assign(y=y).to_csv(path, index=False)
    with enable_x64():
        ref = jl.fit(X, y)
        stream = jl.open_stream(path, target="y", dtype="float64", batch_rows=128)
        warm = jl.fit(stream, init=(ref.coef, ref.intercept))
    assert warm.n_iter <= 1 and warm.status == "converged"
    np.testing.assert_allclose(warm.coef, ref.coef, rtol=1e-8)
