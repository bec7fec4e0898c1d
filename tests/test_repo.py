"""The README stays true: its commands match CI, its examples run, the benchmark runs."""

from __future__ import annotations

import contextlib
import io
import math
import pathlib
import re
import shlex
import shutil
import sys

import pytest

from jaxlogloss.cli.main import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start : end if end > 0 else None]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_code_fences_pair_up():
    """Every ``` block closes before the next heading (an unclosed one swallows it)."""
    inside, opened = False, 0
    for number, line in enumerate(README.splitlines(), 1):
        if line.startswith("```"):
            inside, opened = not inside, number
        assert not (inside and line.startswith("## ")), f"line {opened}: unclosed ```"
    assert not inside, f"line {opened}: unclosed ```"


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one():
    commands = [b.strip() for b in blocks(section("Quickstart"), "bash")]
    assert len(commands) == 2
    main_job, test_command = commands
    assert "pip install -e ." in main_job
    assert "jaxlogloss run experiments/ --out results/" in main_job
    assert "pytest" in test_command and ".[test]" in test_command
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert test_command in ci, ".ci/run must run the README's test command verbatim"


# README commands that a dedicated test runs verbatim (each the only one of its kind):
# `jaxlogloss bench --quick ...` in tests/test_bench.py, which checks its output.
RUN_ELSEWHERE = ("bench",)


@pytest.mark.slow(seconds=170)
def test_readme_examples_run_in_order(tmp_path, monkeypatch):
    """Every python block, then every documented `jaxlogloss` command line (but those
    of RUN_ELSEWHERE), in a tmp dir."""
    # the commands run from the repository root
    shutil.copytree(ROOT / "experiments", tmp_path / "experiments")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JAXLOGLOSS_CACHE_DIR", "off")
    for index, code in enumerate(blocks(README, "python")):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"README.md python block {index}", "exec"), {})
        assert out.getvalue().strip(), f"python block {index} prints nothing"
    commands = [
        line.strip()
        for block in blocks(README, "bash")
        for line in block.splitlines()
        if line.strip().startswith(".venv/bin/jaxlogloss ")
    ]
    assert len(commands) >= 6
    for line in commands:
        argv = shlex.split(line)[1:]
        if argv[0] in RUN_ELSEWHERE:
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(argv) == 0, line


def test_readme_error_examples_print_one_clear_line_each():
    code = blocks(section("The API"), "python")[-1]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(
        "ValueError log_loss: y has shape (3,) but p has shape (2,)"
    )
    assert lines[-1].startswith("TypeError log_loss: p must have a floating dtype")


def test_gradient_benchmark_runs_and_reports_finite_ratios(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import grad_step
    finally:
        sys.path.pop(0)
    result = grad_step.main(
        [
            "--n",
            "4000",
            "--d",
            "8",
            "--repeats",
            "3",
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    assert (tmp_path / "r.json").exists()
    names = [row["name"] for row in result["gradients"]]
    assert (
        "numpy closed form (peer)" in names
        and "jaxlogloss jax.grad, feature-major X" in names
    )
    for row in result["gradients"]:
        for key in ["ms", "numpy_ratio", "floor_ratio", "gb_per_s"]:
            assert math.isfinite(row[key]) and row[key] > 0


def test_speed_goals_table_runs_on_tiny_sizes(tmp_path):
    """benchmarks/speed_goals.py: the in-process rows and the streamed fit's memory
    measure, each with a finite ratio and a verdict that follows it; an unknown part
    is refused."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import speed_goals
    finally:
        sys.path.pop(0)
    out = tmp_path / "goals.md"
    rows = speed_goals.main(
        ["--n", "4000", "--d", "8", "--repeats", "3", "--sweep-runs", "3",
         "--parts", "step,sweep,gpu,stream", "--markdown", str(out)]
    )  # fmt: skip
    parts = [r["part"] for r in rows]
    assert {"1", "4", "7", "8"} <= set(parts)
    for r in rows:
        if r["part"] == "8":
            assert r["verdict"] == "n/a"
            continue
        assert math.isfinite(r["ratio"]) and r["ratio"] > 0
        assert r["verdict"] in ("met", "missed")
    row_major = next(r for r in rows if "feature-major" in r["goal"])
    assert (row_major["verdict"] == "met") == (row_major["ratio"] <= 1.2)
    stream = next(r for r in rows if r["part"] == "4")
    assert "1,000 and 4,000 rows" in stream["what"]
    assert (stream["verdict"] == "met") == (stream["ratio"] <= 1.2)
    table = out.read_text().splitlines()
    assert table[0].startswith("| part | what |") and len(table) == len(rows) + 2
    with pytest.raises(SystemExit):
        speed_goals.main(["--parts", "step,nonsense"])


def test_fit_benchmark_runs_on_tiny_sizes(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import fit_speed
    finally:
        sys.path.pop(0)
    result = fit_speed.main(
        ["--n", "3000", "--d", "5", "--sweep-runs", "4", "--parts", "fit,sweep"]
    )
    for row in result["fit"]["solvers"].values():
        assert math.isfinite(row["seconds"]) and row["seconds"] > 0
        assert math.isfinite(row["speedup_vs_fastest_sklearn"])
    for row in result["sweep"]["results"].values():
        assert row["speedup_vs_sklearn_sequential"] > 0
