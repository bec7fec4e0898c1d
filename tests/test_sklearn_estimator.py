"""``jaxlogloss.sklearn.LogisticRegression``: scikit-learn's estimator checks, its
predictions against scikit-learn's own LogisticRegression, and its use in pipelines."""

from __future__ import annotations

import warnings

import chex
import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.linear_model import LogisticRegression as SkLogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from jaxlogloss.sklearn import LogisticRegression  # noqa: E402


@parametrize_with_checks([LogisticRegression()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    # n <= 128 and d = 3: every fit here (fit_intercept=False doubles the rows) is
    # padded to the 256 rows of the estimator checks' fits and reuses their programs
    rng = np.random.default_rng(20261201)
    n = 120
    X = rng.normal(size=(n, 3)) * [1.0, 3.0, 0.5] + [0.0, 1.0, -2.0]
    y = np.where(X[:, 0] + 0.5 * X[:, 1] + rng.logistic(size=n) > 0.3, "yes", "no")
    sw = rng.uniform(0.2, 2.0, size=n)
    return X, y, sw


CASES = [
    dict(penalty="l2", C=0.3),
    dict(penalty="l1", C=0.3),
    dict(penalty="elasticnet", C=0.3, l1_ratio=0.4),
    dict(penalty=None),
    dict(penalty="l2", C=0.5, class_weight="balanced"),
    dict(penalty="l1", C=0.5, class_weight={"yes": 2.0, "no": 0.5}),
    dict(penalty="l2", C=0.5, fit_intercept=False),
    dict(penalty="elasticnet", C=0.5, l1_ratio=0.7, fit_intercept=False),
]


def _sklearn_twin(params: dict) -> SkLogisticRegression:
    """scikit-learn's estimator at the same C, penalty and weights, at a tight tol."""
    kw = dict(params)
    penalty = kw.pop("penalty")
    l1_ratio = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(penalty, kw.pop("l1_ratio", None))
    if penalty is None:
        kw["C"] = np.inf
    solver = "saga" if penalty in ("l1", "elasticnet") else "lbfgs"
    return SkLogisticRegression(
        l1_ratio=l1_ratio, solver=solver, tol=1e-12, max_iter=100000, **kw
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("params", CASES, ids=lambda p: "-".join(map(str, p.values())))
def test_predictions_equal_scikit_learn(data, params, weighted):
    X, y, sw = data
    sw = sw if weighted else None
    ours = LogisticRegression(**params).fit(X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saga's tol=1e-12 may report max_iter
        theirs = _sklearn_twin(params).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6
    )
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=2e-5)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.coef_.shape == (1, 3) and ours.intercept_.shape == (1,)
    assert ours.n_iter_.shape == (1,) and ours.n_iter_[0] >= 1
    if not params.get("fit_intercept", True):
        assert ours.intercept_[0] == 0.0


@pytest.mark.parametrize(
    "labels", [("no", "yes"), (0, 1), (-3, 7), (False, True)], ids=str
)
def test_any_two_labels(data, labels):
    X, y, _ = data
    y2 = np.where(y == "yes", labels[1], labels[0])
    est = LogisticRegression().fit(X, y2)
    assert list(est.classes_) == sorted(labels)
    assert set(est.predict(X)) <= set(labels)
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), proba, rtol=1e-12)
    z = est.decision_function(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)
    assert est.score(X, y2) == np.mean(est.predict(X) == y2)


def test_a_three_class_target_fits_k_coefficient_vectors(data):
    X, _, _ = data
    est = LogisticRegression().fit(X, np.arange(len(X)) % 3)
    assert est.coef_.shape == (3, X.shape[1]) and est.intercept_.shape == (3,)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    chex.assert_shape(est.predict_proba(X), (len(X), 3))
    assert LogisticRegression().__sklearn_tags__().classifier_tags.multi_class is True


def test_log_proba_is_accurate_in_the_tails():
    est = LogisticRegression(penalty=None)
    est.classes_ = np.array([0, 1])
    est.coef_, est.intercept_ = np.array([[1.0]]), np.array([0.0])
    est.n_features_in_ = 1
    logp = est.predict_log_proba(np.array([[-800.0], [800.0]]))
    np.testing.assert_allclose(logp, [[0.0, -800.0], [-800.0, 0.0]])


def test_dataframe_feature_names(data):
    pd = pytest.importorskip("pandas")
    X, y, _ = data
    frame = pd.DataFrame(X, columns=["age", "income", "score"])
    est = LogisticRegression().fit(frame, y)
    assert list(est.feature_names_in_) == ["age", "income", "score"]
    assert est.n_features_in_ == 3


def test_pipeline_grid_search_and_cross_val_score(data):
    X, y, _ = data
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.6)
    grid = GridSearchCV(
        LogisticRegression(), {"C": [0.01, 1.0], "penalty": ["l2", "l1"]}, cv=3
    ).fit(X, y)
    assert grid.best_params_["C"] in (0.01, 1.0)
    assert grid.best_estimator_.coef_.shape == (1, 3)


def test_separable_data_without_penalty_warns_and_suggests_firth():
    from sklearn.exceptions import ConvergenceWarning

    X = np.linspace(-1, 1, 20)[:, None]
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match="--firth"):
        LogisticRegression(penalty=None).fit(X, y)
