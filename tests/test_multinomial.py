"""The multinomial fit (a target of K > 2 levels): statsmodels ``MNLogit``'s answer,
the closed-form Hessian, the result's JSON, the CLI, save / load / predict, a config,
and the scikit-learn estimator against scikit-learn's multinomial LogisticRegression.

Every fit here has n = 256 rows (the estimator pads to 256), d = 3 features and K = 4
classes, so the compiled programs are shared: one per (weights or not, symmetric or
not, solver)."""

from __future__ import annotations

import json
import warnings

import jax
import numpy as np
import pytest
from conftest import SEED

import jaxlogloss as jl
from jaxlogloss.cli.main import main
from jaxlogloss.fitting.multinomial import fit_softmax, multinomial_target
from jaxlogloss.model.multinomial import MultinomialObjective
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.scaling import feature_scaling
from jaxlogloss.precision import enable_x64

sm = pytest.importorskip("statsmodels.api")

N, D, K = 256, 3, 4
LEVELS = np.array(["ant", "bee", "cat", "dog"])


@pytest.fixture(scope="module")
def data():
    """X (N, D) of unequal spreads and means, labels of K string levels drawn from a
    softmax model, integer frequency weights in 1..3."""
    rng = np.random.default_rng([SEED, 13])
    X = rng.normal(size=(N, D)) * [1.0, 3.0, 0.5] + [0.0, 1.0, -2.0]
    W = rng.normal(size=(D, K)) * [[1.0], [0.3], [1.5]]
    codes = np.argmax(X @ W + rng.gumbel(size=(N, K)), axis=1)
    # every level present 4 times at random rows: a level drawn only once, at a point
    # of the hull, was separable from the rest (no MLE; seeds 88, 89 of 400)
    codes[: 4 * K] = np.tile(np.arange(K), 4)
    return X, codes, rng.integers(1, 4, size=N)


@pytest.fixture(scope="module")
def fitted(data):
    X, codes, _ = data
    return jl.fit(X, LEVELS[codes])


@pytest.fixture(scope="module")
def mnlogit(data):
    X, codes, _ = data
    return sm.MNLogit(codes, sm.add_constant(X)).fit(
        method="newton", disp=0, tol=1e-12, maxiter=100
    )


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def test_fit_equals_statsmodels_mnlogit(fitted, mnlogit):
    r, m = fitted, mnlogit
    assert isinstance(r, jl.MultinomialResult) and r.converged
    assert r.classes == tuple(LEVELS) and r.coef_classes == tuple(LEVELS[1:])
    assert r.coef.shape == (D, K - 1) and r.intercept.shape == (K - 1,)
    params = np.concatenate([r.intercept[None, :], r.coef])  # MNLogit's (D+1, K-1)
    assert rel(params, m.params) < 1e-6
    assert rel(r.std_err, m.bse) < 1e-6
    assert rel(r.z, m.tvalues) < 1e-6
    np.testing.assert_allclose(r.p_value, m.pvalues, rtol=1e-6, atol=1e-10)
    # the same (class-major) order; entries near 0 (1e-5 of a largest 3.8, seed 161)
    # are compared to the matrix's scale
    cov = np.asarray(m.cov_params())
    np.testing.assert_allclose(
        r.covariance, cov, rtol=1e-6, atol=1e-9 * np.abs(cov).max()
    )
    for name in ("llf", "aic", "bic", "pseudo_r2"):
        assert rel(getattr(r, name), getattr(m, "prsquared" if name == "pseudo_r2"
                                             else name)) < 1e-8, name  # fmt: skip
    assert rel(r.llnull, m.llnull) < 1e-7  # statsmodels fits its null model
    assert abs(r.log_loss * N + m.llf) < 1e-8 * N


def test_frequency_weights_equal_repeated_rows(data):
    X, codes, counts = data
    r = jl.fit(X, LEVELS[codes], sample_weight=counts.astype(float))
    m = sm.MNLogit(np.repeat(codes, counts), sm.add_constant(np.repeat(X, counts, 0)))
    m = m.fit(method="newton", disp=0, tol=1e-12, maxiter=100)
    assert rel(np.concatenate([r.intercept[None, :], r.coef]), m.params) < 1e-6
    assert rel(r.std_err, m.bse) < 1e-6 and rel(r.llf, m.llf) < 1e-9


