"""``jaxlogloss bench``: parses the flags and runs :func:`jaxlogloss.bench.run_bench`."""

from __future__ import annotations

import argparse
import json

NAME = "bench"
HELP = "benchmark against NumPy, scikit-learn, PyTorch and the memory bandwidth"
DESCRIPTION = (
    "Measure, in one run: the device's memory-bandwidth ceiling; one gradient "
    "step per size (jax.grad on both layouts, the closed form, NumPy, PyTorch) as "
    "time, GB/s, fraction of the ceiling and ratio to the two-pass floor; time to "
    "the optimum (Newton, L-BFGS, adam vs scikit-learn lbfgs / newton-cholesky, a "
    "NumPy gradient-descent loop, PyTorch L-BFGS; compile time apart); a vmapped "
    "L2 path vs sequential scikit-learn fits; an L1 path, L1 and L2 cross-"
    "validation vs skglm and scikit-learn (saga, LogisticRegressionCV) with the "
    "objective gap at every alpha; peak memory of a fit. Peers that "
    "are not installed are skipped. For a GPU: pip install -e '.[cuda13]' and "
    "--device gpu."
)


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of ``bench``."""
    bench.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    bench.add_argument(
        "--sizes",
        help="NxD pairs, comma-separated (default 10000x100,100000x100,1000000x100)",
    )
    bench.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    bench.add_argument("--quick", action="store_true", help="tiny sizes, few repeats")
    bench.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    bench.add_argument("--plot", metavar="FILE", help="PNG: time vs size, floor drawn")


def handle(args: argparse.Namespace) -> int:
    """Run the benchmark; write the JSON and the plot when asked."""
    from jaxlogloss.bench import parse_sizes, plot, run_bench

    sizes = parse_sizes(args.sizes) if args.sizes else None
    result = run_bench(args.device, sizes, args.dtype, args.quick)
    if args.json:
        from jaxlogloss.fitting.checkpoint import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=2))
    if args.plot:
        plot(result, args.plot)
    return 0
