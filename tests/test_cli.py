"""The command line: exit codes 0 / 1 / 2, one line on stderr for a user mistake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import jaxlogloss.model.verification as gc
from jaxlogloss.cli import main

FAST = ["--n", "32", "--d", "2", "--points", "16"]


def test_gradcheck_prints_table_certificate_and_verdict(capsys):
    assert main(["gradcheck", "--loss", "log_loss", *FAST]) == 0
    out = capsys.readouterr().out
    for text in [
        "check",
        "max abs err",
        "max rel err",
        "tolerance",
        "PASS",
        "convexity certificate (log_loss)",
        "ALL CHECKS PASSED",
    ]:
        assert text in out
    assert "FAIL" not in out


def test_gradcheck_json_is_one_object(capsys):
    assert (
        main(["gradcheck", "--loss", "mse", "--dtype", "float32", "--json", *FAST]) == 0
    )
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["passed"] is True
    assert report["witness"]["min_eigenvalue"] < 0
    assert {c["name"].split()[0] for c in report["checks"]} == {"mse"}
    assert report["settings"]["dtype"] == "float32"


def test_gradcheck_exits_1_when_a_check_fails(monkeypatch, capsys):
    real = gc.hessian_unchecked
    monkeypatch.setattr(gc, "hessian_unchecked", lambda *a: real(*a) * 1.1)
    assert main(["gradcheck", "--loss", "log_loss", *FAST]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "SOME CHECKS FAILED" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["gradcheck", "--dtype", "float16x"], "--dtype: invalid choice: 'float16x'"),
        (["gradcheck", "--loss", "hinge"], "--loss: invalid choice"),
        (["gradcheck", "--n", "1"], "--n: expected an integer >= 2, got 1"),
        (["gradcheck", "--d", "x"], "--d: expected an integer, got 'x'"),
        (["gradcheck", "--seed", "-3"], "--seed: expected an integer >= 0"),
        (["gradcheck", "--l2", "nan"], "--l2: expected a finite number >= 0"),
        (["gradcheck", "--n", "5000000", "--d", "10"], "n * d must be at most"),
        (["gradcheck", "--bogus"], "unrecognized arguments: --bogus"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, needle, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert needle in lines[0]
    assert lines[0].startswith("jaxlogloss")


def _console_script() -> list[str]:
    exe = shutil.which("jaxlogloss", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "jaxlogloss"]


@pytest.mark.slow(seconds=7)
def test_console_script_default_gradcheck_float64_passes():
    """The issue's bar: `jaxlogloss gradcheck --dtype float64` exits 0 with everything."""
    proc = subprocess.run(
        [*_console_script(), "gradcheck", "--dtype", "float64"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    for text in [
        "log_loss gradient",
        "mse Hessian",
        "softmax check_grads",
        "convexity certificate (log_loss)",
        "convexity certificate (softmax)",
        "non-convexity witness (mse",
        "ALL CHECKS PASSED",
    ]:
        assert text in proc.stdout


def test_console_script_bad_dtype_is_one_line_no_traceback():
    proc = subprocess.run(
        [*_console_script(), "gradcheck", "--dtype", "float16x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "--dtype" in proc.stderr
