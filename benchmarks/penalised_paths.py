"""Benchmark: penalised paths and cross-validation next to glmnet, scikit-learn and skglm.

    python benchmarks/penalised_paths.py [--n 100000] [--d 50] [--alphas 20]
        [--folds 5] [--skip-slow] [--json FILE] [--interleave R]

The rows and what they measure: :mod:`jaxlogloss.bench.penalised` (the same rows as
``jaxlogloss bench``). python-glmnet (the Fortran glmnet, a wheel in the test extra) is
timed in the same run as the L1 path and the L1 CV; ``--skip-slow`` drops the saga rows.

``--interleave R`` times only the L1 path row, R rounds of (ours, glmnet) alternating
in one process after one untimed call of each, and prints each side's minimum and
median and both ratios (glmnet's time / ours): on a shared machine the noise moves
both sides, and alternating exposes them to the same noise.
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    from jaxlogloss.bench.penalised import bench_penalised, penalised_lines

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--alphas", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--saga-tol", type=float, default=1e-4)
    parser.add_argument("--skip-slow", action="store_true", help="no saga rows")
    parser.add_argument("--json", help="write the numbers as JSON")
    parser.add_argument("--interleave", type=int, default=0, metavar="R")
    args = parser.parse_args()
    if args.interleave:
        interleaved(args.n, args.d, args.alphas, args.interleave)
        return
    r = bench_penalised(
        args.n, args.d, args.alphas, args.folds, not args.skip_slow, args.saga_tol
    )
    print(penalised_lines(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)


def interleaved(n: int, d: int, n_alphas: int, rounds: int) -> None:
    """The L1 path row, ours and glmnet alternating (module docstring)."""
    import time

    import numpy as np

    import jaxlogloss as jl
    from jaxlogloss.bench.penalised import glmnet_path, l1_problem

    with jl.enable_x64():
        X, y, _, grid = l1_problem(n, d, n_alphas)
        runs = {
            "ours": lambda: jl.fit_path(X, y, penalty="l1", alphas=grid),
            "glmnet": lambda: glmnet_path(X, y, grid),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():
            run()
        for _ in range(rounds):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    ours, peer = (np.array(times[k]) for k in ("ours", "glmnet"))
    print(f"L1 path, {n} x {d} float64, {n_alphas} alphas, {rounds} interleaved rounds")
    for name, t in (("ours", ours), ("glmnet", peer)):
        print(f"  {name:8s} min {t.min():.3f} s  median {np.median(t):.3f} s")
    print(
        f"  glmnet / ours: {peer.min() / ours.min():.2f}x on the minimum, "
        f"{np.median(peer) / np.median(ours):.2f}x on the median"
    )


if __name__ == "__main__":
    main()
