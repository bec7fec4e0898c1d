"""Benchmark: the whole ``jaxlogloss fit data.parquet --target y`` process (defaults).

    python benchmarks/cli_process.py [--n 1000000] [--d 100] [--repeat 2] [--solvers]

Measured side by side in one run, every row a fresh process (ratios are what to read;
the machine is shared):

* ``jaxlogloss fit FILE --target y`` with its defaults (``--solver auto``, float64),
  with a warm persistent XLA cache (a cache folder filled by one earlier process) and
  cold (``JAXLOGLOSS_CACHE_DIR=off``);
* the same with ``--solver newton`` and ``--solver lbfgs`` (warm), for the auto rule;
* the peer: a Python script that reads the file with pyarrow, makes the (n, d) float64
  NumPy array and fits scikit-learn's ``LogisticRegression(C=inf, solver="lbfgs",
  max_iter=1000)`` (its default tol), then prints the coefficients.

Wall time is the best of ``--repeat`` runs. Peak memory is the child's peak resident
set (``wait4``'s ``ru_maxrss``) minus the peak of an import-only process of the same
side (jaxlogloss: the CLI's imports and JAX's CPU backend; the script: pyarrow and
scikit-learn), reported as a multiple of X's float64 bytes (8 n d).

``--solvers`` instead times ``jl.fit`` (compiled, second call, best of 2) with Newton
and with L-BFGS on a few n x d (correlated features), the table behind ``--solver
auto``'s rule.

The data: fixed seed 0, float32 columns x0..x{d-1} (standard normal plus one shared
factor, correlation 0.8), y from a logistic model, written as one Parquet file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

SCRIPT = """
import sys
import numpy as np
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression

