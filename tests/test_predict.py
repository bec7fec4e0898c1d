"""A model you can keep: fit --save, load_model, jaxlogloss predict (CSV, Parquet,
streamed), with categorical columns; every bad input exits 2 and writes nothing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import jaxlogloss as jl
from jaxlogloss.cli.main import main
from jaxlogloss.precision import enable_x64


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """train.csv (400 rows: a number, a 3-level category, an offset), new.csv, and
    the model fitted on train.csv by `jaxlogloss fit --save`."""
    rng = np.random.default_rng(99)
    n = 400
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "city": rng.choice(["paris", "oslo", "rome"], n),
        "exposure": 0.3 * rng.normal(size=n),
    })  # fmt: skip
    z = 0.05 * (frame.age - 40) + frame.city.map(
        {"oslo": 0, "paris": 0.8, "rome": -0.5}
    )
    frame["buy"] = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), "yes", "no")
    path = tmp_path_factory.mktemp("predict")
    frame.to_csv(path / "train.csv", index=False)
    frame.drop(columns="buy").iloc[:25].to_csv(path / "new.csv", index=False)
    with enable_x64():  # the API's fit and save of a TabularData
        table = jl.read_table(path / "train.csv", target="buy", features=["age", "city"],
                              dtype="float64")  # fmt: skip
        fitted = jl.fit(table)
    fitted.save(path / "model.json")
    with pytest.MonkeyPatch.context() as mp:  # the command line's fit --save
        mp.setenv("JAXLOGLOSS_CACHE_DIR", "off")  # no process-wide XLA cache setting
        args = ["fit", str(path / "train.csv"), "--target", "buy", "--offset",
                "exposure", "--save", str(path / "offset.json")]  # fmt: skip
        assert main(args) == 0
    return path, frame, fitted


def expected_probability(frame: pd.DataFrame, model: dict) -> np.ndarray:
    """By hand: pandas' one-hot (first level dropped) and the saved coefficients."""
    X = pd.get_dummies(frame[["age", "city"]], columns=["city"], drop_first=True)
    z = model["intercept"] + X.to_numpy(float) @ np.asarray(model["coef"])
    return 1 / (1 + np.exp(-z))


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_saved_model_records_encoding_and_round_trips(workdir):
    path, _, fitted = workdir
    for name in ("model.json", "offset.json"):  # API save, CLI fit --save
        doc = json.loads((path / name).read_text())
        assert doc["format_version"] == 1 and doc["dtype"] == "float64"
        assert doc["feature_names"] == ["age", "city[paris]", "city[rome]"]
        city = doc["encoding"]["columns"][1]
        assert city == {"name": "city", "kind": "categorical",
                        "levels": ["oslo", "paris", "rome"], "dropped": "oslo"}  # fmt: skip
        assert doc["encoding"]["classes"] == ["no", "yes"]
        assert doc["encoding"]["positive"] == "yes" and doc["penalty"]["alpha"] == 0
    model = jl.load_model(path / "model.json")
    np.testing.assert_allclose(model.coef, fitted.coef, rtol=1e-15)
    np.testing.assert_allclose(model.inference.covariance, fitted.inference.covariance,
                               rtol=1e-15)  # fmt: skip
    np.testing.assert_allclose(model.marginal_effects().std_err,
                               fitted.marginal_effects().std_err, rtol=1e-12)  # fmt: skip
    assert model.wald_test(["city[paris]", "city[rome]"]) == pytest.approx(
        fitted.wald_test(["city[paris]", "city[rome]"])
    )
    assert model.aic == pytest.approx(fitted.aic) and model.codebook == fitted.codebook
    assert model.to_dict()["std_err"] == pytest.approx(fitted.to_dict()["std_err"])


@pytest.mark.parametrize("out, stream", [("p.csv", False), ("p.parquet", False),
                                         ("s.parquet", True)])  # fmt: skip
def test_predict_writes_rows_probability_and_prediction(workdir, capsys, out, stream):
    path, frame, _ = workdir
    extra = ["--stream", "--batch-rows", "7"] if stream else []
    code, err = run(capsys, "predict", str(path / "model.json"), str(path / "new.csv"),
                    "--out", str(path / out), *extra)  # fmt: skip
    assert code == 0, err
    got = (
        pd.read_csv(path / out) if out.endswith(".csv") else pd.read_parquet(path / out)
    )
    new = frame.drop(columns="buy").iloc[:25]
    pd.testing.assert_frame_equal(got[list(new.columns)], new, check_dtype=False)
    doc = json.loads((path / "model.json").read_text())
    prob = expected_probability(new, doc)
    np.testing.assert_allclose(got["probability"], prob, rtol=1e-12)
    assert list(got["prediction"]) == list(np.where(prob > 0.5, "yes", "no"))


