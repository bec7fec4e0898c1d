"""Separation by the unpenalised features: a penalty whose factors leave features
free (factor 0) cannot keep their coefficients finite where they and the intercept
alone separate the classes. jl.fit and every point of jl.fit_path report status
"separation" there (not "converged"), and never where the free part does not
separate or every feature is penalised."""

from __future__ import annotations

import numpy as np
import pytest

import jaxlogloss as jl
from jaxlogloss.solvers.separation import free_coordinates


def _data(separable: bool, n: int = 300, seed: int = 0):
    """x0 separates the classes (or not: 10% of the labels flipped), x1, x2 noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] > 0.1).astype(float)
    if not separable:
        flip = rng.random(n) < 0.1
        y[flip] = 1 - y[flip]
    return X, y


def test_free_coordinates():
    assert free_coordinates(0.0, np.array([0.0, 1.0])) is None  # no penalty at all
    assert free_coordinates(0.1, None) is None
    assert free_coordinates(0.1, np.array([1.0, 2.0])) is None
    np.testing.assert_array_equal(
        free_coordinates(0.1, np.array([0.0, 1.0, 0.0])), [True, False, True, True]
    )


@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet"])
def test_fit_reports_separation_by_the_free_features(penalty):
    X, y = _data(separable=True)
    options = dict(penalty=penalty, alpha=0.05, penalty_factor=[0.0, 1.0, 1.0])
    if penalty == "elasticnet":
        options["l1_ratio"] = 0.5
    res = jl.fit(X, y, **options)
    assert res.status == "separation" and not res.converged
    assert any("penalty factor 0" in w for w in res.warnings)
    assert abs(res.coef[0]) > 50  # the free coefficient ran away


def test_fit_without_separation_by_the_free_part_converges():
    X, y = _data(separable=False)
    res = jl.fit(X, y, penalty="l2", alpha=0.05, penalty_factor=[0.0, 1.0, 1.0])
    assert res.status == "converged" and res.converged
    # separable data, every feature penalised: a finite optimum
    X, y = _data(separable=True)
    res = jl.fit(X, y, penalty="l2", alpha=0.05, penalty_factor=[1.0, 0.5, 1.0])
    assert res.status == "converged" and abs(res.coef[0]) < 50


def test_zero_weight_rows_do_not_count():
    """A misclassified row of weight 0 does not stop the certificate; of weight 1 it
    does (the data then are not separable by x0)."""
    X, y = _data(separable=True)
    y[0] = 1 - y[0]
    sw = np.ones_like(y)
    sw[0] = 0.0
    opts = dict(penalty="l2", alpha=0.05, penalty_factor=[0.0, 1.0, 1.0])
    assert jl.fit(X, y, sample_weight=sw, **opts).status == "separation"
    assert jl.fit(X, y, **opts).status == "converged"


def test_every_path_point_reports_separation_by_the_free_features():
    X, y = _data(separable=True)
    path = jl.fit_path(X, y, penalty="l2", penalty_factor=[0.0, 1.0, 1.0], n_alphas=6)
    assert list(path.status) == ["separation"] * 6
    X, y = _data(separable=False)
    path = jl.fit_path(X, y, penalty="l1", penalty_factor=[0.0, 1.0, 1.0], n_alphas=6)
    assert list(path.status) == ["converged"] * 6
    X, y = _data(separable=True)
    path = jl.fit_path(X, y, penalty="l2", n_alphas=6)  # every feature penalised
    assert "separation" not in list(path.status)


def test_cv_runs_report_separation_by_the_free_features():
    """Each fold's run (and the all-rows path and refit) on separable data; none on
    data the free part does not separate."""
    X, y = _data(separable=True)
    opts = dict(penalty="l2", penalty_factor=[0.0, 1.0, 1.0], n_alphas=4, folds=3)
    res = jl.cv(X, y, **opts)
    assert set(np.asarray(res.status).ravel()) == {"separation"}
    assert set(res.path.status) == {"separation"} and res.fit.status == "separation"
    X, y = _data(separable=False)
    res = jl.cv(X, y, **opts)
    assert "separation" not in set(np.asarray(res.status).ravel())
    assert res.fit.status == "converged"


def test_fit_reports_quasi_separation_by_the_free_features():
    """A 2 x 2 table with a zero cell in a free feature (x0 = 1 always has y = 1, the
    other rows mixed): quasi-complete separation by x0, its coefficient unbounded;
    penalised, or without the zero cell, a finite optimum."""
    rng = np.random.default_rng(2)
    n = 400
    x0 = (rng.random(n) < 0.3).astype(float)
    y = np.where(x0 == 1, 1.0, (rng.random(n) < 0.4).astype(float))
    X = np.column_stack([x0, rng.normal(size=(n, 2))])
    opts = dict(penalty="l2", alpha=0.05)
    res = jl.fit(X, y, penalty_factor=[0.0, 1.0, 1.0], **opts)
    assert res.status == "separation" and not res.converged
    assert any("penalty factor 0" in w for w in res.warnings)
    assert jl.fit(X, y, **opts).status == "converged"  # x0 penalised
    y[np.flatnonzero(x0 == 1)[:5]] = 0.0  # the zero cell filled
    assert jl.fit(X, y, penalty_factor=[0.0, 1.0, 1.0], **opts).status == "converged"
