"""`jaxlogloss bench --quick`: the JSON schema and finite positive ratios (no timings)."""

from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import re
import shlex

import pytest

from jaxlogloss.bench import parse_sizes
from jaxlogloss.bench.run import QUICK_SIZES
from jaxlogloss.cli import main

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()


def readme_bench_command() -> list[str]:
    """The README's one `jaxlogloss bench` example, as argv (tests/test_repo.py leaves
    it to this file: the quick benchmark is the suite's longest single command)."""
    lines = [
        line.strip()
        for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)
        for line in block.splitlines()
        if line.strip().startswith(".venv/bin/jaxlogloss bench ")
    ]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])[1:]


def ratios(obj, path=""):
    """Every (path, value) whose key ends in _ratio or is 'speedup'."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{path}.{k}"
            if k.endswith("_ratio") or k == "speedup":
                yield p, v
            else:
                yield from ratios(v, p)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from ratios(v, f"{path}[{i}]")


@pytest.mark.slow(seconds=90)
def test_readme_quick_bench_schema_and_ratios(tmp_path, monkeypatch, capsys):
    """The README's example verbatim (in a temporary directory): its JSON and plot."""
    monkeypatch.setenv("JAXLOGLOSS_CACHE_DIR", "off")
    monkeypatch.chdir(tmp_path)
    argv = readme_bench_command()
    assert argv[:2] == ["bench", "--quick"]
    out = tmp_path / argv[argv.index("--json") + 1]
    fig = tmp_path / argv[argv.index("--plot") + 1]
    assert main(argv) == 0
    assert fig.stat().st_size > 1000
    r = json.loads(out.read_text())
    assert set(r) >= {
        "device",
        "versions",
        "dtype",
        "sizes",
        "ceiling",
        "grad",
        "fit",
        "sweep",
        "penalised",
        "memory",
    }
    assert r["device"]["platform"] == "cpu" and r["versions"]["jax"]
    assert r["sizes"] == [list(size) for size in QUICK_SIZES]
    assert r["ceiling"]["gb_per_s"] > 0
    for g in r["grad"]:
        assert {
            "jaxlogloss jax.grad, feature-major",
            "jaxlogloss closed form, feature-major",
            "numpy closed form",
        } <= set(g["paths"])
        for p in g["paths"].values():
            assert {
                "ms",
                "gb_per_s",
                "ceiling_fraction_ratio",
                "floor_ratio",
                "one_pass_ratio",
            } <= set(p)
    solvers = r["fit"]["solvers"]
    assert {
        "jaxlogloss lbfgs",
        "jaxlogloss newton",
        "jaxlogloss adam",
        "numpy gradient descent",
    } <= set(solvers)
    for s in solvers.values():
        assert isinstance(s["comparable"], bool) and s["log_loss"] > 0
    assert solvers["jaxlogloss newton"]["comparable"]
    found = list(ratios(r))
    assert len(found) >= 20
    for where, value in found:
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, (
            where
        )
    pen = r["penalised"]
    assert pen["l1_path"]["ours"]["max_kkt"] < 1e-6
    for name in ("skglm", "glmnet", "sklearn saga"):
        if name in pen["l1_path"]:  # ours reaches the peer's objective to 1e-8
            assert pen["l1_path"][name]["max_objective_gap"] <= 1e-8
    if importlib.util.find_spec("glmnet") is not None:  # the test extra has it
        assert pen["cv_l1"]["glmnet cv"]["speedup_ratio"] > 0
    text = capsys.readouterr().out
    assert "memory ceiling" in text and "time to the optimum" in text
    assert "penalised (2,000 x 8 float64" in text


def test_bench_flags_reach_run_bench(tmp_path, monkeypatch):
    import jaxlogloss.bench

    seen = []
    monkeypatch.setattr(
        jaxlogloss.bench, "run_bench", lambda *args: seen.append(args) or {"ok": 1}
    )
    out = tmp_path / "r.json"
    argv = ["bench", "--sizes", "1500x8,3000x8", "--dtype", "float64", "--quick"]
    assert main([*argv, "--json", str(out)]) == 0
    assert seen == [("cpu", [(1500, 8), (3000, 8)], "float64", True)]
    assert json.loads(out.read_text()) == {"ok": 1}


def test_bad_bench_arguments(capsys):
    assert main(["bench", "--sizes", "100by10"]) == 2
    assert "--sizes: expected NxD pairs" in capsys.readouterr().err
    assert main(["bench", "--sizes", "1x10"]) == 2
    assert "needs N >= 2" in capsys.readouterr().err
    assert main(["bench", "--device", "tpu"]) == 2
    assert "--device: invalid choice" in capsys.readouterr().err
    assert main(["bench", "--device", "gpu", "--quick"]) == 2
    assert "no GPU is visible to JAX" in capsys.readouterr().err
    assert parse_sizes("10x2,20X3") == [(10, 2), (20, 3)]