def test_l2_fit_is_stationary_and_lbfgs_agrees(data, fitted):
    """With (alpha/2)||W||^2 the mean score X^T (Y - P) / n equals alpha W (NumPy)."""
    X, codes, _ = data
    alpha = 0.05
    r = jl.fit(X, LEVELS[codes], l2=alpha)
    assert r.converged and r.l2 == alpha and r.penalty == "l2"
    P = r.predict_proba(X)
    Y = np.eye(K)[codes]
    score = X.T @ (Y - P)[:, 1:] / N
    np.testing.assert_allclose(score, alpha * r.coef, atol=1e-10)
    np.testing.assert_allclose((Y - P)[:, 1:].mean(axis=0), 0, atol=1e-10)
    assert r.objective == pytest.approx(r.log_loss + alpha / 2 * np.sum(r.coef**2))
    lbfgs = jl.fit(X, LEVELS[codes], solver="lbfgs")  # default tol 1e-10
    assert lbfgs.solver == "lbfgs" and lbfgs.status in ("converged", "stalled")
    np.testing.assert_allclose(lbfgs.coef, fitted.coef, rtol=1e-5, atol=1e-6)


def test_closed_form_hessian_equals_autodiff(rng):
    n, d, k = 40, 3, 4
    with enable_x64():
        X = rng.normal(size=(n, d)) * [1.0, 2.0, 3.0] + 1.0
        T = np.eye(k)[rng.integers(0, k, n)]
        sw = rng.uniform(0.1, 2.0, n)
        # the reference-class Hessian gives statsmodels' standard errors (above);
        # here the symmetric one without intercepts (one compiled program)
        for symmetric, intercept, l2 in [(True, False, 0.2)]:
            problem = Problem(jax.numpy.asarray(X), T, sw, jax.numpy.asarray(l2))
            scaling = feature_scaling(problem.X, problem.sample_weight, l2)
            if not intercept:
                scaling = scaling._replace(mean=0 * scaling.mean)
            obj = MultinomialObjective(problem, scaling, symmetric, intercept)
            theta = jax.numpy.asarray(rng.normal(size=obj.n_params))
            closed, auto = _both_hessians(obj, theta)
            np.testing.assert_allclose(closed, auto, atol=1e-12)


@jax.jit
def _both_hessians(obj, theta):
    return obj.hessian(theta), jax.hessian(obj.value)(theta)


def test_quasi_separation_is_reported(data):
    """Class "dog" exactly where x0 > 1 (and two boundary rows of both kinds): no
    maximum-likelihood estimate; the fit says so instead of "converged"."""
    X, codes, counts = data
    codes = np.where(X[:, 0] > 1.0, 3, codes % 3)
    X = X.copy()
    X[:2, 0] = 1.0
    codes[:2] = [3, 0]
    r = jl.fit(X, LEVELS[codes], sample_weight=counts.astype(float))
    assert r.status == "separation" and not r.converged
    assert "separable" in r.warnings[0] and "--firth" not in r.warnings[0]


def test_binary_targets_stay_binary(data):
    X, codes, _ = data
    y = (codes > 1).astype(float)
    for binary in (y, y.astype(bool), y.astype(int), 2.0 * y, LEVELS[codes % 2]):
        assert multinomial_target("fit", X, binary) is None
    assert multinomial_target("fit", X, codes)[0] == (0, 1, 2, 3)
    assert multinomial_target("fit", X, np.r_[np.nan, y[1:] + codes[1:]]) is None
    with pytest.raises(ValueError, match="only the labels 0 and 1"):
        jl.fit(X[:, :1], 2.0 * y)  # two levels that are not 0/1: as before


@pytest.mark.parametrize(
    "options,needle",
    [
        (dict(penalty="l1", alpha=0.1), "penalty='l1'"),
        (dict(penalty="elasticnet", alpha=0.1), "penalty='elasticnet'"),
        (dict(method="firth"), "method='firth'"),
        (dict(offset=np.zeros(N)), "offset="),
        (dict(cov_type="HC0"), "cov_type='HC0'"),
        (dict(groups=np.zeros(N)), "groups="),
        (dict(mesh="mesh"), "mesh='mesh'"),
        (dict(penalty_factor={"x0": 0.0}), "penalty_factor="),
        (dict(solver="adam"), "solver must be one of auto, newton, lbfgs"),
        (dict(solver="prox_newton"), "solver must be one of"),
        (dict(learning_rate=0.1), "learning_rate="),
        (dict(batch_rows=10), "batch_rows="),
    ],
)
def test_unsupported_options_name_the_argument(data, options, needle):
    X, codes, _ = data
    with pytest.raises(ValueError, match="^fit: .*levels|^fit: solver") as err:
        jl.fit(X, LEVELS[codes], **options)
    assert needle in str(err.value)