table = pq.read_table(sys.argv[1])
y = table.column("y").to_numpy()
X = np.column_stack(
    [table.column(c).to_numpy().astype(np.float64) for c in table.column_names
     if c != "y"]
)
del table
model = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000).fit(X, y)
print(model.intercept_[0], *model.coef_[0])
"""

IMPORT_CLI = (
    "import jax, jaxlogloss.cli.main, jaxlogloss.data.table, jaxlogloss.fitting;"
    "jax.devices()"
)
IMPORT_SCRIPT = "import numpy, pyarrow.parquet, sklearn.linear_model"


def make_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, d) float32 features with one shared factor, y from a logistic model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    X += 2.0 * rng.standard_normal((n, 1), dtype=np.float32)
    w = rng.standard_normal(d) / np.sqrt(d)
    y = rng.random(n) < 1 / (1 + np.exp(-(X @ w.astype(np.float32) / 2.2)))
    return X, y.astype(np.int8)


def write_parquet(path: str, n: int, d: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, y = make_data(n, d)
    columns = {f"x{j}": pa.array(np.ascontiguousarray(X[:, j])) for j in range(d)}
    del X
    columns["y"] = pa.array(y)
    pq.write_table(pa.table(columns), path, row_group_size=128 * 1024)


def run_measured(
    argv: list[str], env: dict[str, str] | None = None
) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in bytes, stdout) of one child, via ``os.wait4``."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"{argv} failed: {err.read()[-2000:]}")
        return seconds, usage.ru_maxrss * 1024, out.read()


def cli_argv() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "jaxlogloss")
    if os.path.exists(exe):
        return [exe]
    return [sys.executable, "-m", "jaxlogloss"]


def best(argv: list[str], env: dict[str, str], repeat: int) -> dict:
    runs = [run_measured(argv, env) for _ in range(repeat)]
    return dict(
        seconds=min(r[0] for r in runs),
        peak=max(r[1] for r in runs),
        out=runs[-1][2],
    )


def solver_used(out: str) -> str:
    for line in out.splitlines():
        if line.startswith("solver:"):
            return line.split()[1]
    return "?"


def process_table(n: int, d: int, repeat: int) -> dict[str, dict]:
    """The process rows (printed), each with ``seconds``, ``peak`` (bytes),
    ``script_over_this`` (the script's seconds over the row's) and
    ``peak_above_import_over_x`` (the peak above its side's import-only process, over
    X's float64 bytes)."""
    tmp = tempfile.mkdtemp(prefix="cli_process_")
    try:
        data = os.path.join(tmp, "data.parquet")
        script = os.path.join(tmp, "fit_sklearn.py")
        with open(script, "w") as f:
            f.write(SCRIPT)
        start = time.perf_counter()
        # in a child: this process stays small, and a child's peak RSS (which counts
        # the parent's pages at fork) measures the child alone
        subprocess.run(
            [sys.executable, __file__, "--write", data, "--n", str(n), "--d", str(d)],
            check=True,
        )
        print(
            f"data: {n:,} x {d} float32 Parquet ({os.path.getsize(data) / 1e6:.0f} MB "
            f"on disk), written in {time.perf_counter() - start:.1f} s; X in float64 "
            f"is {8 * n * d / 1e9:.2f} GB; best of {repeat} runs",
            flush=True,
        )
        warm = dict(os.environ, JAXLOGLOSS_CACHE_DIR=os.path.join(tmp, "xla"))
        cold = dict(os.environ, JAXLOGLOSS_CACHE_DIR="off")
        fit = [*cli_argv(), "fit", data, "--target", "y"]
        for solver in ("auto", "newton", "lbfgs"):  # fill the warm cache
            run_measured([*fit, "--solver", solver], warm)
        rows = {}
        rows["import only: jaxlogloss"] = best(
            [sys.executable, "-c", IMPORT_CLI], warm, repeat
        )
        rows["import only: script"] = best(
            [sys.executable, "-c", IMPORT_SCRIPT], warm, repeat
        )
        rows["jaxlogloss fit, warm cache"] = best(fit, warm, repeat)
        rows["jaxlogloss fit, cold (cache off)"] = best(fit, cold, repeat)
        rows["jaxlogloss fit --solver newton, warm"] = best(
            [*fit, "--solver", "newton"], warm, repeat
        )
        rows["jaxlogloss fit --solver lbfgs, warm"] = best(
            [*fit, "--solver", "lbfgs"], warm, repeat
        )
        rows["pyarrow + sklearn lbfgs script"] = best(
            [sys.executable, script, data], warm, repeat
        )
        peer = rows["pyarrow + sklearn lbfgs script"]["seconds"]
        x64 = 8 * n * d
        base_cli = rows["import only: jaxlogloss"]["peak"]
        base_script = rows["import only: script"]["peak"]
        print(
            f"\n  {'process':<40} {'seconds':>8} {'script/this':>11} "
            f"{'peak RSS':>9} {'above import':>12} {'/ X f64':>8}  solver"
        )
        for name, r in rows.items():
            base = base_script if "script" in name else base_cli
            above = r["peak"] - base
            r["script_over_this"] = peer / r["seconds"]
            r["peak_above_import_over_x"] = above / x64
            speed = f"{peer / r['seconds']:10.2f}x" if "import" not in name else ""
            rel = f"{above / x64:7.2f}x" if "import" not in name else ""
            extra = solver_used(r["out"]) if name.startswith("jaxlogloss") else ""
            print(
                f"  {name:<40} {r['seconds']:8.2f} {speed:>11} "
                f"{r['peak'] / 1e9:7.2f}GB {above / 1e9 if rel else 0:10.2f}GB "
                f"{rel:>8}  {extra}"
            )
        ours = _coefficients(rows["jaxlogloss fit, warm cache"]["out"])
        theirs = np.array(rows["pyarrow + sklearn lbfgs script"]["out"].split(), float)
        if ours is not None and ours.shape == theirs.shape:
            gap = np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-3))
            print(f"\n  max relative coefficient gap, jaxlogloss vs script: {gap:.1e}")
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _coefficients(table: str) -> np.ndarray | None:
    """(intercept, coef...) from the printed table's rows."""
    values = []
    for line in table.splitlines():
        parts = line.split()
        if len(parts) > 2 and (parts[0] == "intercept" or parts[0].startswith("x")):
            try:
                values.append(float(parts[1]))
            except ValueError:
                continue
    return np.array(values) if values else None


def solver_table(shapes: list[tuple[int, int]]) -> None:
    import jaxlogloss as jl

    print(f"\n  {'n x d':<14} {'newton s':>9} {'iters':>5} {'lbfgs s':>8} "
          f"{'iters':>5} {'lbfgs/newton':>12}")  # fmt: skip
    for n, d in shapes:
        X, y = make_data(n, d)
        times = {}
        for solver in ("newton", "lbfgs"):
            jl.fit(X, y, solver=solver)  # compile
            runs = []
            for _ in range(2):
                start = time.perf_counter()
                result = jl.fit(X, y, solver=solver)
                runs.append(time.perf_counter() - start)
            times[solver] = (min(runs), result.n_iter)
        (tn, itn), (tl, itl) = times["newton"], times["lbfgs"]
        print(f"  {f'{n} x {d}':<14} {tn:9.3f} {itn:5d} {tl:8.3f} {itl:5d} "
              f"{tl / tn:11.2f}x", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--solvers", action="store_true", help="the auto rule's table instead"
    )
    parser.add_argument("--write", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write:
        write_parquet(args.write, args.n, args.d)
    elif args.solvers:
        solver_table(
            [(20_000, d) for d in (8, 16, 32, 64, 128)]
            + [(200_000, d) for d in (16, 32, 64, 100)]
        )
    else:
        process_table(args.n, args.d, args.repeat)


if __name__ == "__main__":
    main()
