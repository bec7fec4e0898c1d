"""Out-of-core fits: a data set written as many files, streamed in batches far smaller
than it, gives the in-memory fit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import child_env

from jaxlogloss.cli.main import main
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.data.stream import open_stream
from jaxlogloss.data.table import read_table
from jaxlogloss.fitting import fit_stream
from jaxlogloss.fitting.fit import fit
from jaxlogloss.model.objective import objective
from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.scaling import to_raw
from jaxlogloss.precision import enable_x64

N = 1500


def _frame(seed: int, n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n) * 100 + 1000  # badly scaled next to b
    b = rng.standard_normal(n) * 0.01
    colour = rng.choice(np.array(["red", "green", "blue"]), n)
    z = 0.02 * (a - 1000) - 80 * b + (colour == "red") * 0.8 - 0.3
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), "buy", "skip")
    w = rng.integers(1, 4, n).astype(np.float64)
    return {"a": a, "b": b, "colour": colour, "y": y, "w": w}


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data set as 9 Parquet files of uneven sizes with small row groups."""
    folder = tmp_path_factory.mktemp("stream") / "parts"
    folder.mkdir()
    frame = _frame(11)
    cuts = [0, 90, 400, 401, 700, 950, 1111, 1300, 1470, N]
    for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        table = pa.table({k: v[lo:hi] for k, v in frame.items()})
        pq.write_table(table, folder / f"part-{i:02d}.parquet", row_group_size=64)
    return folder


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("l2", [0.0, 0.01])
@pytest.mark.parametrize("weights", [None, "w"])
def test_streamed_fit_equals_in_memory_fit(many_files, solver, l2, weights) -> None:
    data = read_table(many_files, target="y", weights=weights, dtype="float64")
    ref = fit(data, solver=solver, l2=l2)
    stream = open_stream(
        many_files, target="y", weights=weights, dtype="float64", batch_rows=50
    )
    got = fit_stream(stream, solver=solver, l2=l2)
    assert got.status == ref.status == "converged"
    assert got.feature_names == ref.feature_names
    assert got.n_samples == N
    np.testing.assert_allclose(got.coef, ref.coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got.intercept, ref.intercept, rtol=1e-8)
    np.testing.assert_allclose(got.inference.std_err, ref.inference.std_err, rtol=1e-8)
    np.testing.assert_allclose(got.log_loss, ref.log_loss, rtol=1e-12)
    assert abs(got.n_iter - ref.n_iter) <= 1


def test_streamed_float32_fit_is_close(many_files) -> None:
    ref = fit(read_table(many_files, target="y", dtype="float64"))
    stream = open_stream(many_files, target="y", dtype="float32", batch_rows=128)
    got = fit_stream(stream, solver="newton")
    assert got.converged
    np.testing.assert_allclose(got.coef, ref.coef, rtol=2e-3, atol=1e-3)