def test_to_dict_has_the_promised_keys(fitted, mnlogit):
    out = json.loads(json.dumps(fitted.to_dict(), allow_nan=False))
    assert out["classes"] == list(LEVELS) and out["reference"] == "ant"
    assert set(out["coef"]) == set(out["intercept"]) == set(out["std_err"]) == {
        "bee", "cat", "dog"
    }  # fmt: skip
    assert set(out["coef"]["bee"]) == {"x0", "x1", "x2"}
    assert set(out["std_err"]["dog"]) == {"intercept", "x0", "x1", "x2"}
    assert out["std_err"]["cat"]["x1"] == pytest.approx(mnlogit.bse[2, 1], rel=1e-6)
    assert out["intercept"]["dog"] == pytest.approx(mnlogit.params[0, 2], rel=1e-6)
    for key in ("converged", "status", "n_iter", "solver", "log_loss", "llf", "aic"):
        assert key in out
    table = fitted.summary()
    assert "reference class 'ant'" in table and "class 'dog'" in table


@pytest.fixture(scope="module")
def csv_file(data, tmp_path_factory):
    """The data as a CSV with a categorical feature (x2 as two levels) and the
    string target ``animal``."""
    X, codes, _ = data
    path = tmp_path_factory.mktemp("mn") / "animals.csv"
    side = np.where(X[:, 2] > -2.0, "up", "down")
    rows = [f"{a:.17g},{b:.17g},{s},{LEVELS[c]}" for (a, b, _), s, c in
            zip(X, side, codes, strict=True)]  # fmt: skip
    path.write_text("x0,x1,side,animal\n" + "\n".join(rows) + "\n")
    return path, np.column_stack([X[:, :2], side == "up"])


def test_table_cli_save_and_predict_round_trip(csv_file, fitted, tmp_path, capsys):
    path, X = csv_file
    table = jl.read_table(path, target="animal", multiclass=True, dtype="float64")
    assert table.classes == tuple(LEVELS) and set(table.y) == {0, 1, 2, 3}
    direct = jl.fit(table)
    ref = jl.fit(X.astype(float), np.asarray(LEVELS)[table.y.astype(int)])
    np.testing.assert_allclose(direct.coef, ref.coef, rtol=1e-9)
    assert direct.feature_names == ("x0", "x1", "side[up]")
    model = tmp_path / "model.json"
    argv = ["fit", str(path), "--target", "animal", "--json", "--save", str(model)]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"] == list(LEVELS) and "positive" not in out
    assert out["coef"]["cat"]["side[up]"] == pytest.approx(direct.coef[2, 1], rel=1e-9)
    assert main(["fit", str(path), "--target", "animal"]) == 0
    assert "3 classes" not in capsys.readouterr().out  # 4 classes, reference 'ant'
    code = main(["fit", str(path), "--target", "animal", "--positive", "cat"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "a positive label only applies to a two-level target" in err[0]
    assert main(["fit", str(path), "--target", "animal", "--cov-type", "HC0"]) == 2
    assert "cov_type='HC0'" in capsys.readouterr().err
    loaded = jl.load_model(model)
    assert isinstance(loaded, jl.MultinomialResult) and loaded.classes == tuple(LEVELS)
    np.testing.assert_allclose(loaded.std_err, direct.std_err, rtol=1e-12)
    assert loaded.llf == pytest.approx(direct.llf) and loaded.aic == direct.aic
    pred = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(path), "--out", str(pred)]) == 0
    capsys.readouterr()
    import pyarrow.csv as pacsv

    written = pacsv.read_csv(pred).to_pandas()
    columns = [f"probability[{c}]" for c in LEVELS]
    np.testing.assert_allclose(
        written[columns].to_numpy(), direct.predict_proba(X.astype(float)), atol=1e-12
    )
    assert list(written["prediction"]) == list(direct.predict(X.astype(float)))
    assert list(written.columns[:4]) == ["x0", "x1", "side", "animal"]
    streamed = tmp_path / "pred_stream.csv"
    argv = ["predict", str(model), str(path), "--out", str(streamed), "--stream"]
    assert main([*argv, "--batch-rows", "7"]) == 0
    capsys.readouterr()
    again = pacsv.read_csv(streamed).to_pandas()
    np.testing.assert_allclose(again[columns].to_numpy(), written[columns].to_numpy())
    assert list(again["prediction"]) == list(written["prediction"])


