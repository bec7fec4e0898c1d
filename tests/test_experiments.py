"""Experiment configs and `jaxlogloss run`: validation, quick runs, claims, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import child_env

from jaxlogloss.cli.main import main
from jaxlogloss.experiments import config as cfg
from jaxlogloss.experiments.config import CLAIM_IDS
from jaxlogloss.fitting import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.toml"))


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch):
    monkeypatch.setenv("JAXLOGLOSS_CACHE_DIR", "off")


def test_every_config_validates_and_all_claims_are_covered():
    assert len(EXPERIMENTS) >= 7
    covered = set()
    for path in EXPERIMENTS:
        config = cfg.load(path)
        assert config.title
        covered |= set(config.claims)
        # the resolved form reads back to the same config
        assert (
            cfg.from_dict(__import__("tomllib").loads(cfg.to_toml(config))).to_dict()
            == config.to_dict()
        )
    assert covered == set(CLAIM_IDS)
    names = {n for p in EXPERIMENTS for n in cfg.load(p).optimizer.name}
    assert {"sgd", "momentum", "adam", "lbfgs", "newton"} <= names


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    """Every config in experiments/, end to end, in quick mode (one run for the module)."""
    out = tmp_path_factory.mktemp("results")
    os.environ["JAXLOGLOSS_CACHE_DIR"] = "off"
    code = main(["run", str(ROOT / "experiments"), "--out", str(out), "--quick"])
    assert code == 0
    return out


@pytest.mark.slow(seconds=120)  # the module's quick run of every config
def test_quick_run_writes_every_file_and_every_claim_passes(quick_results):
    out = quick_results
    index = (out / "index.md").read_text()
    for path in EXPERIMENTS:
        folder = out / path.stem
        for name in ["config.toml", "metrics.json", "history.jsonl", "report.md"]:
            assert (folder / name).exists(), (path.stem, name)
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["complete"] is True
        for claim_id, claim in metrics["claims"].items():
            assert claim["passed"], (path.stem, claim_id, claim["check"])
        report = (folder / "report.md").read_text()
        for claim_id in metrics["claims"]:
            assert f"| {claim_id} |" in report and "PASS" in report
        for line in report.splitlines():
            if line.startswith("!["):
                target = line.split("](")[1].rstrip(")")
                assert (folder / target).exists(), target
        assert f"{path.stem}/report.md" in index
        assert not [p for p in folder.rglob(".*") if p.is_file()], "temp files left"
    assert "21 of 21 claim checks passed" in index


@pytest.mark.slow
def test_claim_numbers_are_the_evidence(quick_results):
    claims = {}
    for path in EXPERIMENTS:
        metrics = json.loads((quick_results / path.stem / "metrics.json").read_text())
        claims.update(metrics["claims"])
    assert claims["S1"]["numbers"]["share_outside"] > 0
    assert claims["S3"]["numbers"]["witness"]["min_eigenvalue"] < 0
    assert (
        claims["S3"]["numbers"]["spread_mse"]
        > 10 * claims["S3"]["numbers"]["spread_log_loss"]
    )
    assert claims["S5"]["numbers"]["mean"] == pytest.approx(0.2798, abs=5e-5)
    assert claims["S6"]["numbers"]["max_rel_param_diff"] <= 1e-6
    assert (
        claims["S7"]["numbers"]["min_eigenvalue"]
        >= -claims["S7"]["numbers"]["tolerance"]
    )
    assert claims["S10"]["numbers"]["max_abs_grad_accuracy"] == 0.0
    assert claims["S13"]["numbers"]["ratio"] < 0.05
    assert claims["S3"]["check"].startswith("S3 MSE Hessian min eigenvalue")
    assert claims["R1"]["numbers"]["nonzero"][0] == 0
    assert claims["R1"]["numbers"]["max_kkt"] <= 1e-6
    assert claims["R2"]["numbers"]["alpha_1se"] >= claims["R2"]["numbers"]["alpha_min"]
    f1, f3 = claims["F1"]["numbers"], claims["F3"]["numbers"]
    assert all(b > a for a, b in zip(f1["norm_w"], f1["norm_w"][1:], strict=False))
    assert f1["log_loss"][-1] < f1["log_loss"][0] / 100
    assert all(f < m for f, m in zip(f3["firth_norm_w"], f3["ml_norm_w"], strict=True))
    r3 = claims["R3"]["numbers"]
    assert r3["first_to_enter"] == r3["true_support"]
    assert set(r3["true_support"]) <= set(r3["support_at_alpha_1se"])


def test_finished_run_is_not_recomputed_unless_forced(tmp_path, capsys):
    config = ROOT / "experiments" / "03_log_loss_basics.toml"
    out = tmp_path / "basics"
    assert main(["run", str(config), "--out", str(out), "--quick"]) == 0
    stamp = (out / "metrics.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["run", str(config), "--out", str(out), "--quick"]) == 0
    assert "up to date" in capsys.readouterr().err
    assert (out / "metrics.json").stat().st_mtime_ns == stamp
    assert main(["run", str(config), "--out", str(out), "--quick", "--force"]) == 0
    assert (out / "metrics.json").stat().st_mtime_ns != stamp
    # an override changes the resolved config: recomputed, and recorded
    assert (
        main(
            ["run", str(config), "--out", str(out), "--quick", "--set", "train.steps=7"]
        )
        == 0
    )
    assert "steps = 7" in (out / "config.toml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text,needle",
    [
        (
            "[trian]\nsteps = 3\n",
            "unknown key 'trian'; expected one of: title, data, model, loss, optimizer, train, sweep, separation, metrics, figures, claims",
        ),
        ("[train]\nstep = 3\n", "unknown key 'train.step'; expected one of: steps"),
        ("[train]\nsteps = 'many'\n", "train.steps must be an integer, got 'many'"),
        (
            "[optimizer]\nlearning_rate = -0.1\n",
            "optimizer.learning_rate must be a number > 0, got -0.1",
        ),
        (
            "[optimizer]\nname = ['adamax']\n",
            "optimizer.name must be a non-empty list of sgd, adam, adamw",
        ),
        (
            "[data]\nsource = 'file'\npath = 'nope.csv'\ntarget = 'y'\n",
            "nope.csv' does not exist",
        ),
        (
            "claims = ['S14']\n",
            "claims must be a list of claim ids F1..F3, R1..R4, S1..S13",
        ),
        (
            "[loss]\npenalty = 'l3'\n",
            "loss.penalty must be one of none, l2, l1, elasticnet",
        ),
        ("[loss]\nalpha = -1\n", "loss.alpha must be a number >= 0, got -1"),
        (
            "[loss]\nl1_ratio = 1.5\n",
            "loss.l1_ratio must be a number in [0, 1], got 1.5",
        ),
        (
            "[loss]\nclass_weight = 'heavy'\n",
            "loss.class_weight must be '' or 'balanced', got 'heavy'",
        ),
        (
            "[loss]\npenalty = 'none'\nalpha = 0.1\n",
            "loss.alpha = 0.1 needs loss.penalty other than 'none'",
        ),
        (
            "[loss]\nl2 = 0.1\nalpha = 0.1\n",
            "loss.l2 and loss.alpha both set with loss.penalty = 'l2'",
        ),
        (
            "claims = ['R3']\n[loss]\npenalty = 'l1'\n",
            "claim R3 needs data.source = 'sparse'",
        ),
        (
            "[loss]\nnames = ['hinge']\n",
            "loss.names must be a non-empty list of log_loss, mse, squared_error, got",
        ),
        ("[data]\nn = 2.5\n", "data.n must be an integer, got 2.5"),
        ("title = 'x'\n[[data]]\n", "[data] must be a table"),
        ("not toml at all = = =\n", "is not valid TOML"),
    ],
)
def test_bad_configs_exit_2_with_one_line_naming_the_key(
    tmp_path, text, needle, capsys
):
    path = write(tmp_path, text)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert "bad.toml" in err[0] or "nope.csv" in err[0]


def test_bad_overrides_and_missing_config(tmp_path, capsys):
    config = ROOT / "experiments" / "03_log_loss_basics.toml"
    assert (
        main(["run", str(config), "--set", "train.steps=-1", "--out", str(tmp_path)])
        == 2
    )
    assert "train.steps must be an integer >= 1, got -1" in capsys.readouterr().err
    assert main(["run", str(config), "--set", "steps", "--out", str(tmp_path)]) == 2
    assert "expected section.key=value" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml' does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["run", str(tmp_path / "empty")]) == 2
    assert "no *.toml experiment configs" in capsys.readouterr().err


def test_claim_ids_come_from_the_claims_registration():
    from jaxlogloss.experiments.claims import CLAIMS, claim, claim_ids

    expected = (
        *(f"F{i}" for i in range(1, 4)),
        *(f"R{i}" for i in range(1, 5)),
        *(f"S{i}" for i in range(1, 14)),
    )
    assert CLAIM_IDS == claim_ids() == expected
    assert CLAIMS["S3"].__name__ == "s3_mse_nonconvex"
    with pytest.raises(ValueError, match="'S3' is already registered"):
        claim("S3")(lambda ctx: None)


def test_loss_names_are_read_from_the_loss_registry():
    import jax.numpy as jnp

    from jaxlogloss.losses.registry import Loss, register_loss, unregister_loss

    with pytest.raises(cfg.ConfigError, match="loss.names must be a non-empty list"):
        cfg.from_dict({"loss": {"names": ["hinge2"]}})
    register_loss(
        Loss("hinge2", value=lambda y, z: jnp.square(jnp.maximum(0.0, 1 - (2 * y - 1) * z)),
             grad=lambda y, z: z, curvature=lambda y, z: jnp.ones_like(z), convex=True)
    )  # fmt: skip
    try:
        config = cfg.from_dict({"loss": {"names": ["log_loss", "hinge2"]}})
        assert config.loss.names == ["log_loss", "hinge2"]
    finally:
        unregister_loss("hinge2")
    with pytest.raises(cfg.ConfigError, match="non-empty list of log_loss, mse, squ"):
        cfg.from_dict({"loss": {"names": ["softmax"]}})  # multiclass: not for 0/1 data


def test_overrides_parse_as_toml():
    assert cfg.parse_override("train.steps=200") == (["train", "steps"], 200)
    assert cfg.parse_override('optimizer.name=["sgd", "adam"]') == (
        ["optimizer", "name"],
        ["sgd", "adam"],
    )
    assert cfg.parse_override("data.source=jackets") == (["data", "source"], "jackets")
    config = cfg.from_dict(
        cfg.apply_overrides({}, ["optimizer.name=sgd", "loss.l2=0.5"])
    )
    assert config.optimizer.name == ["sgd"] and config.loss.l2 == 0.5


RESUME_CONFIG = """
title = "resume"
claims = ["S11"]
[data]
source = "gaussian"
n = 3000
d = 3
test_size = 0.2
[optimizer]
name = ["sgd"]
learning_rate = 0.05
[train]
steps = 3000
chunk_size = 100
batch_size = 64
[metrics]
names = ["accuracy", "roc_auc", "brier"]
[figures]
enabled = false
"""


@pytest.mark.slow(seconds=10)
def test_kill_and_resume_equals_an_uninterrupted_run(tmp_path):
    config = tmp_path / "resume.toml"
    config.write_text(RESUME_CONFIG)
    env = child_env()
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "jaxlogloss", "run", str(config), "--out", str(killed)]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoint = killed / "checkpoints" / "log_loss-sgd.ckpt"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert checkpoint.exists(), "no checkpoint was written"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists(), (
        "the run finished before it was killed"
    )
    (state, _, _), _ = ckpt.load(checkpoint)
    assert 0 < int(state.step) < 3000, "the checkpoint holds a partial run"
    assert main(["run", str(config), "--out", str(killed)]) == 0
    straight = tmp_path / "straight"
    assert main(["run", str(config), "--out", str(straight)]) == 0
    a = json.loads((killed / "metrics.json").read_text())
    b = json.loads((straight / "metrics.json").read_text())
    for runs in (a["runs"], b["runs"]):  # wall-clock times differ; nothing else may
        for run in runs.values():
            run["final"].pop("seconds")
    assert a["runs"] == b["runs"]
    assert a["claims"] == b["claims"]

    def history(folder: Path) -> list[dict]:
        rows = [
            json.loads(x) for x in (folder / "history.jsonl").read_text().splitlines()
        ]
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert history(killed) == history(straight)
