"""Firth's penalised likelihood (``fit(..., method="firth")``, ``--firth``) against
independent NumPy references: the closed-form modified score, logistf's modified-score
iteration, and the exact 2x2-table result; finite answers under separation."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import jaxlogloss as jl
from jaxlogloss.cli.main import main
from jaxlogloss.fitting.firth import firth_score, modified_score
from jaxlogloss.precision import enable_x64


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def numpy_modified_score(beta, Xt, y, c):
    """X~^T (c (y - p) + h (1/2 - p)), h the diagonal of the weighted hat matrix."""
    p = _sigmoid(Xt @ beta)
    w = c * p * (1 - p)
    info = Xt.T @ (w[:, None] * Xt)
    h = w * np.einsum("ij,ij->i", Xt, np.linalg.solve(info, Xt.T).T)
    return Xt.T @ (c * (y - p) + h * (0.5 - p)), info


def numpy_firth(X, y, c=None, max_iter=200, tol=1e-12):
    """logistf's iteration (Heinze & Schemper 2002) on the raw design [X, 1]: a Fisher
    step I^-1 U*, capped at 5 per coordinate, halved until the penalised
    log-likelihood does not decrease."""
    Xt = np.column_stack([X, np.ones(len(X))])
    c = np.ones(len(y)) if c is None else c

    def pll(beta):
        z = Xt @ beta
        p = _sigmoid(z)
        info = Xt.T @ ((c * p * (1 - p))[:, None] * Xt)
        return (
            np.sum(c * (y * z - np.logaddexp(0, z))) + 0.5 * np.linalg.slogdet(info)[1]
        )

    beta = np.zeros(Xt.shape[1])
    for _ in range(max_iter):
        score, info = numpy_modified_score(beta, Xt, y, c)
        if np.max(np.abs(score)) < tol:
            break
        step = np.linalg.solve(info, score)
        step *= min(1.0, 5 / np.max(np.abs(step)))
        while pll(beta + step) < pll(beta) and np.max(np.abs(step)) > 1e-14:
            step /= 2
        beta = beta + step
    _, info = numpy_modified_score(beta, Xt, y, c)
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    return beta, se  # [w..., b], SEs in the same order


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20261201)
    n, d = 40, 3
    X = rng.normal(size=(n, d)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -1.0]
    y = (X[:, 0] - 0.5 * X[:, 1] + rng.logistic(size=n) > 0).astype(float)
    c = rng.integers(1, 4, size=n).astype(float)
    return X, y, c


def test_autodiff_score_equals_the_closed_form_modified_score(data):
    X, y, c = data
    Xt = np.column_stack([X, np.ones(len(X))])
    rng = np.random.default_rng(1)
    with enable_x64():
        for _ in range(3):
            beta = rng.normal(size=Xt.shape[1]) * 0.5
            expected, _ = numpy_modified_score(beta, Xt, y, c)
            auto = np.asarray(jax.jit(firth_score)(beta, Xt.T, y, c))
            closed = np.asarray(jax.jit(modified_score)(beta, Xt.T, y, c))
            np.testing.assert_allclose(auto, expected, rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(closed, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_firth_equals_the_numpy_modified_score_iteration(data, weighted):
    X, y, c = data
    c = c if weighted else None
    result = jl.fit(X, y, sample_weight=c, method="firth")
    beta, se = numpy_firth(X, y, c)
    assert result.status == "converged" and result.method == "firth"
    np.testing.assert_allclose(result.coef, beta[:-1], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(result.intercept, beta[-1], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(
        result.inference.std_err, np.r_[se[-1], se[:-1]], rtol=1e-7
    )


def test_frequency_weights_equal_repeated_rows(data):
    X, y, c = data
    X, y, c = X[:24], y[:24], c[:24]  # <= 64 rows repeated: one compiled Firth loop
    reps = c.astype(int)
    a = jl.fit(X, y, sample_weight=c, method="firth")
    b = jl.fit(np.repeat(X, reps, axis=0), np.repeat(y, reps), method="firth")
    assert len(b.coef) == 3 and reps.sum() <= 64
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-8)
    np.testing.assert_allclose(a.inference.std_err, b.inference.std_err, rtol=1e-8)


@pytest.mark.parametrize("cells", [(5, 3, 4, 0), (0, 6, 4, 2), (7, 0, 0, 5)])
def test_two_by_two_table_with_zero_cells_is_the_half_corrected_log_odds_ratio(cells):
    # cells: x=0 (y=1, y=0), x=1 (y=1, y=0); Firth's estimate in the saturated model
    # is the empirical log odds with 1/2 added to every cell (exact). 12 rows each:
    # one compiled fit.
    a, b, c, d = cells
    x = np.r_[np.zeros(a + b), np.ones(c + d)][:, None]
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    result = jl.fit(x, y, method="firth", tol=1e-13)
    odds_ratio = (c + 0.5) * (b + 0.5) / ((d + 0.5) * (a + 0.5))
    assert result.coef[0] == pytest.approx(np.log(odds_ratio), rel=1e-11, abs=1e-11)
    assert result.intercept == pytest.approx(np.log((a + 0.5) / (b + 0.5)), abs=1e-11)
    assert np.all(np.isfinite(result.inference.std_err))


@pytest.mark.parametrize("kind", ["complete", "quasi-complete"])
def test_finite_estimates_and_std_errors_under_separation(data, kind):
    X, _, _ = data
    y = (X[:, 0] > 0).astype(float)
    if kind == "quasi-complete":  # two rows on the boundary with both labels
        X, y = X.copy(), y.copy()
        X[:2], y[:2] = 0.0, [0.0, 1.0]
    ml = jl.fit(X, y)
    if kind == "complete":
        assert ml.status == "separation"
        assert any("--firth" in w and "--l2" in w for w in ml.warnings)
    else:  # the ML fit runs off: huge coefficients and standard errors
        assert np.max(ml.inference.std_err) > 1e3 and np.max(np.abs(ml.coef)) > 50
    firth = jl.fit(X, y, method="firth")
    assert firth.status == "converged" and not firth.warnings
    assert np.all(np.isfinite(firth.coef)) and np.all(np.abs(firth.coef) < 100)
    assert np.all(np.isfinite(firth.inference.std_err))
    beta, se = numpy_firth(X, y)
    np.testing.assert_allclose(firth.coef, beta[:-1], rtol=1e-6)
    np.testing.assert_allclose(firth.inference.std_err[1:], se[:-1], rtol=1e-6)
    assert "Firth" in firth.summary() and firth.to_dict()["method"] == "firth"


def test_firth_refuses_what_it_cannot_do(data, tmp_path):
    X, y, _ = data
    with pytest.raises(ValueError, match="method must be one of ml, firth"):
        jl.fit(X, y, method="bayes")
    with pytest.raises(ValueError, match="do not combine"):
        jl.fit(X, y, method="firth", l2=0.1)
    with pytest.raises(ValueError, match="solver must be newton or auto"):
        jl.fit(X, y, method="firth", solver="lbfgs")
    path = _write_csv(tmp_path / "d.csv", X, y)
    stream = jl.open_stream(str(path), target="y")
    with pytest.raises(ValueError, match="a stream or a mesh is not supported"):
        jl.fit(stream, method="firth")


def _write_csv(path, X, y):
    rows = [",".join(map(str, [*r, int(t)])) for r, t in zip(X, y, strict=True)]
    path.write_text("\n".join(["a,b,c,y", *rows]) + "\n")
    return path


def _cli(capsys, *args):
    """Run the CLI in this process (its compiled programs are the tests' own)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_firth_on_separable_data(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JAXLOGLOSS_CACHE_DIR", "off")
    X, _, _ = data
    y = (X[:, 0] > 0).astype(int)
    path = _write_csv(tmp_path / "sep.csv", X, y)
    code, out, err = _cli(
        capsys, "fit", str(path), "--target", "y", "--firth", "--json"
    )
    assert code == 0, err
    got = json.loads(out)
    assert got["method"] == "firth" and got["status"] == "converged"
    beta, se = numpy_firth(X, y.astype(float))
    np.testing.assert_allclose([got["coef"][k] for k in "abc"], beta[:-1], rtol=1e-6)
    np.testing.assert_allclose(got["std_err"]["intercept"], se[-1], rtol=1e-6)
    code, _, err = _cli(
        capsys, "fit", str(path), "--target", "y", "--firth", "--l2", "1"
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--firth cannot be combined with --l2" in err


def test_profile_intervals_cut_the_penalised_profile_at_the_chi2_level():
    # the 2x2 table of the docs (a zero cell): beta = (b0, b1); with b1 fixed at an end
    # the penalised log-likelihood maximised over b0 by SciPy must sit chi2_1(0.95)/2
    # below its maximum, on both sides, and the interval is asymmetric
    optimize = pytest.importorskip("scipy.optimize")
    x = np.r_[np.zeros(8), np.ones(4)]
    y = np.r_[np.ones(5), np.zeros(3), np.ones(4)]
    ci = jl.firth_profile_intervals(x[:, None], y)
    Xt = np.column_stack([x, np.ones_like(x)])

    def pll(beta):
        z = Xt @ beta
        p = _sigmoid(z)
        info = Xt.T @ ((p * (1 - p))[:, None] * Xt)
        return np.sum(y * z - np.logaddexp(0, z)) + 0.5 * np.linalg.slogdet(info)[1]

    top = pll(np.array([ci.estimate[1], ci.estimate[0]]))
    for v in (ci.low[1], ci.high[1]):
        best = optimize.minimize_scalar(lambda b0, v=v: -pll(np.array([v, b0])))
        assert 2 * (top + best.fun) == pytest.approx(3.841458820694124, abs=1e-6)
    assert ci.low[1] < ci.estimate[1] < ci.high[1]
    assert ci.high[1] - ci.estimate[1] > ci.estimate[1] - ci.low[1]  # asymmetric
    assert ci.names == ("intercept", "x0") and np.all(np.isfinite(ci.low))
