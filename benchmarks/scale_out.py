"""Scale-out benchmark: strong scaling over devices and processes, and the streaming
(out-of-core) fit against the in-memory fit.

    .venv/bin/python benchmarks/scale_out.py [--n 1000000] [--d 100] [--stream-n 2000000]

Strong scaling: the same problem (n x d float32, rows split over the "data" mesh axis)
timed in child processes with 1, 2 and 4 CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count) and with 2 processes of 1 device
(``jaxlogloss launch --local 2``): the full-batch value-and-gradient step (median of
20) and an L-BFGS fit to tol 1e-5 (compiled beforehand). Streaming: a Parquet data set
of ``--stream-n`` rows in 16 files; ``fit_stream`` (batch 65,536 rows) against
``read_table`` + ``fit``, wall time and peak resident memory, each in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from jaxlogloss.parallel import mesh as dist
    s = dist.process_settings()
    if s is not None:
        dist.initialize(*s)
    import jax, jax.numpy as jnp
    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.fitting.fit import fit
    from jaxlogloss.model.params import LinearParams
    from jaxlogloss.model.objective import Problem, objective
    n, d = int(sys.argv[1]), int(sys.argv[2])
    P, i = jax.process_count(), jax.process_index()
    lo, hi = dist.process_row_range(n, P, i)
    rng = np.random.default_rng(0)
    xt = rng.standard_normal((d, n), dtype=np.float32)[:, lo:hi].copy()
    y = (rng.random(n) < 0.5).astype(np.float32)[lo:hi]
    mesh = dist.data_mesh()
    prob, _, _ = dist.shard_problem(
        Problem(FeatureMajor(xt), y, None, np.float32(0)), mesh, process_local=P > 1)
    step = jax.jit(jax.value_and_grad(objective))
    p = LinearParams(jnp.full((d,), 0.01, jnp.float32), jnp.float32(0))
    jax.block_until_ready(step(p, *prob))
    times = []
    for _ in range(20):
        t = time.perf_counter(); jax.block_until_ready(step(p, *prob))
        times.append(time.perf_counter() - t)
    fit(FeatureMajor(xt), y, solver="lbfgs", dtype="float32", mesh=mesh,
        process_local=P > 1, max_iter=3)  # compile
    t = time.perf_counter()
    r = fit(FeatureMajor(xt), y, solver="lbfgs", dtype="float32", mesh=mesh,
            process_local=P > 1)
    fit_s = time.perf_counter() - t
    if i == 0:
        print(json.dumps({"devices": jax.device_count(), "processes": P,
                          "grad_ms": 1e3 * float(np.median(times)), "fit_s": fit_s,
                          "fit_inner_s": r.seconds, "iters": r.n_iter}))
    """
)

STREAM_CHILD = textwrap.dedent(
    """
    import json, sys, threading, time
    def rss():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    import jax.numpy as jnp
    jnp.zeros(1).block_until_ready()
    from jaxlogloss.data.table import read_table
    from jaxlogloss.fitting.fit import fit
    from jaxlogloss.data.stream import open_stream
    from jaxlogloss.fitting import fit_stream
    path, mode, solver = sys.argv[1], sys.argv[2], sys.argv[3]
    base = rss(); peak = [base]; running = [True]
    def sample():
        while running[0]:
            peak[0] = max(peak[0], rss()); time.sleep(0.005)
    threading.Thread(target=sample, daemon=True).start()
    t = time.perf_counter()
    try:
        if mode == "memory":
            r = fit(read_table(path, target="y", dtype="float32"), solver=solver,
                    dtype="float32")
        else:
            s = open_stream(path, target="y", dtype="float32", batch_rows=65536)
            r = fit_stream(s, solver=solver)
    finally:
        running[0] = False
    wall = time.perf_counter() - t
    import pyarrow as pa
    pool = pa.default_memory_pool()
    print(json.dumps({"mode": mode, "solver": solver, "wall_s": wall,
                      "peak_extra_mb": peak[0] - base, "iters": r.n_iter,
                      "status": r.status, "coef0": float(r.coef[0]),
                      "arrow_pool": pool.backend_name,
                      "arrow_pool_peak_mb": pool.max_memory() / 2**20,
                      "arrow_pool_end_mb": pool.bytes_allocated() / 2**20}))
    """
)


