"""Solvers and inference against statsmodels and scikit-learn; separation; statuses."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from jaxlogloss.fitting.fit import fit


def badly_scaled(rng, n=1500):
    """Features in the thousands next to features in the hundredths, offset means."""
    scale = np.array([1000.0, 0.01, 5.0, 300.0])
    shift = np.array([5000.0, 0.0, 1.0, -200.0])
    X = rng.standard_normal((n, 4)) * scale + shift
    z = ((X - shift) / scale) @ np.array([0.8, -1.0, 0.5, 0.0]) + 0.4
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    return X, y


def assert_matches_statsmodels(result, ref, rtol=1e-6):
    np.testing.assert_allclose(
        np.r_[result.intercept, result.coef], ref.params, rtol=rtol
    )
    inf = result.inference
    np.testing.assert_allclose(inf.std_err, ref.bse, rtol=rtol)
    np.testing.assert_allclose(inf.z, ref.tvalues, rtol=rtol)
    np.testing.assert_allclose(inf.p_value, ref.pvalues, rtol=1e-5, atol=1e-12)
    ci = np.asarray(ref.conf_int())
    np.testing.assert_allclose(np.c_[inf.ci_low, inf.ci_high], ci, rtol=rtol)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_mle_equals_statsmodels_on_badly_scaled_data(rng, solver):
    X, y = badly_scaled(rng)
    ref = sm.Logit(y, sm.add_constant(X)).fit(
        disp=0, method="newton", tol=1e-14, maxiter=200
    )
    result = fit(X, y, solver=solver)
    assert result.converged and result.status == "converged"
    assert_matches_statsmodels(result, ref)
    # log-loss x n = -log-likelihood
    np.testing.assert_allclose(result.log_loss * len(y), -ref.llf, rtol=1e-10)
    assert result.inference.names[0] == "intercept"


def test_mle_equals_statsmodels_on_breast_cancer_features(rng):
    bc = load_breast_cancer()
    # a non-separable subset: mean radius, texture, smoothness, symmetry
    cols = [0, 1, 4, 8]
    X, y = bc.data[:, cols], bc.target.astype(float)
    ref = sm.Logit(y, sm.add_constant(X)).fit(
        disp=0, method="newton", tol=1e-10, maxiter=200
    )
    for solver in ["newton", "lbfgs"]:
        result = fit(X, y, solver=solver, feature_names=tuple(bc.feature_names[cols]))
        assert result.converged, result.status
        assert_matches_statsmodels(result, ref)


def test_frequency_weights_equal_statsmodels_glm_and_repetitions(rng):
    X, y = badly_scaled(rng, n=400)
    w = rng.integers(1, 4, len(y)).astype(float)
    ref = sm.GLM(
        y, sm.add_constant(X), family=sm.families.Binomial(), freq_weights=w
    ).fit(tol=1e-14)
    result = fit(X, y, sample_weight=w)
    assert_matches_statsmodels(result, ref)
    idx = np.repeat(np.arange(len(y)), w.astype(int))
    repeated = fit(X[idx], y[idx])
    np.testing.assert_allclose(result.coef, repeated.coef, rtol=1e-8)
    np.testing.assert_allclose(
        result.inference.std_err, repeated.inference.std_err, rtol=1e-8
    )


@pytest.mark.parametrize("alpha", [1e-3, 1e-1])
def test_l2_equals_sklearn_with_c_mapped(rng, alpha):
    bc = load_breast_cancer()
    X, y = bc.data, bc.target
    n = len(y)
    sk = LogisticRegression(
        C=1 / (n * alpha), solver="newton-cholesky", tol=1e-12, max_iter=1000
    ).fit(X, y)
    for solver in ["newton", "lbfgs"]:
        result = fit(X, y, solver=solver, l2=alpha)
        assert result.status in ("converged", "stalled")
        scale = np.abs(sk.coef_).max()
        np.testing.assert_allclose(result.coef, sk.coef_[0], atol=1e-5 * scale)
        np.testing.assert_allclose(
            result.intercept,
            sk.intercept_[0],
            atol=1e-4 * max(1, abs(sk.intercept_[0])),
        )
        # the same objective value, ours no worse than sklearn's
        p = sk.predict_proba(X)[:, 1]
        sk_obj = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)) + alpha / 2 * np.sum(
            sk.coef_**2
        )
        assert result.objective <= sk_obj + 1e-12


def test_solvers_agree_on_a_well_conditioned_problem(rng):
    X = rng.standard_normal((500, 3))
    y = (rng.random(500) < 1 / (1 + np.exp(-(X @ [1.0, -0.5, 0.25])))).astype(float)
    newton = fit(X, y, solver="newton")
    lbfgs = fit(X, y, solver="lbfgs")
    adam = fit(X, y, solver="adam", learning_rate=0.05, tol=1e-7)
    sgd = fit(X, y, solver="sgd", learning_rate=1.0, tol=1e-7)
    for other in [lbfgs, adam, sgd]:
        assert other.converged, other.status
        np.testing.assert_allclose(other.coef, newton.coef, atol=1e-5)
        np.testing.assert_allclose(other.intercept, newton.intercept, atol=1e-5)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_complete_separation_is_reported_not_hidden(rng, solver):
    X = rng.standard_normal((200, 2))
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(float)
    result = fit(X, y, solver=solver)
    assert result.status == "separation" and not result.converged
    assert result.n_iter < 100
    assert any("separable" in w and "L2" in w for w in result.warnings)
    d = result.to_dict()
    assert d["converged"] is False
    for key in ["std_err", "z", "p_value"]:
        assert all(v is not None and np.isfinite(v) for v in d[key].values())
    # with a penalty the optimum exists
    assert fit(X, y, solver=solver, l2=1e-2).converged


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_quasi_complete_separation(rng, solver):
    # x1 = 1 => y = 1, x1 = -1 => y = 0, x1 = 0 => either: separable but for the ties
    n = 300
    x1 = rng.choice([-1.0, 0.0, 1.0], n)
    x2 = rng.standard_normal(n)
    y = np.where(
        x1 > 0, 1.0, np.where(x1 < 0, 0.0, (rng.random(n) < 0.5).astype(float))
    )
    result = fit(np.c_[x1, x2], y, solver=solver)
    assert result.status == "separation" and not result.converged
    assert np.all(np.isfinite(result.coef)) and np.all(
        np.isfinite(result.inference.std_err)
    )
    assert any("separable" in w for w in result.warnings)


def test_quasi_separation_with_a_several_dimensional_near_null_space():
    # 12 rows, 3 features, separated by a hyperplane but for two tied rows on it with
    # both labels: the Hessian at the fit has three near-null eigenvalues and the
    # separating direction mixes their eigenvectors (it was reported "converged" with
    # coefficients near 50 before the near-null space was searched)
    rng = np.random.default_rng(23)
    n, d = 12, 3
    X = rng.standard_normal((n, d))
    w, b = rng.standard_normal(d), 0.3 * rng.standard_normal()
    y = (X @ w + b > 0).astype(float)
    x = rng.standard_normal(d)
    X[0] = X[1] = x - (x @ w + b) / (w @ w) * w  # on the hyperplane
    y[0], y[1] = 0.0, 1.0
    result = fit(X, y)
    assert result.status == "separation"
    assert any("separable" in w for w in result.warnings)


def test_nearly_separable_real_data_is_not_called_separated():
    bc = load_breast_cancer()
    cols = list(range(10))  # large standardised coefficients and margins, finite MLE
    result = fit(bc.data[:, cols], bc.target)
    assert result.status == "converged"


def test_budget_and_statuses(rng):
    X, y = badly_scaled(rng, n=300)
    result = fit(X, y, solver="lbfgs", max_iter=2)
    assert result.status == "max_iter" and result.n_iter == 2
    assert any("max_iter" in w for w in result.warnings)
    assert len(result.loss_history) == 3


def test_summary_table_and_json(rng):
    X, y = badly_scaled(rng, n=300)
    result = fit(X, y, feature_names=("price", "ratio", "visits", "balance"))
    text = result.summary()
    for token in [
        "coef",
        "std err",
        "P>|z|",
        "[0.025",
        "0.975]",
        "intercept",
        "price",
        "converged",
    ]:
        assert token in text
    d = result.to_dict()
    assert set(d["coef"]) == {"price", "ratio", "visits", "balance"}
    assert set(d["std_err"]) == {"intercept", "price", "ratio", "visits", "balance"}
    assert isinstance(d["intercept"], float) and isinstance(d["converged"], bool)
    assert d["penalty"] == "none" and d["alpha"] == 0.0 and d["l2"] == 0.0
    assert d["kkt_violation"] is None and d["inference_note"] is None
    assert "Note:" not in text


def test_l2_is_a_synonym_of_penalty_l2_alpha(rng):
    X, y = badly_scaled(rng, n=300)
    a = fit(X, y, l2=0.05)
    b = fit(X, y, penalty="l2", alpha=0.05)
    c = fit(X, y, alpha=0.05)  # alpha alone means penalty l2
    for r in (a, b, c):
        assert r.penalty == "l2" and r.alpha == 0.05 and r.l2 == 0.05
        np.testing.assert_array_equal(r.coef, a.coef)
    assert (
        "L2 penalty, alpha=0.05" in a.summary() and "penalised objective" in a.summary()
    )


def test_float32_fit_is_close_to_float64(rng):
    X, y = badly_scaled(rng, n=800)
    r64 = fit(X, y)
    r32 = fit(X.astype(np.float32), y, dtype="float32")
    assert r32.converged
    np.testing.assert_allclose(r32.coef, r64.coef, rtol=2e-3)
    assert r32.log_loss == pytest.approx(r64.log_loss, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(solver="irls"), "solver must be one of newton, lbfgs"),
        (dict(l2=-1.0), "l2 must be a finite number >= 0"),
        (dict(tol=0.0), "tol must be a finite number > 0"),
        (dict(max_iter=0), "max_iter must be an integer >= 1"),
        (dict(dtype="float16"), "dtype must be one of float32, float64"),
        (dict(feature_names=("a",)), "feature_names has 1 names but X has 4 columns"),
        (dict(penalty="lasso", alpha=1.0), "penalty must be one of"),
        (dict(penalty="l1", alpha=-1.0), "alpha must be a finite number >= 0"),
        (dict(l2=1.0, penalty="l2", alpha=1.0), "l2= is a synonym"),
        (dict(penalty="elasticnet", alpha=1.0, l1_ratio=-0.1), "l1_ratio must be"),
        (dict(penalty="l1", alpha=1.0, solver="adam"), "needs solver one of"),
    ],
)
def test_bad_fit_settings(rng, kwargs, match):
    X, y = badly_scaled(rng, n=50)
    with pytest.raises(ValueError, match=match):
        fit(X, y, **kwargs)
