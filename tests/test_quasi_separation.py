"""Quasi-complete separation when the Hessian's near-null space has several dimensions.

Far along the separating direction every row but the boundary ones has l'' ~ 0, so the
Hessian keeps only the boundary rows' directions: its first eigenvector is then an
arbitrary vector of a null space of several dimensions, and a fit could be reported
"converged" with coefficients in the hundreds. The fitted theta projected onto that
space certifies it (:func:`jaxlogloss.solvers.separation.quasi_separation_direction`).
"""

from __future__ import annotations

import numpy as np

import jaxlogloss as jl
from jaxlogloss.solvers.separation import quasi_separation_direction


def test_the_fitted_direction_certifies_a_degenerate_null_space():
    rng = np.random.default_rng(3)
    x1 = np.r_[rng.uniform(0.5, 2, 20), -rng.uniform(0.5, 2, 20), 0.0, 0.0]
    y = np.r_[np.ones(20), np.zeros(20), 0.0, 1.0]  # two boundary rows, both labels
    rows = np.column_stack([x1, rng.normal(size=42), np.ones(42)])  # (x1, x2, 1)
    rows[-2:, 1] = 0.5
    u, r = np.array([1.0, 0, 0]), rows[-1] / np.linalg.norm(rows[-1])
    t = np.cross(u, r)
    a, b = (u + t) / np.sqrt(2), (u - t) / np.sqrt(2)  # the null space, rotated
    hess = np.outer(r, r) + 1e-12 * np.outer(a, a) + 2e-12 * np.outer(b, b)

    def margin_range(v):
        m = (2 * y - 1) * (rows @ v)
        return m.min(), m.max()

    assert quasi_separation_direction(hess, margin_range) is None  # neither a nor b
    theta = 300 * u + 0.01 * rng.normal(size=3)
    v = quasi_separation_direction(hess, margin_range, candidates=(theta,))
    np.testing.assert_allclose(v, u, atol=1e-3)


def test_lbfgs_fit_with_two_boundary_rows_reports_separation():
    rng = np.random.default_rng(1)
    n, d = 49, 2
    X = rng.normal(size=(n, d))
    u, c = np.array([1.0, -0.3]), 0.8
    y = (X @ u + c > 0).astype(float)
    xb = np.array([0.3, 0.0])
    xb = xb - ((xb @ u + c) / (u @ u)) * u  # on the boundary
    X, y = np.r_[X, xb[None], xb[None]], np.r_[y, 0.0, 1.0]
    result = jl.fit(X, y, solver="lbfgs")
    assert result.status == "separation" and not result.converged
    assert "separable" in result.warnings[0]
