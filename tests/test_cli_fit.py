"""`jaxlogloss fit`: the table, the JSON, statsmodels agreement, and every bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

from jaxlogloss.cli.main import main
from jaxlogloss.data.datasets import write_jacket_cardigan_csv


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch):
    monkeypatch.setenv("JAXLOGLOSS_CACHE_DIR", "off")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The jacket/cardigan CSV: a string target and a string 'region' column."""
    path = tmp_path_factory.mktemp("data") / "shop.csv"
    write_jacket_cardigan_csv(path, n=600, seed=3)
    return path


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_has_the_promised_keys_and_equals_statsmodels(shop, capsys):
    code, out, err = run(["fit", str(shop), "--target", "purchase", "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    for key in ["intercept", "coef", "std_err", "log_loss", "n_iter", "converged"]:
        assert key in res
    assert isinstance(res["intercept"], float) and res["converged"] is True
    assert "region[north]" in res["coef"] and "region[coastal]" not in res["coef"]
    assert set(res["std_err"]) == {"intercept", *res["coef"]}
    # the same design built independently with pandas, fitted by statsmodels
    df = pd.read_csv(shop)
    y = (df.pop("purchase") == "jacket").astype(float)
    X = pd.get_dummies(
        df, columns=["region"], drop_first=True, dtype=float, prefix_sep="["
    )
    X.columns = [f"{c}]" if c.startswith("region[") else c for c in X.columns]
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    names = list(X.columns)
    ours = np.array([res["intercept"], *(res["coef"][n] for n in names)])
    np.testing.assert_allclose(ours, ref.params.to_numpy(), rtol=1e-6)
    se = np.array([res["std_err"]["intercept"], *(res["std_err"][n] for n in names)])
    np.testing.assert_allclose(se, ref.bse.to_numpy(), rtol=1e-6)
    assert res["log_loss"] == pytest.approx(-ref.llf / len(y), rel=1e-9)


def test_table_output(shop, capsys):
    code, out, _ = run(
        ["fit", str(shop), "--target", "purchase", "--features", "age,region"], capsys
    )
    assert code == 0
    for token in [
        "coef",
        "std err",
        "P>|z|",
        "[0.025",
        "0.975]",
        "intercept",
        "age",
        "region[south]",
        "log-loss",
        "iterations",
        "converged",
    ]:
        assert token in out


def test_positive_label_flips_the_signs(shop, capsys):
    _, a, _ = run(
        [
            "fit",
            str(shop),
            "--target",
            "purchase",
            "--features",
            "age,outdoor_share",
            "--json",
        ],
        capsys,
    )
    _, b, _ = run(
        [
            "fit",
            str(shop),
            "--target",
            "purchase",
            "--features",
            "age,outdoor_share",
            "--positive",
            "cardigan",
            "--json",
        ],
        capsys,
    )
    a, b = json.loads(a), json.loads(b)
    assert a["positive"] == "jacket" and b["positive"] == "cardigan"
    np.testing.assert_allclose(b["coef"]["age"], -a["coef"]["age"], rtol=1e-9)
    np.testing.assert_allclose(b["intercept"], -a["intercept"], rtol=1e-9)


def test_l2_is_sklearn_c_over_n_alpha(shop, capsys):
    alpha = 0.01
    _, out, _ = run(
        [
            "fit",
            str(shop),
            "--target",
            "purchase",
            "--features",
            "age,outdoor_share,returns_rate",
            "--l2",
            str(alpha),
            "--json",
        ],
        capsys,
    )
    res = json.loads(out)
    df = pd.read_csv(shop)
    X = df[["age", "outdoor_share", "returns_rate"]].to_numpy()
    y = (df["purchase"] == "jacket").to_numpy()
    sk = LogisticRegression(
        C=1 / (len(y) * alpha), solver="newton-cholesky", tol=1e-12
    ).fit(X, y)
    np.testing.assert_allclose(
        [res["coef"][c] for c in ["age", "outdoor_share", "returns_rate"]],
        sk.coef_[0],
        rtol=1e-5,
    )


def test_weights_column_and_solvers(tmp_path, rng, capsys):
    n = 300
    df = pd.DataFrame({"a": rng.standard_normal(n), "b": rng.standard_normal(n) * 1000})
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-(df.a - df.b / 1000)))).astype(int)
    df["w"] = rng.integers(1, 4, n)
    path = tmp_path / "d.parquet"
    df.to_parquet(path)
    ref = sm.GLM(
        df.y,
        sm.add_constant(df[["a", "b"]]),
        family=sm.families.Binomial(),
        freq_weights=df.w,
    ).fit(tol=1e-12)
    for solver in ["newton", "lbfgs"]:
        code, out, err = run(
            [
                "fit",
                str(path),
                "--target",
                "y",
                "--weights",
                "w",
                "--solver",
                solver,
                "--json",
            ],
            capsys,
        )
        assert code == 0, err
        res = json.loads(out)
        np.testing.assert_allclose(
            [res["intercept"], res["coef"]["a"], res["coef"]["b"]],
            ref.params.to_numpy(),
            rtol=1e-6,
        )
        assert "w" not in res["coef"]
    code, out, _ = run(
        [
            "fit",
            str(path),
            "--target",
            "y",
            "--features",
            "a,b",
            "--solver",
            "adam",
            "--learning-rate",
            "0.05",
            "--max-iter",
            "20000",
            "--tol",
            "1e-6",
            "--json",
        ],
        capsys,
    )
    assert code == 0 and json.loads(out)["converged"] is True