def test_predict_adds_the_offset_column_of_an_offset_model(workdir, capsys):
    path, frame, _ = workdir
    code, err = run(capsys, "predict", str(path / "offset.json"), str(path / "new.csv"),
                    "--out", str(path / "o.csv"))  # fmt: skip
    assert code == 0, err
    doc = json.loads((path / "offset.json").read_text())
    assert doc["encoding"]["offset"] == "exposure"
    new = frame.iloc[:25]
    X = pd.get_dummies(new[["age", "city"]], columns=["city"], drop_first=True)
    z = doc["intercept"] + X.to_numpy(float) @ doc["coef"] + new.exposure.to_numpy()
    got = pd.read_csv(path / "o.csv")["probability"]
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-z)), rtol=1e-12)


def _bad_inputs(path, frame):
    new = frame.drop(columns="buy").iloc[:25]
    unseen = new.assign(city=new.city.where(new.index != 4, "berlin"))
    nan = new.assign(age=new.age.where(new.index != 2, np.nan))
    doc = json.loads((path / "model.json").read_text())
    newer = {**doc, "format_version": doc["format_version"] + 1}
    (path / "newer.json").write_text(json.dumps(newer))
    for name, table in [("unseen", unseen), ("missing", new.drop(columns="city")),
                        ("nan", nan)]:  # fmt: skip
        table.to_csv(path / f"{name}.csv", index=False)
    model, data = str(path / "model.json"), str(path / "new.csv")
    return [
        ((model, str(path / "unseen.csv")),
         "column 'city' of .* has the level 'berlin' at row 5"),
        ((model, str(path / "missing.csv")), "feature column 'city' of the model is "
         "missing"),
        ((model, str(path / "nan.csv")), "column 'age' of .* missing value .* row 3"),
        ((str(path / "newer.json"), data), "model format version 2, newer than"),
        ((str(path / "train.csv"), data), "is not a JSON model file"),
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_every_bad_predict_input_exits_2_with_one_line_and_writes_nothing(
    workdir, capsys, kind
):
    import re

    path, frame, _ = workdir
    for (model, data), message in _bad_inputs(path, frame):
        for extra in ([], ["--stream"]):
            out = path / "bad" / f"out.{kind}"
            out.parent.mkdir(exist_ok=True)
            code, err = run(capsys, "predict", model, data, "--out", str(out), *extra)
            assert code == 2, (message, err)
            assert err.count("\n") == 1 and re.search(message, err), err
            assert list(out.parent.iterdir()) == [], "a failed predict wrote a file"
    code, err = run(capsys, "predict", str(path / "model.json"), str(path / "new.csv"),
                    "--out", str(path / "bad" / "out.txt"))  # fmt: skip
    assert code == 2 and "must end in .csv or .parquet" in err
    code, err = run(capsys, "predict", str(path / "model.json"), str(path / "new.csv"),
                    "--out", str(path / "no" / "such" / "dir.csv"))  # fmt: skip
    assert code == 2 and "cannot write" in err and err.count("\n") == 1, err


def test_cluster_covariance_over_a_stream_equals_in_memory(workdir, capsys):
    path, _, _ = workdir
    train = str(path / "train.csv")
    args = ["fit", train, "--target", "buy", "--features", "age,exposure",
            "--cov-type", "cluster", "--groups", "city", "--json"]  # fmt: skip
    outs = []
    for extra in ([], ["--stream", "--batch-rows", "64"]):
        assert main([*args, *extra]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    memory, streamed = outs
    assert streamed["cov_type"] == memory["cov_type"] == "cluster"
    for key in ("coef", "std_err"):
        for name, value in memory[key].items():
            assert streamed[key][name] == pytest.approx(value, rel=1e-7), (key, name)


def test_fit_statistics_flags_usage_errors_exit_2_before_reading(workdir, capsys):
    path, _, _ = workdir
    train = str(path / "train.csv")
    cases = [
        (["--cov-type", "cluster"], "--cov-type cluster and --groups COL go together"),
        (["--offset", "exposure", "--stream"], "needs the data in memory"),
        (["--offset", "nope"], "column 'nope' is not in"),
        (["--offset", "city"], "column 'city' of .* has type string; expected numbers"),
        (["--offset", "age", "--features", "age,city"], "is in --features"),
    ]
    import re

    for extra, message in cases:
        code, err = run(capsys, "fit", train, "--target", "buy", *extra)
        assert code == 2 and err.count("\n") == 1 and re.search(message, err), err
    code, err = run(capsys, "fit", "builtin:jackets", "--offset", "x")
    assert code == 2 and "apply to files" in err
