"""Benchmark: time to the optimum, whole-process CLI fits, sweeps, peak memory.

    python benchmarks/fit_speed.py [--n 1000000] [--d 100] [--sweep-runs 256]
                                   [--parts fit,whole,cli,sweep,memory] [--json FILE]

Measured side by side in one run (ratios are what to read; the machine is shared):

* ``fit``: time to the optimum on n x d float32 (standard-normal X, labels from a
  logistic model) for jaxlogloss's L-BFGS and Newton (compiled: second call; and the
  first call, compilation included) against scikit-learn's ``lbfgs`` and
  ``newton-cholesky``. Every solver must reach a mean log-loss within 1e-7 relative of the
  best one, else it is marked not comparable.
* ``whole``: the user's whole call, ``jl.fit(X, y, dtype="float32")`` on the NumPy
  array (L-BFGS and Newton, inference included) against PyTorch's L-BFGS on the same
  arrays, alternating rounds in one process; the ratio column is PyTorch's time divided
  by ours (issue 11, part 2: >= 1.5x).
* ``cli``: ``jaxlogloss fit FILE.parquet --target y --dtype float32 --json`` as a whole
  process (cold and warm XLA compilation cache) against a Python script that reads the
  same file with pyarrow and fits with scikit-learn's fastest solver.
* ``sweep``: an L2 path of ``--sweep-runs`` strengths fitted in one vmapped call
  (jaxlogloss L-BFGS and Newton) against as many sequential scikit-learn fits.
* ``memory``: peak resident memory (sampled every 2 ms) of a process while it fits X,
  minus its memory before X existed, as a multiple of the bytes of X (X itself counts
  as 1x; XLA's compilation of the solver, ~0.2 GB, counts too).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Any

import numpy as np

from jaxlogloss import bench as jl_bench
from jaxlogloss.bench import make_data, mean_log_loss, timed

HERE = os.path.dirname(os.path.abspath(__file__))


def bench_fit(X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    import jax.numpy as jnp
    from sklearn.linear_model import LogisticRegression

    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.fitting import fit

    rows: dict[str, dict[str, Any]] = {}
    # the layout the framework hands its compiled functions (built once, as fit does)
    t_layout, design = timed(
        lambda: FeatureMajor(jnp.asarray(np.ascontiguousarray(X.T)))
    )
    for solver in ["lbfgs", "newton"]:
        first, r = timed(lambda s=solver: fit(design, y, solver=s, dtype="float32"))
        second, r = timed(lambda s=solver: fit(design, y, solver=s, dtype="float32"))
        rows[f"jaxlogloss {solver}"] = dict(
            seconds=r.seconds, first_call_seconds=first, whole_fit_seconds=second,
            iterations=r.n_iter, status=r.status,
            log_loss=mean_log_loss(X, y, r.coef, r.intercept),
        )  # fmt: skip
    for solver in ["lbfgs", "newton-cholesky"]:
        model = LogisticRegression(C=np.inf, solver=solver, tol=1e-8, max_iter=1000)
        seconds, _ = timed(lambda m=model: m.fit(X, y))
        rows[f"sklearn {solver}"] = dict(
            seconds=seconds, iterations=int(model.n_iter_[0]), status="done",
            log_loss=mean_log_loss(X, y, model.coef_[0], float(model.intercept_[0])),
        )  # fmt: skip
    best = min(r["log_loss"] for r in rows.values())
    for r in rows.values():
        r["comparable"] = bool(r["log_loss"] <= best * (1 + 1e-7))
    peers = [
        r["seconds"]
        for k, r in rows.items()
        if k.startswith("sklearn") and r["comparable"]
    ]
    fastest_peer = min(peers) if peers else float("nan")
    for name, r in rows.items():
        r["speedup_vs_fastest_sklearn"] = fastest_peer / r["seconds"]
        if name.startswith("jaxlogloss"):
            r["speedup_with_compile"] = fastest_peer / r["first_call_seconds"]
    return dict(layout_seconds=t_layout, best_log_loss=best, solvers=rows)


def bench_whole(X: np.ndarray, y: np.ndarray, rounds: int = 3) -> dict[str, Any]:
    """The user's whole call, ``jl.fit(X, y, solver=..., dtype="float32")`` on the
    NumPy array (layout, checks, scaling, solver, inference), against PyTorch's L-BFGS
    on the same arrays (``torch.from_numpy``; its optimizer step timed, nothing
    around it). One first call each, then ``rounds`` rounds alternating all three;
    the best of each, and every time."""
    import torch

    import jaxlogloss as jl
    from jaxlogloss.bench.peers import torch_lbfgs

    def ours(solver: str) -> Any:
        def call() -> dict[str, Any]:
            seconds, r = timed(lambda: jl.fit(X, y, solver=solver, dtype="float32"))
            loss = mean_log_loss(X, y, r.coef, r.intercept)
            return dict(seconds=seconds, iterations=r.n_iter, log_loss=loss)

        return call

    runs = {
        "jaxlogloss lbfgs, whole call": ours("lbfgs"),
        "jaxlogloss newton, whole call": ours("newton"),
        "pytorch lbfgs": lambda: torch_lbfgs(torch, X, y, "cpu"),
    }
    rows = {k: dict(first_call_seconds=f()["seconds"], all=[]) for k, f in runs.items()}
    for _ in range(rounds):
        for k, f in runs.items():
            r = f()
            rows[k]["all"].append(r["seconds"])
            rows[k].update(iterations=r["iterations"], log_loss=r["log_loss"])
    peer = min(rows["pytorch lbfgs"]["all"])
    best = min(r["log_loss"] for r in rows.values())
    for r in rows.values():
        r["seconds"] = min(r["all"])
        r["pytorch_over_this"] = peer / r["seconds"]
        r["log_loss_gap"] = r["log_loss"] / best - 1
    return rows


SKLEARN_SCRIPT = textwrap.dedent(
    """
    import sys, json, numpy as np, pyarrow.parquet as pq
    from sklearn.linear_model import LogisticRegression
    table = pq.read_table(sys.argv[1])
    y = table.column("y").to_numpy()
    X = np.column_stack([table.column(c).to_numpy() for c in table.column_names if c != "y"])
    m = LogisticRegression(C=np.inf, solver=sys.argv[2], tol=1e-8, max_iter=1000).fit(X, y)
    print(json.dumps({"intercept": float(m.intercept_[0]), "n_iter": int(m.n_iter_[0])}))
    """
)


def bench_cli(X: np.ndarray, y: np.ndarray, sklearn_solver: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    exe = os.path.join(os.path.dirname(sys.executable), "jaxlogloss")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.parquet")
        columns = {f"x{j}": X[:, j] for j in range(X.shape[1])}
        columns["y"] = y
        pq.write_table(pa.table(columns), path)
        script = os.path.join(tmp, "fit_sklearn.py")
        with open(script, "w") as f:
            f.write(SKLEARN_SCRIPT)
        cache = os.path.join(tmp, "xla-cache")
        env = dict(os.environ, JAXLOGLOSS_CACHE_DIR=cache)
        cmd = [
            exe,
            "fit",
            path,
            "--target",
            "y",
            "--dtype",
            "float32",
            "--solver",
            "lbfgs",
            "--json",
        ]
        for label in ["jaxlogloss fit, cold cache", "jaxlogloss fit, warm cache"]:
            seconds, proc = timed(
                lambda: subprocess.run(cmd, env=env, capture_output=True, text=True)
            )
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr)
            out[label] = dict(seconds=seconds, n_iter=json.loads(proc.stdout)["n_iter"])
        seconds, proc = timed(
            lambda: subprocess.run(
                [sys.executable, script, path, sklearn_solver],
                capture_output=True,
                text=True,
            )
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        out[f"sklearn {sklearn_solver} script"] = dict(seconds=seconds)
    peer = out[f"sklearn {sklearn_solver} script"]["seconds"]
    for r in out.values():
        r["speedup_vs_sklearn_script"] = peer / r["seconds"]
    return out


def bench_sweep(runs: int, n: int = 20_000, d: int = 20) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    import jaxlogloss as jl
    from jaxlogloss.fitting.sweeps import sweep

    X, y = make_data(n, d, seed=1)
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    l2s = list(np.logspace(-6, 0, runs))
    out: dict[str, Any] = {}
    with jl.enable_x64():
        for solver in ["lbfgs", "newton"]:
            first, _ = timed(
                lambda s=solver: sweep(X64, y64, solver=s, l2s=l2s, steps=500)
            )
            seconds, res = timed(
                lambda s=solver: sweep(X64, y64, solver=s, l2s=l2s, steps=500)
            )
            out[f"jaxlogloss sweep {solver}"] = dict(
                seconds=seconds, first_call_seconds=first,
                statuses=sorted(set(res.status.tolist())), objective=res.final_loss,
            )  # fmt: skip
        # the same 256 strengths as one warm-started path (decreasing alphas, each
        # fit starting from the last: a lax.scan of Newton solves, issue 12's fit_path)
        path = lambda: jl.fit_path(X64, y64, penalty="l2", alphas=l2s[::-1])  # noqa: E731
        first, _ = timed(path)
        seconds, res = timed(path)
        out["jaxlogloss fit_path l2 (warm starts)"] = dict(
            seconds=seconds, first_call_seconds=first,
            statuses=sorted(set(np.asarray(res.status).tolist())),
            objective=np.asarray(res.objective)[::-1],
        )  # fmt: skip
    objectives = []
    start = time.perf_counter()
    for alpha in l2s:
        m = LogisticRegression(
            C=1 / (n * alpha), solver="lbfgs", tol=1e-10, max_iter=1000
        ).fit(X64, y64)
        objectives.append(
            mean_log_loss(X64, y64, m.coef_[0], float(m.intercept_[0]))
            + alpha / 2 * np.sum(m.coef_**2)
        )
    peer = time.perf_counter() - start
    out[f"sklearn lbfgs x {runs} sequential"] = dict(seconds=peer)
    reference = np.asarray(objectives)
    for r in out.values():
        if "objective" in r:
            obj = r.pop("objective")
            r["max_rel_objective_gap_vs_sklearn"] = float(
                np.max((obj - reference) / reference)
            )
        r["speedup_vs_sklearn_sequential"] = peer / r["seconds"]
        if "first_call_seconds" in r:
            r["speedup_with_compile"] = peer / r["first_call_seconds"]
    return dict(runs=runs, n=n, d=d, results=out)


def bench_memory(n: int, d: int) -> dict[str, Any]:
    out = {}
    for solver in ["lbfgs", "newton"]:
        m = jl_bench.bench_memory(n, d, solver)
        out[solver] = dict(
            peak_over_x_bytes_ratio=m["peak_over_x_ratio"],
            fit_extra_over_x_bytes_ratio=m["fit_extra_over_x_ratio"],
            x_megabytes=m["x_bytes"] / 1e6,
        )
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--sweep-runs", type=int, default=256)
    parser.add_argument("--parts", default="fit,whole,cli,sweep,memory")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    import jax
    import sklearn

    result: dict[str, Any] = dict(
        benchmark="fit_speed", n=args.n, d=args.d, machine=platform.machine(),
        cpus=os.cpu_count(), jax=jax.__version__, sklearn=sklearn.__version__,
        numpy=np.__version__,
    )  # fmt: skip
    X, y = make_data(args.n, args.d)
    print(
        f"X = {args.n:,} x {args.d} float32 ({X.nbytes / 1e6:.0f} MB); jax {jax.__version__}, sklearn {sklearn.__version__}"
    )
    if "fit" in parts:
        r = bench_fit(X, y)
        result["fit"] = r
        print(f"\ntime to the optimum (best mean log-loss {r['best_log_loss']:.10f}):")
        print(
            f"  {'solver':<28} {'seconds':>8} {'1st call':>9} {'iters':>6} {'speedup':>8}  log-loss gap"
        )
        for name, s in r["solvers"].items():
            first = (
                f"{s['first_call_seconds']:9.2f}"
                if "first_call_seconds" in s
                else " " * 9
            )
            gap = s["log_loss"] / r["best_log_loss"] - 1
            tag = "" if s["comparable"] else "  NOT COMPARABLE"
            print(
                f"  {name:<28} {s['seconds']:8.2f} {first} {s['iterations']:6d} {s['speedup_vs_fastest_sklearn']:7.1f}x  {gap:.1e}{tag}"
            )
    if "whole" in parts:
        r = bench_whole(X, y)
        result["whole"] = r
        print("\nthe user's call on the NumPy array vs PyTorch L-BFGS (best of 3):")
        print(
            f"  {'solver':<30} {'seconds':>8} {'1st call':>9} {'PyTorch/this':>13}  gap"
        )
        for name, s in r.items():
            print(
                f"  {name:<30} {s['seconds']:8.3f} {s['first_call_seconds']:9.2f} {s['pytorch_over_this']:12.2f}x  {s['log_loss_gap']:.1e}   {np.round(s['all'], 3)}"
            )
    fastest = "lbfgs"
    if "fit" in parts:
        sk = {
            k: v for k, v in result["fit"]["solvers"].items() if k.startswith("sklearn")
        }
        fastest = min(sk, key=lambda k: sk[k]["seconds"]).split(" ", 1)[1]
    if "cli" in parts:
        r = bench_cli(X, y, fastest)
        result["cli"] = r
        print("\nwhole process on a Parquet file:")
        for name, s in r.items():
            print(
                f"  {name:<34} {s['seconds']:8.2f} s   {s['speedup_vs_sklearn_script']:5.2f}x"
            )
    if "sweep" in parts:
        r = bench_sweep(args.sweep_runs)
        result["sweep"] = r
        print(f"\nL2 path of {r['runs']} fits on {r['n']:,} x {r['d']} float64:")
        for name, s in r["results"].items():
            gap = s.get("max_rel_objective_gap_vs_sklearn")
            gap_text = "" if gap is None else f"   objective gap {gap:+.1e}"
            print(
                f"  {name:<34} {s['seconds']:8.2f} s   {s['speedup_vs_sklearn_sequential']:6.1f}x{gap_text}"
            )
    if "memory" in parts:
        r = bench_memory(args.n, args.d)
        result["memory"] = r
        print(
            "\npeak memory of a fit (process peak minus memory before X) / bytes of X:"
        )
        for name, s in r.items():
            print(
                f"  {name:<10} {s['peak_over_x_bytes_ratio']:5.2f}x   (fit alone adds {s['fit_extra_over_x_bytes_ratio']:.2f}x)"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)
    return result


if __name__ == "__main__":
    main()
