"""Rows per block of an in-memory pass (`fitting.fit.block_rows`,
`data.design.budget_rows`), the scaling's pass in such blocks against NumPy, and a fit
whose blocks follow the rule (smaller than BLOCK_ROWS, the last one shifted back)
against a float64 NumPy Newton reference."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jaxlogloss as jl
from jaxlogloss.data import design
from jaxlogloss.model.objectives import BLOCK_ROWS
from tests.conftest import logistic_data

fit_module = sys.modules["jaxlogloss.fitting.fit"]


class _Shape:
    """What block_rows reads of X: its shape and dtype."""

    def __init__(self, n: int, d: int, dtype: str) -> None:
        self.shape, self.dtype = (n, d), np.dtype(dtype)


@pytest.mark.parametrize(
    ("n", "d", "x_dtype", "fit_dtype", "rows"),
    [
        (20_000, 20, "float64", "float64", 20_000),  # 3.2 MB: one block
        (1_000_000, 100, "float32", "float32", 8192),  # 3.2 MB blocks, as before
        (1_000_000, 100, "float32", "float64", 4096),  # widened to float64
        (1_000_000, 100, "float64", "float64", 4096),
        (1_000_000, 100, "float64", "float32", 4096),  # X's own width counts
        (100_000, 50, "float64", "float64", 8192),  # capped at BLOCK_ROWS
        (200_000, 1000, "float32", "float64", 512),
        (10, 10**7, "float64", "float64", 1),  # a row is over the budget
    ],
)
def test_block_rows_rule(n, d, x_dtype, fit_dtype, rows):
    assert fit_module.block_rows(_Shape(n, d, x_dtype), None, fit_dtype) == rows


def test_block_rows_with_a_mesh_never_takes_all_rows():
    # a sharded X is blocked within each device's rows, however small it is
    assert fit_module.block_rows(_Shape(1000, 4, "float64"), object()) == BLOCK_ROWS


@given(
    n=st.integers(1, 10**7),
    d=st.integers(1, 5000),
    x_dtype=st.sampled_from(["float32", "float64"]),
    fit_dtype=st.sampled_from([None, "float32", "float64"]),
)
def test_block_rows_is_the_largest_power_of_two_in_budget(n, d, x_dtype, fit_dtype):
    rows = fit_module.block_rows(_Shape(n, d, x_dtype), None, fit_dtype)
    width = max(np.dtype(x_dtype).itemsize, np.dtype(fit_dtype or x_dtype).itemsize)
    if n * d * np.dtype(x_dtype).itemsize <= fit_module.ONE_BLOCK_MAX_BYTES:
        assert rows == n
        return
    assert 1 <= rows <= BLOCK_ROWS and rows & (rows - 1) == 0
    budget = design.BLOCK_MAX_BYTES
    assert rows == 1 or rows * d * width <= budget
    assert rows == BLOCK_ROWS or 2 * rows * d * width > budget


def _newton_reference(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unpenalised maximum likelihood in float64 NumPy: (b, w...) and their standard
    errors from the inverse Hessian at the optimum."""
    A = np.column_stack([np.ones(len(y)), X])
    beta = np.zeros(A.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(A @ beta)))
        H = A.T @ (A * (p * (1 - p))[:, None])
        step = np.linalg.solve(H, A.T @ (y - p))
        beta += step
        if np.abs(step).max() < 1e-14 * (1 + np.abs(beta).max()):
            break
    p = 1 / (1 + np.exp(-(A @ beta)))
    H = A.T @ (A * (p * (1 - p))[:, None])
    return beta, np.sqrt(np.diag(np.linalg.inv(H)))


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_fit_in_blocks_under_block_rows_equals_numpy(solver, order):
    n, d = 9000, 120  # 8.6 MB float64: blocks of 4096 rows, the last shifted back
    X, y = logistic_data(n, d, seed=17)
    X = np.asarray(X / 4, order=order)
    assert fit_module.block_rows(X, None, "float64") == 4096 and n % 4096
    r = jl.fit(X, y, solver=solver)
    beta, se = _newton_reference(X, y)
    assert r.converged
    rtol = 1e-7 if solver == "newton" else 1e-6  # L-BFGS stops on its gradient tol
    np.testing.assert_allclose(r.intercept, beta[0], rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(r.coef, beta[1:], rtol=rtol, atol=1e-9)
    named = dict(zip(r.inference.names, r.inference.std_err, strict=True))
    ours = np.array([named["intercept"], *(named[f"x{j}"] for j in range(d))])
    np.testing.assert_allclose(ours, se, rtol=1e-7)


@pytest.mark.parametrize("layout", ["rows", "features"])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
def test_scaling_pass_in_budget_blocks_equals_numpy(layout, x_dtype, x64, rng):
    """feature_moments' default block (512 rows at d = 600 in float64: 3000 rows in
    six blocks, the last shifted back) against float64 NumPy: weighted mean, variance
    and X^T u."""
    import jax.numpy as jnp

    from jaxlogloss.model.scaling import feature_moments

    n, d = 3000, 600
    assert design.budget_rows(d, np.float64) == 512 and n % 512
    X = (rng.standard_normal((n, d)) * 2 + 1).astype(x_dtype)
    c, u = rng.uniform(0, 2, n), rng.standard_normal(n)
    c[::7] = 0  # weights with zeros
    held = jnp.asarray(X) if layout == "rows" else jl.feature_major(X)
    mean, var, xtu = feature_moments(
        held, jnp.asarray(c), dtype=jnp.float64, moment=jnp.asarray(u)
    )
    X64 = X.astype(np.float64)
    ref_mean = c @ X64 / c.sum()
    ref_var = c @ (X64 - ref_mean) ** 2 / c.sum()
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(var, ref_var, rtol=1e-12)
    np.testing.assert_allclose(xtu, u @ X64, rtol=1e-11, atol=1e-10)
