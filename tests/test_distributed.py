"""Data parallelism: rows over devices (a child with 4 CPU devices) and over processes
(two local processes through jax.distributed), equal to the one-device run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import child_env

from jaxlogloss.fitting.fit import fit
from jaxlogloss.model.objective import Problem, objective
from jaxlogloss.model.params import LinearParams
from jaxlogloss.parallel import mesh as dist
from jaxlogloss.precision import enable_x64

SCRIPT = Path(__file__).parent / "scripts" / "sharded_run.py"
N, D = 203, 5  # 203 rows: padding on 2 and 4 devices


def _child_env(devices: int) -> dict[str, str]:
    env = child_env(devices)
    for var in (dist.ENV_COORDINATOR, dist.ENV_NUM_PROCESSES, dist.ENV_PROCESS_ID):
        env.pop(var, None)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1, proc.stdout  # only process 0 prints
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def reference() -> dict:
    """The one-device run of the same script, in a child with one device."""
    return _run([sys.executable, str(SCRIPT), str(N), str(D)], _child_env(1))


def _check_equal(got: dict, ref: dict) -> None:
    assert got["n"] == ref["n"] == N
    np.testing.assert_allclose(got["grad"], ref["grad"], rtol=1e-12, atol=1e-13)
    for solver in ("newton", "lbfgs", "adam"):
        a, b = got[solver], ref[solver]
        assert a["status"] == b["status"] and a["n_samples"] == N
        assert a["n_iter"] == b["n_iter"]
        np.testing.assert_allclose(a["coef"], b["coef"], rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(a["std_err"], b["std_err"], rtol=1e-9)
    for key in ("train_None", "train_16"):  # float32, minibatches in the same order
        a, b = got[key], ref[key]
        np.testing.assert_allclose(a["params"], b["params"], rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(a["step_losses"], b["step_losses"], rtol=2e-5)
        assert abs(a["roc_auc"] - b["roc_auc"]) < 1e-6


@pytest.mark.slow(seconds=15)
@pytest.mark.parametrize("devices", [2, 4])
def test_rows_over_devices_equal_one_device(devices: int, reference: dict) -> None:
    got = _run([sys.executable, str(SCRIPT), str(N), str(D)], _child_env(devices))
    assert got["devices"] == devices and got["processes"] == 1
    assert reference["devices"] == 1
    _check_equal(got, reference)


@pytest.mark.slow(seconds=25)
def test_two_processes_equal_one_process(reference: dict) -> None:
    cmd = [sys.executable, "-m", "jaxlogloss", "launch", "--local", "2",
           "--timeout", "500", "--", sys.executable, str(SCRIPT), str(N), str(D)]  # fmt: skip
    got = _run(cmd, _child_env(1))
    assert got["processes"] == 2 and got["devices"] == 2
    _check_equal(got, reference)


# ---------------------------------------------------------------- in this process


def test_one_device_mesh_pads_nothing_and_matches() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    y = (rng.random(40) < 0.5).astype(np.float64)
    mesh = dist.data_mesh(jax.devices()[:1])
    with enable_x64():
        problem = Problem(jnp.asarray(X), jnp.asarray(y), None, 0.0)
        sharded, rows, n = dist.shard_problem(problem, mesh)
        assert n == 40 and sharded.targets.shape == (40,)
        np.testing.assert_array_equal(np.asarray(rows), np.arange(40))
        np.testing.assert_array_equal(np.asarray(sharded.sample_weight), np.ones(40))
        p = LinearParams(jnp.ones(3), jnp.asarray(0.5))
        g0 = jax.grad(objective)(p, *problem)
        g1 = jax.grad(objective)(p, *sharded)
        np.testing.assert_allclose(g1.w, g0.w, rtol=1e-14)
    a = fit(X, y)
    b = fit(X, y, mesh=mesh)
    np.testing.assert_allclose(b.coef, a.coef, rtol=1e-12)


def test_padded_slice_pads_only_the_tail() -> None:
    a = np.arange(10.0).reshape(2, 5)
    got = dist._padded_slice(a, 1, (slice(None), slice(4, 8)), 8)
    np.testing.assert_array_equal(got, [[4, 0, 0, 0], [9, 0, 0, 0]])
    got = dist._padded_slice(a[0], 0, (slice(6, 8),), 8)
    np.testing.assert_array_equal(got, [0, 0])
    got = dist._padded_slice(a[0], 0, (slice(None),), 5)
    np.testing.assert_array_equal(got, a[0])
    got = dist._padded_slice(a[0], 0, (slice(None),), 6)
    np.testing.assert_array_equal(got, [0, 1, 2, 3, 4, 0])


@pytest.mark.parametrize("n,p", [(10, 3), (7, 7), (5, 8), (1000, 4)])
def test_process_row_ranges_cover_the_rows_once(n: int, p: int) -> None:
    ranges = [dist.process_row_range(n, p, i) for i in range(p)]
    covered = np.concatenate([np.arange(a, b) for a, b in ranges])
    np.testing.assert_array_equal(covered, np.arange(n))


def test_process_settings_from_flags_and_environment() -> None:
    assert dist.process_settings(environ={}) is None
    assert dist.process_settings("h:1234", 3, 2, environ={}) == ("h:1234", 3, 2)
    env = {
        dist.ENV_COORDINATOR: "10.0.0.1:7777",
        dist.ENV_NUM_PROCESSES: "4",
        dist.ENV_PROCESS_ID: "1",
    }
    assert dist.process_settings(environ=env) == ("10.0.0.1:7777", 4, 1)
    assert dist.process_settings(process_id=3, environ=env) == ("10.0.0.1:7777", 4, 3)


@pytest.mark.parametrize(
    "args,match",
    [
        ((None, 2, 0), "--coordinator"),
        (("nohost", 2, 0), "HOST:PORT"),
        (("h:99999", 2, 0), "HOST:PORT"),
        (("h:1", None, 0), "--num-processes"),
        (("h:1", 0, 0), "--num-processes"),
        (("h:1", 2, None), "--process-id"),
        (("h:1", 2, 2), r"--process-id .* 0\.\.1"),
    ],
)
def test_process_settings_errors_name_the_flag(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dist.process_settings(*args, environ={})


def test_bad_mesh_argument_is_named() -> None:
    X = np.random.default_rng(0).standard_normal((20, 2))
    y = (np.arange(20) % 2).astype(float)
    with pytest.raises(TypeError, match="fit: mesh must be a jax.sharding.Mesh"):
        fit(X, y, mesh="all")
    bad = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("rows",))
    with pytest.raises(ValueError, match="axis named 'data'"):
        fit(X, y, mesh=bad)


@pytest.mark.slow(seconds=25)
def test_run_over_two_processes_writes_once_and_passes(tmp_path: Path) -> None:
    config = Path(__file__).parents[1] / "experiments" / "07_optimizer_comparison.toml"
    cmd = [sys.executable, "-m", "jaxlogloss", "launch", "--local", "2",
           "--timeout", "500", "--", "jaxlogloss", "run", str(config), "--quick",
           "--out", str(tmp_path / "out")]  # fmt: skip
    proc = subprocess.run(
        cmd, env=_child_env(1), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == str(tmp_path / "out" / "report.md")  # process 0 only
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["complete"]
    assert "FAIL" not in (tmp_path / "out" / "report.md").read_text()