def test_builtin_and_separation_warning(capsys):
    code, out, _ = run(["fit", "builtin:separable", "--json"], capsys)
    assert code == 0
    res = json.loads(out)
    assert res["converged"] is False and res["status"] == "separation"
    assert any("L2" in w for w in res["warnings"])
    assert all(v is not None for v in res["std_err"].values())
    code, out, _ = run(["fit", "builtin:separable", "--l2", "0.01", "--json"], capsys)
    assert json.loads(out)["converged"] is True


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    files = {
        "nan.csv": "x,z,y\n1,2,0\n2,,1\n3,4,0\n",
        "inf.csv": "x,z,y\n1,2,0\n2,inf,1\n3,4,0\n",
        "one_class.csv": "x,y\n1,a\n2,a\n3,a\n",
        "three_classes.csv": "x,y\n1,a\n2,b\n3,c\n",
        "one_row.csv": "x,y\n1,0\n",
        "header_only.csv": "x,y\n",
        "notes.txt": "hello\n",
        "ok.csv": "x,z,y,w\n1,2,0,1\n2,1,1,1\n3,4,0,-1\n4,3,1,1\n",
    }
    for name, text in files.items():
        (d / name).write_text(text)
    return d


@pytest.mark.parametrize(
    "args,needle",
    [
        (["missing.csv", "--target", "y"], "missing.csv' does not exist"),
        (["ok.csv", "--target", "label"], "label"),
        (["ok.csv", "--target", "y", "--features", "x,q"], "'q'"),
        (["nan.csv", "--target", "y"], "'z'"),
        (["inf.csv", "--target", "y"], "'z'"),
        (["one_class.csv", "--target", "y"], "one"),
        (["three_classes.csv", "--target", "y", "--positive", "c"], "two-level target"),
        (["one_row.csv", "--target", "y"], "row"),
        (["header_only.csv", "--target", "y"], "header_only.csv"),
        (["notes.txt", "--target", "y"], "notes.txt"),
        (["ok.csv", "--target", "y", "--weights", "w"], "'w'"),
        (["ok.csv", "--target", "y", "--positive", "7"], "7"),
        (["ok.csv"], "--target"),
        (
            ["ok.csv", "--target", "y", "--solver", "irls"],
            "--solver: invalid choice: 'irls'",
        ),
        (["ok.csv", "--target", "y", "--l2", "-1"], "--l2"),
        (["ok.csv", "--target", "y", "--tol", "0"], "--tol"),
        (["ok.csv", "--target", "y", "--max-iter", "0"], "--max-iter"),
        (["ok.csv", "--target", "y", "--learning-rate", "0.1"], "--learning-rate"),
        (["builtin:nosuch"], "nosuch"),
        (["ok.csv", "--target", "y", "--features", "x,,z"], "--features"),
        (
            ["ok.csv", "--target", "y", "--penalty", "l3", "--alpha", "1"],
            "--penalty: invalid choice: 'l3'",
        ),
        (["ok.csv", "--target", "y", "--penalty", "l1", "--alpha", "-1"], "--alpha"),
        (
            [
                "ok.csv",
                "--target",
                "y",
                "--penalty",
                "elasticnet",
                "--alpha",
                "1",
                "--l1-ratio",
                "1.5",
            ],
            "--l1-ratio",
        ),  # fmt: skip
        (
            [
                "ok.csv",
                "--target",
                "y",
                "--penalty",
                "l1",
                "--alpha",
                "1",
                "--class-weight",
                "heavy",
            ],
            "--class-weight",
        ),  # fmt: skip
        (["ok.csv", "--target", "y", "--class-weight", "2=1"], "'2'"),
        (
            [
                "ok.csv",
                "--target",
                "y",
                "--penalty",
                "l1",
                "--alpha",
                "1",
                "--penalty-factor",
                "q=0",
            ],
            "'q'",
        ),  # fmt: skip
        (["ok.csv", "--target", "y", "--penalty-factor", "x"], "--penalty-factor"),
        (["ok.csv", "--target", "y", "--l2", "1", "--penalty", "l1"], "l2"),
        (["ok.csv", "--target", "y", "--penalty", "none", "--alpha", "1"], "alpha"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_culprit(
    bad_files, args, needle, capsys, monkeypatch
):
    monkeypatch.chdir(bad_files)
    code, out, err = run(["fit", *args], capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_nan_message_names_column_and_row(bad_files, capsys, monkeypatch):
    monkeypatch.chdir(bad_files)
    _, _, err = run(["fit", "nan.csv", "--target", "y"], capsys)
    assert "'z'" in err and "row 2" in err


def test_solver_auto_is_the_default_and_the_json_names_the_solver_used(
    tmp_path, rng, capsys
):
    import jaxlogloss as jl
    from jaxlogloss.fitting.fit import AUTO_NEWTON_MAX_FEATURES, resolve_solver

    n, limit = 800, AUTO_NEWTON_MAX_FEATURES
    for d, expected in [(3, "newton"), (limit, "newton"), (limit + 1, "lbfgs")]:
        X = rng.standard_normal((n, d))
        y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
        df = pd.DataFrame(X, columns=[f"x{j}" for j in range(d)]).assign(y=y)
        path = tmp_path / f"d{d}.parquet"
        df.to_parquet(path)
        code, out, err = run(["fit", str(path), "--target", "y", "--json"], capsys)
        assert code == 0, err
        auto = json.loads(out)
        assert auto["solver"] == expected and auto["converged"] is True
        code, out, err = run(
            ["fit", str(path), "--target", "y", "--solver", "auto", "--json"], capsys
        )
        assert json.loads(out)["solver"] == expected
        code, out, err = run(
            ["fit", str(path), "--target", "y", "--solver", "newton", "--json"], capsys
        )
        ref = json.loads(out)
        np.testing.assert_allclose(
            [auto["intercept"], *auto["coef"].values()],
            [ref["intercept"], *ref["coef"].values()],
            rtol=1e-6,
            atol=1e-9,
        )
        assert jl.fit(X, y, solver="auto").solver == expected
        assert resolve_solver("auto", jl.read_table(path, target="y")) == expected
        assert resolve_solver("auto", jl.open_stream(path, target="y")) == expected
    assert jl.fit(X, y).solver == "newton"  # the Python default is unchanged
    assert resolve_solver("lbfgs", X) == "lbfgs"


def test_solver_auto_with_a_learning_rate_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "ok.csv"
    path.write_text("x,y\n1,0\n2,1\n3,0\n4,1\n")
    code, _, err = run(
        ["fit", str(path), "--target", "y", "--learning-rate", "0.1"], capsys
    )
    assert code == 2 and "--learning-rate" in err and "auto" in err


def test_penalty_flags_equal_the_python_api(tmp_path, capsys):
    """--penalty l1 --alpha --class-weight --penalty-factor: the JSON equals fit()'s
    (200 x 5 float64: the shape tests/test_penalties.py compiles)."""
    import jaxlogloss as jl

    rng = np.random.default_rng(5)
    X = rng.standard_normal((200, 5))
    y = (rng.random(200) < 1 / (1 + np.exp(-X[:, 0] + X[:, 1]))).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)])
    frame["y"] = np.where(y == 1, "yes", "no")
    path = tmp_path / "pen.csv"
    frame.to_csv(path, index=False)
    argv = ["fit", str(path), "--target", "y", "--penalty", "elasticnet", "--alpha",
            "0.05", "--l1-ratio", "0.7", "--class-weight", "yes=2,no=1",
            "--penalty-factor", "x0=0,x2=3"]  # fmt: skip
    code, out, err = run([*argv, "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    ref = jl.fit(X, y.astype(float), penalty="elasticnet", alpha=0.05, l1_ratio=0.7,
                 class_weight={1: 2.0, 0: 1.0}, penalty_factor=[0, 1, 3, 1, 1])  # fmt: skip
    np.testing.assert_allclose(
        [res["coef"][f"x{j}"] for j in range(5)], ref.coef, rtol=1e-10, atol=1e-12
    )
    assert res["penalty"] == "elasticnet" and res["l1_ratio"] == 0.7
    assert res["alpha"] == 0.05 and res["kkt_violation"] < 1e-8
    assert res["penalty_factor"] == {
        "x0": 0.0,
        "x1": 1.0,
        "x2": 3.0,
        "x3": 1.0,
        "x4": 1.0,
    }
    assert (
        set(res["std_err"].values()) == {None}
        and "not reported" in res["inference_note"]
    )
    code, out, _ = run(argv, capsys)
    assert code == 0 and "elastic net penalty, alpha=0.05, l1_ratio=0.7" in out
    assert "std err" not in out and "Note: standard errors are not reported" in out