def _child(cmd: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][0])


def scaling(n: int, d: int) -> list[dict]:
    env = dict(os.environ, JAXLOGLOSS_CACHE_DIR="off")
    out = []
    for devices in (1, 2, 4):
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
        out.append(_child([sys.executable, "-c", CHILD, str(n), str(d)], env))
        print(out[-1], flush=True)
    env.pop("XLA_FLAGS")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(CHILD)
    launch = [sys.executable, "-m", "jaxlogloss", "launch", "--local", "2", "--",
              sys.executable, f.name, str(n), str(d)]  # fmt: skip
    out.append(_child(launch, env))
    print(out[-1], flush=True)
    os.unlink(f.name)
    return out


def write_parts(folder: str, rows: int, d: int, files: int) -> None:
    """``files`` Parquet files of ``rows`` rows each in ``folder``: float32 columns
    x0..x{d-1}, an int8 target y from a logistic model (fixed seed: every file of a
    given size holds the same rows)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    beta = np.linspace(-1, 1, d)
    for k in range(files):
        X = rng.standard_normal((rows, d), dtype=np.float32)
        y = (rng.random(rows) < 1 / (1 + np.exp(-(X @ beta)))).astype(np.int8)
        cols = {f"x{j}": X[:, j] for j in range(d)}
        cols["y"] = y
        pq.write_table(pa.table(cols), os.path.join(folder, f"part-{k:02d}.parquet"))


def fit_peak(folder: str, mode: str, solver: str) -> dict:
    """A fresh process fits the files in ``folder`` in memory (``mode="memory"``) or
    streamed (``"stream"``, batches of 65,536 rows), cache off: wall seconds, peak RSS
    above the process after its imports (sampled every 5 ms) and Arrow's default
    memory pool's peak."""
    env = dict(os.environ, JAXLOGLOSS_CACHE_DIR="off")
    return _child([sys.executable, "-c", STREAM_CHILD, folder, mode, solver], env)


def streaming(n: int, d: int, folder: str) -> list[dict]:
    files = 16
    per = n // files
    write_parts(folder, per, d, files)
    out = []
    for solver in ("newton", "lbfgs"):
        for mode in ("memory", "stream"):
            out.append(fit_peak(folder, mode, solver))
            out[-1].update(rows=per * files, d=d, data_mb=per * files * d * 4 / 1e6)
            print(out[-1], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--stream-n", type=int, default=2_000_000)
    parser.add_argument("--stream-d", type=int, default=50)
    parser.add_argument("--parts", default="scaling,streaming")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results: dict = {}
    if "scaling" in args.parts:
        results["scaling"] = scaling(args.n, args.d)
        base = results["scaling"][0]
        print(
            f"\nstrong scaling, {args.n:,} x {args.d} float32 ({os.cpu_count()} cores)"
        )
        print("devices processes  grad step ms  speedup   L-BFGS fit s  speedup")
        for r in results["scaling"]:
            print(f"{r['devices']:>7} {r['processes']:>9} {r['grad_ms']:>13.1f} "
                  f"{base['grad_ms'] / r['grad_ms']:>8.2f}x {r['fit_s']:>13.3f} "
                  f"{base['fit_s'] / r['fit_s']:>7.2f}x")  # fmt: skip
    if "streaming" in args.parts:
        with tempfile.TemporaryDirectory() as folder:
            results["streaming"] = streaming(args.stream_n, args.stream_d, folder)
        print(f"\nstreaming vs in memory, {args.stream_n:,} x {args.stream_d} float32")
        print("solver  mode     wall s   rows/s (whole fit)  peak extra MB  iters")
        for r in results["streaming"]:
            print(f"{r['solver']:<7} {r['mode']:<7} {r['wall_s']:>7.2f} "
                  f"{r['rows'] / r['wall_s']:>18,.0f} {r['peak_extra_mb']:>14.0f} "
                  f"{r['iters']:>6}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
