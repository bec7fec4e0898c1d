"""cv: folds, scores, the one-SE rule, the refit, and the ``jaxlogloss cv`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SEED

import jaxlogloss as jl
from jaxlogloss.cli.main import main
from jaxlogloss.fitting.cv import (
    held_out_score,
    one_se_rule,
    stratified_folds,
)
from jaxlogloss.precision import enable_x64

# the shapes of tests/test_path.py: its compiled path programs serve these tests too
N, D, K, F = 240, 5, 5, 3
RATIOS = [0.5, 1.0]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng([SEED, 13])
    X = rng.normal(size=(N, D))
    w = np.array([1.2, -1.0, 0, 0, 0.3])
    y = rng.random(N) < 1 / (1 + np.exp(-(X @ w - 0.8)))
    return X, y.astype(np.float64)


@pytest.fixture(scope="module")
def result(data):
    """Elastic net at two l1_ratios: both run in one compiled program."""
    X, y = data
    return jl.cv(X, y, penalty="elasticnet", l1_ratio=RATIOS, n_alphas=K, folds=F,
                 seed=3, tol=1e-10)  # fmt: skip


def test_stratified_folds_keep_proportions_and_replay_by_seed():
    y = np.r_[np.zeros(70), np.ones(33)]
    folds = stratified_folds(y, 5, seed=1)
    assert np.array_equal(folds, stratified_folds(y, 5, seed=1))
    assert not np.array_equal(folds, stratified_folds(y, 5, seed=2))
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1
    for label, count in [(0, 70), (1, 33)]:
        per = np.bincount(folds[y == label], minlength=5)
        assert per.max() - per.min() <= 1 and per.sum() == count


def test_one_se_rule_on_a_constructed_curve():
    alphas = np.array([8.0, 4.0, 2.0, 1.0, 0.5, 0.25])
    loss = np.array([0.70, 0.52, 0.47, 0.45, 0.46, 0.48])
    se = np.array([0.01, 0.02, 0.02, 0.03, 0.02, 0.02])
    # lower is better: best at alpha 1 (0.45); within 0.45 + 0.03: 0.47 at alpha 2
    assert one_se_rule(alphas, loss, se, False) == (3, 2)
    auc = 1 - loss  # higher is better: the mirror image
    assert one_se_rule(alphas, auc, se, True) == (3, 2)
    # a tie at the best: the larger alpha is alpha_min
    assert one_se_rule(alphas, [0.5, 0.4, 0.4, 0.6, 0.6, 0.6], np.zeros(6), False) == (
        1,
        1,
    )


def test_held_out_scores_equal_sklearn_metrics(rng):
    from sklearn.metrics import (
        accuracy_score,
        brier_score_loss,
        log_loss,
        roc_auc_score,
    )

    n = 60
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 0.4).astype(np.float64)
    h = rng.uniform(0, 2, size=n) * (rng.random(n) < 0.7)
    w, b = rng.normal(size=3), 0.2
    z = np.round(X @ w + b, 1)  # ties, for the AUC
    X2 = np.c_[z, np.zeros((n, 2))]
    p = 1 / (1 + np.exp(-z))
    expected = {
        "log_loss": log_loss(y, p, sample_weight=h),
        "brier": brier_score_loss(y, p, sample_weight=h),
        "accuracy": accuracy_score(y, p > 0.5, sample_weight=h),
        "roc_auc": roc_auc_score(y, z, sample_weight=h),
    }
    with enable_x64():
        import jax
        import jax.numpy as jnp

        score = jax.jit(held_out_score, static_argnames="scoring")
        xt = jl.FeatureMajor(jnp.asarray(X2.T))
        for scoring, value in expected.items():
            got = score(xt, jnp.asarray(y), jnp.asarray(h), jnp.array([1.0, 0, 0]),
                        0.0, scoring=scoring)  # fmt: skip
            np.testing.assert_allclose(float(got), value, rtol=1e-12)


def test_cv_scores_equal_fold_by_fold_paths(data, result):
    from sklearn.metrics import log_loss

    X, y = data
    folds = stratified_folds(y, F, seed=3)
    assert result.fold_scores.shape == (2, F, K) and result.alphas_all.shape == (2, K)
    for r, ratio in enumerate(RATIOS):
        for k in range(F):
            train = folds != k  # a fold's fit: the rows of the other folds
            path = jl.fit_path(X, y, penalty="elasticnet", l1_ratio=ratio,
                               alphas=result.alphas_all[r], tol=1e-10,
                               sample_weight=train.astype(float))  # fmt: skip
            for j in range(0, K, 2):
                z = X[~train] @ path.coef[j] + path.intercept[j]
                ref = log_loss(y[~train], 1 / (1 + np.exp(-z)), labels=[0, 1])
                np.testing.assert_allclose(result.fold_scores[r, k, j], ref, rtol=1e-7)
    means = result.fold_scores.mean(axis=1)
    r = int(np.argmin(means.min(axis=1)))  # the best l1_ratio
    # the path on all rows, run in the same program as the folds
    full = jl.fit_path(X, y, penalty="elasticnet", l1_ratio=RATIOS[r], tol=1e-10,
                       alphas=result.alphas_all[r], sample_weight=np.ones(N))  # fmt: skip
    np.testing.assert_allclose(result.path.coef, full.coef, atol=1e-9)
    np.testing.assert_allclose(result.path.objective, full.objective, rtol=1e-12)
    assert result.path.l1_ratio == RATIOS[r] and np.all(result.path.kkt < 1e-8)
    assert result.l1_ratio == RATIOS[r]
    np.testing.assert_allclose(result.alphas, result.alphas_all[r], rtol=0)
    np.testing.assert_allclose(result.mean_score, means[r], rtol=1e-12)
    se = result.fold_scores[r].std(axis=0, ddof=1) / np.sqrt(F)
    np.testing.assert_allclose(result.se_score, se, rtol=1e-12)
    i, j = one_se_rule(result.alphas, means[r], se, False)
    assert (result.alpha_min, result.alpha_1se) == (result.alphas[i], result.alphas[j])
    assert result.alpha_1se >= result.alpha_min


def test_refit_equals_fit_at_alpha_min(data, result):
    X, y = data
    ref = jl.fit(X, y, penalty="elasticnet", alpha=result.alpha_min,
                 l1_ratio=result.l1_ratio)  # fmt: skip
    np.testing.assert_allclose(result.coef, ref.coef, atol=1e-9)
    np.testing.assert_allclose(result.intercept, ref.intercept, atol=1e-9)


@pytest.fixture(scope="module")
def csv(tmp_path_factory, data):
    X, y = data
    path = tmp_path_factory.mktemp("cv") / "d.csv"
    rows = ["a,b,c,d,e,y"] + [
        ",".join(map(str, [*x, int(t)])) for x, t in zip(X, y, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_cli_json_has_exactly_the_keys(csv, capsys):
    # the settings of the ``result`` fixture: the same compiled programs
    argv = ["cv", csv, "--target", "y", "--alphas", str(K), "--folds", str(F),
            "--seed", "3", "--penalty", "elasticnet", "--l1-ratio", "0.5,1",
            "--json"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "alphas", "mean_score", "se_score", "alpha_min", "alpha_1se", "scoring",
        "coef", "intercept", "l1_ratio", "penalty",
    }  # fmt: skip
    assert list(out["coef"]) == ["a", "b", "c", "d", "e"]
    assert out["penalty"] == "elasticnet" and out["l1_ratio"] in RATIOS
    assert len(out["alphas"]) == K and out["scoring"] == "log_loss"


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--penalty", "l3"], "--penalty"),
        (["--alpha-list", "0.1,-1"], "alpha"),
        (["--penalty", "elasticnet", "--l1-ratio", "1.5"], "--l1-ratio"),
        (["--class-weight", "heavy"], "--class-weight"),
        (["--folds", "1"], "--folds"),
        (["--folds", "100000"], "folds must be <="),
        (["--scoring", "f1"], "--scoring"),
    ],
)
def test_cli_bad_values_exit_2_with_one_line(csv, capsys, flags, needle):
    assert main(["cv", csv, "--target", "y", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err