def test_a_config_runs_multinomial_fits(tmp_path):
    from jaxlogloss.experiments import config as cfg
    from jaxlogloss.experiments.runner import run_config

    text = (
        'title = "multinomial"\n[data]\nsource = "multinomial"\nn = 256\nd = 3\n'
        'classes = 4\ntest_size = 0.0\ndtype = "float64"\n'
        '[optimizer]\nname = ["newton"]\n[train]\nsteps = 100\n'
    )
    (tmp_path / "m.toml").write_text(text)
    metrics = run_config(cfg.load(tmp_path / "m.toml"), tmp_path / "out", log=str)
    run = metrics["runs"]["softmax/newton"]
    assert run["status"] == "converged"
    assert np.shape(run["w"]) == (3, 3) and np.shape(run["b"]) == (3,)
    assert "4 classes, reference 0" in (tmp_path / "out" / "report.md").read_text()
    bad = text.replace('["newton"]', '["adam"]')
    (tmp_path / "bad.toml").write_text(bad)
    with pytest.raises(cfg.ConfigError, match="optimizer.name 'adam'"):
        cfg.load(tmp_path / "bad.toml")


SK_CASES = [dict(C=0.3), dict(penalty=None), dict(C=0.5, class_weight="balanced")]


@pytest.mark.parametrize(
    "params", SK_CASES, ids=lambda p: "-".join(map(str, p.values()))
)
def test_estimator_equals_scikit_learn_multinomial(data, params):
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    from jaxlogloss.sklearn import LogisticRegression

    X, codes, counts = data
    y, n = LEVELS[codes], N  # all rows: no padding, the weighted fits' programs
    sw = counts.astype(float)
    ours = LogisticRegression(**params).fit(X[:n], y, sample_weight=sw)
    twin = dict(params)
    if "penalty" in twin:
        twin.pop("penalty")
        twin["C"] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # newton-cg: scikit-learn's lbfgs stops on its own relative-f rule near 1e-5
        theirs = SkLogisticRegression(
            solver="newton-cg", tol=1e-12, max_iter=10000, **twin
        )
        theirs.fit(X[:n], y, sample_weight=sw)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5
    )
    # the unpenalised optimum is flat along some directions: both solvers' stopping
    # points differ there by up to ~1e-5 in the coefficients
    atol = 1e-4 if "penalty" in params else 1e-5
    # softmax is unchanged by adding one vector to every class's (coef, intercept):
    # only differences between classes are determined. Ours are centred to sum 0 over
    # the classes (the estimator's rule); unpenalised, newton-cg's drift along that
    # flat direction (intercept sums of -2e-3 and -1.2e-2, a coefficient shift of
    # 4.5e-3, on 3 of ~70 seeds), so compare centred
    np.testing.assert_allclose(ours.coef_.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_.sum(), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        ours.coef_, theirs.coef_ - theirs.coef_.mean(axis=0), atol=atol
    )
    np.testing.assert_allclose(
        ours.intercept_, theirs.intercept_ - theirs.intercept_.mean(), atol=atol
    )
    assert ours.coef_.shape == (K, D) and ours.intercept_.shape == (K,)
    assert list(ours.classes_) == list(LEVELS)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_estimator_rejects_l1_with_more_classes(data):
    from jaxlogloss.sklearn import LogisticRegression

    X, codes, _ = data
    with pytest.raises(ValueError, match="penalty='l1' supports two classes only"):
        LogisticRegression(penalty="l1").fit(X, LEVELS[codes])


def test_fit_softmax_checks_its_arguments(data):
    X, codes, _ = data
    with pytest.raises(ValueError, match="needs alpha > 0"):
        fit_softmax("f", X, codes, tuple(LEVELS), symmetric=True)
    with pytest.raises(ValueError, match="y has shape"):
        fit_softmax("f", X, codes[:-1], tuple(LEVELS))
    with pytest.raises(ValueError, match="feature_names has 2 names"):
        fit_softmax("f", X, codes, tuple(LEVELS), feature_names=("a", "b"))
