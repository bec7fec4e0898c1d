"""Benchmark: peak memory of ``jl.fit`` on a NumPy X, as a multiple of X's bytes
(issue 11, part 4: <= 2x X above an import-only process).

    python benchmarks/fit_memory.py [--size 1000000x100] [--solvers lbfgs,newton]
        [--cases float64:C,float64:F,float32:C,float32:F] [--fit-dtype float64]
        [--against /path/to/checkout]

Each row is a fresh process that imports jaxlogloss and starts JAX's CPU backend, reads
its resident memory (the baseline: an import-only process), fills X (n, d) of the
case's dtype and memory order chunk by chunk (no temporary copy), resets the kernel's
peak-RSS mark (``/proc/self/clear_refs``), fits, and reads the peak (``VmHWM``):

* ``peak/X``  = (peak - baseline) / X's bytes: X itself counts 1x (the goal's number);
* ``extra/X`` = (peak - RSS with X) / X's bytes: what the fit added.

X is held by the user as NumPy makes it (16 bytes into a page: not the 64-byte
alignment XLA's CPU client shares without a copy). ``--against DIR`` runs the same
rows with another checkout on ``PYTHONPATH`` (e.g. the code before a change). Linux
only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from children import run_child

HERE = Path(__file__).resolve().parents[1]
MB = 2**20


def _status(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024.0
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(n: int, d: int, dtype: str, order: str, solver: str, fit_dtype: str) -> dict:
    import jax.numpy as jnp

    import jaxlogloss as jl

    jnp.zeros(1).block_until_ready()
    base = _status("VmRSS")
    rng = np.random.default_rng(0)
    X = np.empty((n, d), dtype, order=order)
    step = 65536
    for start in range(0, n, step):
        X[start : start + step] = rng.standard_normal((min(step, n - start), d))
    w = rng.standard_normal(d) / np.sqrt(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w.astype(dtype))))).astype(np.float64)
    with_x = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
        f.write("5")
    r = jl.fit(X, y, solver=solver, dtype=fit_dtype)
    peak = _status("VmHWM")
    return dict(
        base=base, with_x=with_x, peak=peak, x_bytes=X.nbytes, n_iter=r.n_iter,
        aligned=X.ctypes.data % 64 == 0,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1000000x100")
    parser.add_argument("--solvers", default="lbfgs,newton")
    parser.add_argument("--cases", default="float64:C,float64:F,float32:C,float32:F")
    parser.add_argument("--fit-dtype", default="float64")
    parser.add_argument("--against", default=None)
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        n, d, dtype, order, solver, fit_dtype = args.child
        print(json.dumps(child(int(n), int(d), dtype, order, solver, fit_dtype)))
        return
    n, d = args.size.split("x")
    checkouts = {"this": HERE}
    if args.against:
        checkouts["against"] = Path(args.against).resolve()
    print(f"jl.fit on a NumPy X {n} x {d}, fit dtype {args.fit_dtype}: peak RSS above "
          "an import-only process (VmHWM)")  # fmt: skip
    print(f"{'X':>10} {'order':>5} {'solver':>7} {'code':>8} {'X MB':>7} {'peak MB':>8} "
          f"{'peak/X':>7} {'extra/X':>8}")  # fmt: skip
    for case in args.cases.split(","):
        dtype, order = case.split(":")
        for solver in args.solvers.split(","):
            for name, path in checkouts.items():
                m = run_child(
                    __file__, path, [n, d, dtype, order, solver, args.fit_dtype]
                )
                x = m["x_bytes"]
                print(f"{dtype:>10} {order:>5} {solver:>7} {name:>8} {x / MB:7.0f} "
                      f"{(m['peak'] - m['base']) / MB:8.0f} "
                      f"{(m['peak'] - m['base']) / x:7.2f} "
                      f"{(m['peak'] - m['with_x']) / x:8.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
