"""Benchmark: what the first call of ``jl.fit`` spends compiling (issue 11, part 5).

    python benchmarks/compile_time.py [--sizes 20000x20xfloat64,1000000x100xfloat32]
        [--solvers lbfgs,newton,l1] [--rounds 3] [--repeats 3] [--against /path/to/checkout]

Goal: the first call of a fit compiles in <= 0.5 s, for L-BFGS and for Newton, with
the persistent XLA cache off (``JAXLOGLOSS_CACHE_DIR=off``). ``l1`` in ``--solvers``
times an L1 fit (``penalty="l1", alpha=1e-3``: proximal Newton) the same way.

Each row is a fresh Python process (``import jaxlogloss`` done before the clock
starts) that fits an (n, d) NumPy X (row-major, fixed seed, labels from a logistic
model: the user's call) once -- the first call, tracing and compilation included --
then ``--repeats`` more times. Printed per row, medians over ``--rounds`` fresh
processes:

* ``first``: the first call (wall seconds), ``cpu``: its process CPU seconds;
* ``later``: the median of the later calls; ``compile`` = first - later;
* ``programs``: XLA programs compiled by the first call, and ``xla``/``trace`` the
  seconds JAX logs for XLA compilation and for tracing + lowering them
  (``jax_log_compiles``);
* ``n_iter`` and the first coefficient, to check that both checkouts fit the same.

With ``--against DIR`` every round also runs the same rows with ``DIR`` on
``PYTHONPATH`` (another checkout, e.g. the code before a change), interleaved with this
one, so that both are measured under the same load. On a shared machine the wall
seconds move with the load; the CPU seconds and the program count move less.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from children import run_child

SEED = 0
HERE = Path(__file__).resolve().parents[1]


def make_data(n: int, d: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """An (n, d) row-major X and 0/1 labels from a logistic model (fixed seed)."""
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((n, d), dtype=np.float32).astype(dtype)
    w = rng.standard_normal(d).astype(dtype) / np.sqrt(d)
    z = X @ w + 0.25
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    return X, y


class _Compiles(logging.Handler):
    """Sums the seconds JAX logs per compiled program (``jax_log_compiles``)."""

    pattern = re.compile(
        r"Finished (tracing|jaxpr to MLIR|XLA compilation).* in ([0-9.eE-]+) sec"
    )

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.xla = self.trace = 0.0
        self.programs = 0

    def emit(self, record: logging.LogRecord) -> None:
        m = self.pattern.search(record.getMessage())
        if m is None:
            return
        if m.group(1) == "XLA compilation":
            self.xla += float(m.group(2))
            self.programs += 1
        else:
            self.trace += float(m.group(2))


def child(solver: str, size: str, repeats: int) -> dict[str, Any]:
    """One fresh process: the first fit call, then ``repeats`` more."""
    import jax

    import jaxlogloss as jl

    n, d, dtype = size.split("x")
    X, y = make_data(int(n), int(d), dtype)
    jax.config.update("jax_log_compiles", True)
    handler = _Compiles()
    logging.getLogger("jax").addHandler(handler)
    logging.getLogger("jax").setLevel(logging.DEBUG)
    cpu = time.process_time()
    t = time.perf_counter()
    # "l1": an L1 fit (alpha 1e-3: proximal Newton, fit's default for the penalty)
    options = {"penalty": "l1", "alpha": 1e-3} if solver == "l1" else {"solver": solver}
    r = jl.fit(X, y, dtype=dtype, **options)
    first = time.perf_counter() - t
    cpu = time.process_time() - cpu
    counted = (handler.programs, handler.xla, handler.trace)
    later = []
    for _ in range(repeats):
        t = time.perf_counter()
        jl.fit(X, y, dtype=dtype, **options)
        later.append(time.perf_counter() - t)
    run = float(np.median(later))
    return dict(
        solver=solver, size=size, first=first, cpu=cpu, later=run,
        compile=first - run, programs=counted[0], xla=counted[1], trace=counted[2],
        n_iter=r.n_iter, coef0=float(r.coef[0]), status=r.status,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20000x20xfloat64,1000000x100xfloat32")
    parser.add_argument("--solvers", default="lbfgs,newton")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", default=None, help="another checkout to time too")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        solver, size, repeats = args.child
        print(json.dumps(child(solver, size, int(repeats))))
        return
    checkouts = {"this": HERE}
    if args.against:
        checkouts["against"] = Path(args.against).resolve()
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for size in args.sizes.split(","):
            for solver in args.solvers.split(","):
                for name, path in checkouts.items():
                    out = run_child(__file__, path, [solver, size, str(args.repeats)])
                    rows.setdefault((size, solver, name), []).append(out)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"first jl.fit call vs later ones, cache off; medians of {args.rounds} "
          f"fresh processes; load average {load:.1f}")  # fmt: skip
    head = ("size", "solver", "code", "first", "cpu", "later", "compile", "progs",
            "xla", "trace", "n_iter", "coef0")  # fmt: skip
    print("{:>20} {:>7} {:>8} {:>7} {:>7} {:>7} {:>8} {:>6} {:>6} {:>6} {:>6} {:>12}"
          .format(*head))  # fmt: skip
    aborts = {name: [0, 0] for name in checkouts}
    for (_, _, name), outs in rows.items():
        aborts[name][0] += sum(o["exit_status"] != 0 for o in outs)
        aborts[name][1] += len(outs)
    for (size, solver, name), outs in rows.items():
        med = {k: float(np.median([o[k] for o in outs])) for k in
               ("first", "cpu", "later", "compile", "xla", "trace")}  # fmt: skip
        o = outs[0]
        print(f"{size:>20} {solver:>7} {name:>8} {med['first']:7.3f} {med['cpu']:7.3f} "
              f"{med['later']:7.3f} {med['compile']:8.3f} {o['programs']:6d} "
              f"{med['xla']:6.3f} {med['trace']:6.3f} {o['n_iter']:6d} "
              f"{o['coef0']:12.8f}")  # fmt: skip
    print("children that aborted at exit after their result: " + ", ".join(
        f"{name} {a}/{t}" for name, (a, t) in aborts.items()))  # fmt: skip


if __name__ == "__main__":
    main()