def test_first_order_stream_takes_one_step_per_batch(many_files) -> None:
    """adam on the stream == adam replayed in memory on the same batches in order."""
    rows, steps = 64, 60
    stream = open_stream(many_files, target="y", dtype="float64", batch_rows=rows)
    got = fit_stream(stream, solver="adam", max_iter=steps, learning_rate=0.05)
    assert got.n_iter == steps and len(got.loss_history) == steps
    data = read_table(many_files, target="y", dtype="float64")
    with enable_x64():
        from jaxlogloss.model.streamed import BatchSource, stream_scaling

        scaling = stream_scaling(BatchSource(stream, 0, N, rows), 0.0, np.float64)
        opt = optax.adam(0.05)
        params = LinearParams(jnp.zeros(data.n_features), jnp.zeros(()))
        state = opt.init(params)
        losses = []
        per_epoch = -(-N // rows)
        for k in range(steps):
            lo = (k % per_epoch) * rows
            hi = min(N, lo + rows)
            pad = rows - (hi - lo)
            xt = np.pad(data.xt[:, lo:hi], ((0, 0), (0, pad)))
            y = np.pad(data.y[lo:hi], (0, pad))
            c = np.pad(np.ones(hi - lo), (0, pad))

            def batch_loss(p, xt=xt, y=y, c=c):
                return objective(to_raw(p, scaling), FeatureMajor(xt), y, c, 0.0)

            value, grads = jax.value_and_grad(batch_loss)(params)
            updates, state = opt.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            losses.append(float(value))
        np.testing.assert_allclose(got.loss_history, losses, rtol=1e-10)
        raw = got.coef
        want = to_raw(params, scaling)
        np.testing.assert_allclose(raw, np.asarray(want.w), rtol=1e-9, atol=1e-12)


def test_separable_stream_reports_separation(tmp_path: Path) -> None:
    x = np.linspace(-3, 3, 200)
    pq.write_table(pa.table({"x": x, "y": (x > 0.1).astype(int)}), tmp_path / "s.pq")
    got = fit_stream(open_stream(tmp_path / "s.pq", target="y", batch_rows=16))
    assert got.status == "separation" and not got.converged
    assert any("separable" in w for w in got.warnings)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"solver": "irls"}, "solver must be one of"),
        ({"batch_rows": 0}, "batch_rows must be an integer >= 1"),
        ({"row_range": (5, 2)}, "row_range must satisfy"),
        ({"l2": -1.0}, "l2 must be a finite number"),
        ({"max_iter": 0}, "max_iter must be an integer >= 1"),
    ],
)
def test_fit_stream_errors_name_the_argument(many_files, kwargs, match) -> None:
    stream = open_stream(many_files, target="y", batch_rows=100)
    with pytest.raises(ValueError, match=f"fit_stream: {match}"):
        fit_stream(stream, **kwargs)


def test_cli_stream_equals_in_memory(many_files, capsys) -> None:
    assert main(["fit", str(many_files), "--target", "y", "--json"]) == 0
    ref = json.loads(capsys.readouterr().out)
    args = ["fit", str(many_files), "--target", "y", "--json", "--stream"]
    assert main([*args, "--batch-rows", "100"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["converged"] and got["n_samples"] == N
    for name, value in ref["coef"].items():
        assert got["coef"][name] == pytest.approx(value, rel=1e-8)
    assert main(["fit", "builtin:jackets", "--stream"]) == 2
    assert "--stream" in capsys.readouterr().err


@pytest.mark.slow(seconds=20)
def test_stream_over_two_processes_equals_one(many_files) -> None:
    env = child_env(1)
    fit_args = ["fit", str(many_files), "--target", "y", "--weights", "w", "--json",
                "--stream", "--batch-rows", "70", "--solver", "lbfgs"]  # fmt: skip
    cmd = [sys.executable, "-m", "jaxlogloss", "launch", "--local", "2",
           "--timeout", "300", "--", "jaxlogloss", *fit_args]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    stream = open_stream(
        many_files, target="y", weights="w", dtype="float64", batch_rows=70
    )
    one = fit_stream(stream, solver="lbfgs")  # the same passes in one process
    assert got["n_samples"] == N and got["converged"] and got["n_iter"] == one.n_iter
    for name, value in zip(one.feature_names, one.coef, strict=True):
        assert got["coef"][name] == pytest.approx(value, rel=1e-9)
        assert got["std_err"][name] == pytest.approx(
            one.inference.std_err[1 + one.feature_names.index(name)], rel=1e-9
        )
    # and the in-memory fit, to far below a standard error (L-BFGS stops anywhere
    # within its tolerance; summation order moves the stopping point a little)
    ref = fit(read_table(many_files, target="y", weights="w"), solver="lbfgs")
    se = dict(zip(ref.inference.names, ref.inference.std_err, strict=True))
    for name, value in zip(ref.feature_names, ref.coef, strict=True):
        assert abs(got["coef"][name] - value) < 1e-5 * se[name]
    assert jax.process_count() == 1
