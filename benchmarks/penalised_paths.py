"""Benchmark: penalised paths and cross-validation next to glmnet, scikit-learn and skglm.

    python benchmarks/penalised_paths.py [--n 100000] [--d 50] [--alphas 20]
        [--folds 5] [--skip-slow] [--json FILE]

The rows and what they measure: :mod:`jaxlogloss.bench.penalised` (the same rows as
``jaxlogloss bench``). python-glmnet (the Fortran glmnet, a wheel in the test extra) is
timed in the same run as the L1 path and the L1 CV; ``--skip-slow`` drops the saga rows.
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
    args = parser.parse_args()
    r = bench_penalised(
        args.n, args.d, args.alphas, args.folds, not args.skip_slow, args.saga_tol
    )
    print(penalised_lines(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
