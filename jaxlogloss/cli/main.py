"""The ``jaxlogloss`` command line.

Exit codes: 0 success, 1 a check failed, 2 a usage error (one line on stderr, never a
traceback for a user mistake).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from jaxlogloss.model.verification import (
    DTYPE_CHOICES,
    LOSS_CHOICES,
    TOLERANCES,
    GradcheckReport,
)

PROG = "jaxlogloss"


class UsageError(Exception):
    """A user mistake: printed as one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def _int_at_least(low: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {low}, got {value}"
            )
        return value

    return parse


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="jaxlogloss: the log-loss and logistic regression in JAX.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    tol = ", ".join(
        f"{dt}: rounding {t['rounding']:g}, FD {t['fd']:g}"
        for dt, t in TOLERANCES.items()
    )
    gc = sub.add_parser(
        "gradcheck",
        help="check analytic gradients/Hessians against jax.grad and finite differences",
        description=(
            "Compare jax.grad / jax.hessian with the closed-form gradient and Hessian of "
            "each loss, and both with float64 central finite differences; certify the "
            "convexity of the log-loss and find a non-convexity witness for MSE on the "
            f"sigmoid. Relative-error tolerances: {tol}. Exit 0 when every check passes, "
            "1 when one fails, 2 for bad arguments."
        ),
    )
    gc.add_argument("--loss", choices=LOSS_CHOICES, default="all", help="default: all")
    gc.add_argument(
        "--n", type=_int_at_least(2), default=256, help="rows (default 256)"
    )
    gc.add_argument(
        "--d", type=_int_at_least(1), default=5, help="features (default 5)"
    )
    gc.add_argument(
        "--classes", type=_int_at_least(2), default=3, help="K for softmax (default 3)"
    )
    gc.add_argument("--dtype", choices=DTYPE_CHOICES, default="float64")
    gc.add_argument("--seed", type=_int_at_least(0), default=0)
    gc.add_argument(
        "--l2", type=_nonnegative_float, default=0.01, help="L2 strength (default 0.01)"
    )
    gc.add_argument(
        "--points",
        type=_int_at_least(1),
        default=256,
        help="random parameter points for the certificate and witness (default 256)",
    )
    gc.add_argument("--json", action="store_true", help="print one JSON object")
    gc.set_defaults(handler=_gradcheck)
    _add_fit_parser(sub)
    _add_run_parser(sub)
    _add_bench_parser(sub)
    _add_launch_parser(sub)
    return parser


def _add_bench_parser(sub: Any) -> None:
    bench = sub.add_parser(
        "bench",
        help="benchmark against NumPy, scikit-learn, PyTorch and the memory bandwidth",
        description=(
            "Measure, in one run: the device's memory-bandwidth ceiling; one gradient "
            "step per size (jax.grad on both layouts, the closed form, NumPy, PyTorch) as "
            "time, GB/s, fraction of the ceiling and ratio to the two-pass floor; time to "
            "the optimum (Newton, L-BFGS, adam vs scikit-learn lbfgs / newton-cholesky, a "
            "NumPy gradient-descent loop, PyTorch L-BFGS; compile time apart); a vmapped "
            "L2 path vs sequential scikit-learn fits; peak memory of a fit. Peers that "
            "are not installed are skipped. For a GPU: pip install -e '.[cuda13]' and "
            "--device gpu."
        ),
    )
    bench.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    bench.add_argument(
        "--sizes",
        help="NxD pairs, comma-separated (default 10000x100,100000x100,1000000x100)",
    )
    bench.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    bench.add_argument("--quick", action="store_true", help="tiny sizes, few repeats")
    bench.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    bench.add_argument("--plot", metavar="FILE", help="PNG: time vs size, floor drawn")
    bench.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from jaxlogloss.bench import parse_sizes, plot, run_bench

    sizes = parse_sizes(args.sizes) if args.sizes else None
    result = run_bench(args.device, sizes, args.dtype, args.quick)
    if args.json:
        from jaxlogloss.fitting.checkpoint import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=2))
    if args.plot:
        plot(result, args.plot)
    return 0


def _add_run_parser(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run an experiment config (or a folder of them) and write its evidence",
        description=(
            "Run a TOML experiment config -- or every *.toml in a folder -- compiled, and "
            "write config.toml (resolved), metrics.json, history.jsonl, figures/*.png and "
            "report.md with each claim's check and PASS/FAIL into the output folder (a "
            "folder of configs gets one sub-folder each and an index.md). Files are "
            "written atomically; an interrupted run resumes from its checkpoints; a "
            "finished run is not recomputed unless --force."
        ),
    )
    run.add_argument("path", metavar="CONFIG_OR_DIR", help="a .toml config or a folder")
    run.add_argument(
        "--out", help="output folder (default: results/ or results/<config name>/)"
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config key (value parsed as TOML); repeatable",
    )
    run.add_argument("--force", action="store_true", help="recompute finished runs")
    run.add_argument(
        "--quick", action="store_true", help="small budgets: a fast end-to-end check"
    )
    _add_cluster_arguments(run)
    run.set_defaults(handler=_run)


def _add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "several processes",
        "Join a job of several processes through jax.distributed (gloo on CPUs, NCCL "
        "on GPUs): the same command on every host, with process ids 0..N-1. The rows "
        "are split over every device of the job; process 0 alone prints and writes. "
        "With more than one device in the job (also several local GPUs, or "
        "XLA_FLAGS=--xla_force_host_platform_device_count=N on a CPU) the rows are "
        "split over all of them.",
    )
    group.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="process 0's address, reachable from every host (env JAXLOGLOSS_COORDINATOR)",
    )
    group.add_argument(
        "--num-processes",
        type=_int_at_least(1),
        metavar="N",
        help="processes in the job (env JAXLOGLOSS_NUM_PROCESSES)",
    )
    group.add_argument(
        "--process-id",
        type=_int_at_least(0),
        metavar="I",
        help="this process, 0..N-1 (env JAXLOGLOSS_PROCESS_ID)",
    )


def _join(args: argparse.Namespace) -> Any:
    """Join the job the flags or environment name (if any); the data mesh or None."""
    import jax

    from jaxlogloss.parallel import mesh as dist

    settings = dist.process_settings(
        args.coordinator, args.num_processes, args.process_id
    )
    if settings is not None:
        _keep_stdout_for_results()
        try:
            dist.initialize(*settings)
        except Exception as err:  # the runtime's own message, on one line
            text = " ".join(str(err).split())[:300]
            raise UsageError(
                f"{PROG}: error: could not join the job at {settings[0]} as process "
                f"{settings[2]} of {settings[1]}: {text}"
            ) from None
    return dist.data_mesh() if jax.device_count() > 1 else None


def _keep_stdout_for_results() -> None:
    """Send what the collectives' C++ libraries print (gloo's "Rank 0 is connected")
    to stderr, so stdout carries only the results (a --json stays parseable)."""
    sys.stdout.flush()
    results = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(results, "w", buffering=1)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from jaxlogloss.experiments.runner import run_path

    path = Path(args.path)
    out = args.out or (
        "results" if path.is_dir() else os.path.join("results", path.stem)
    )
    from jaxlogloss.parallel.mesh import is_writer

    mesh = _join(args)
    writer = is_writer()
    report = run_path(
        path, out, overrides=args.overrides, quick=args.quick, force=args.force,
        log=lambda text: print(text, file=sys.stderr) if writer else None, mesh=mesh,
    )  # fmt: skip
    if writer:
        print(report)
    return 0


def _add_launch_parser(sub: Any) -> None:
    launch = sub.add_parser(
        "launch",
        help="start N local processes of a command as one jax.distributed job",
        description=(
            "Start N copies of COMMAND on this machine as processes 0..N-1 of one job "
            "whose coordinator listens on 127.0.0.1:PORT (a free port by default): "
            "each gets JAXLOGLOSS_COORDINATOR, JAXLOGLOSS_NUM_PROCESSES and "
            "JAXLOGLOSS_PROCESS_ID, which `jaxlogloss fit` and `jaxlogloss run` read. "
            "A COMMAND starting with `jaxlogloss` runs with this Python. Waits for all; "
            "when one fails the others are stopped; exits with the first failure's code."
        ),
    )
    launch.add_argument(
        "--local", type=_int_at_least(1), required=True, metavar="N", help="processes"
    )
    launch.add_argument(
        "--port", type=_int_at_least(1), metavar="PORT", help="coordinator port"
    )
    launch.add_argument(
        "--timeout", type=_positive_float, metavar="SECONDS", help="stop them all after"
    )
    launch.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    launch.set_defaults(handler=_launch)


def _launch(args: argparse.Namespace) -> int:
    import socket
    import subprocess
    import time

    from jaxlogloss.parallel import mesh as dist

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError(
            f"{PROG} launch: error: give the command after --, e.g. "
            f"{PROG} launch --local 2 -- {PROG} fit builtin:jackets"
        )
    if os.path.basename(cmd[0]) == PROG:
        cmd = [sys.executable, "-m", PROG, *cmd[1:]]
    port = args.port
    if port is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    procs = []
    for i in range(args.local):
        env = dict(os.environ)
        env[dist.ENV_COORDINATOR] = f"127.0.0.1:{port}"
        env[dist.ENV_NUM_PROCESSES] = str(args.local)
        env[dist.ENV_PROCESS_ID] = str(i)
        try:
            procs.append(subprocess.Popen(cmd, env=env))
        except OSError as err:
            for p in procs:
                p.kill()
            raise UsageError(
                f"{PROG} launch: error: cannot start {cmd[0]!r}: {err}"
            ) from None
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    failed = 0
    try:
        while any(p.poll() is None for p in procs):
            codes = [p.returncode for p in procs if p.returncode not in (None, 0)]
            timed_out = deadline is not None and time.monotonic() > deadline
            if codes or timed_out:
                failed = codes[0] if codes else 124
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        failed = 130
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if failed:
        print(f"{PROG} launch: a process failed (exit {failed}); stopped the others",
              file=sys.stderr)  # fmt: skip
        return failed
    codes = [p.returncode for p in procs if p.returncode != 0]
    return codes[0] if codes else 0


def _positive_float(text: str) -> float:
    value = _nonnegative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _add_fit_parser(sub: Any) -> None:
    from jaxlogloss.fitting.fit import SOLVERS

    fit = sub.add_parser(
        "fit",
        help="fit a logistic regression to a CSV/Parquet file and report inference",
        description=(
            "Fit a binary logistic regression by maximum likelihood and print a "
            "statsmodels-like table: coef, std err, z, P>|z| and the 95%% interval, with "
            "the log-loss, iterations and convergence. DATA is a CSV (.csv, .csv.gz, "
            ".tsv) or Parquet (.parquet, .pq) file, a directory of them, or a built-in "
            "data set: builtin:jackets, builtin:gaussian, builtin:separable, "
            "builtin:breast_cancer. Non-numeric feature columns are one-hot encoded "
            "with the first sorted level dropped (named col[level]). --l2 ALPHA "
            "minimises the mean log-loss + (ALPHA/2)||w||^2 with the intercept "
            "unpenalised, i.e. scikit-learn's C = 1/(n * ALPHA). Bad input exits 2 with "
            "one line on stderr."
        ),
    )
    fit.add_argument(
        "data", metavar="DATA", help="data file, directory or builtin:NAME"
    )
    fit.add_argument("--target", help="target column (two distinct values)")
    fit.add_argument(
        "--positive",
        help="the target value counted as 1 (default: the second of the two sorted values)",
    )
    fit.add_argument(
        "--features", help="comma-separated feature columns (default: all others)"
    )
    fit.add_argument(
        "--weights", help="column of non-negative sample (frequency) weights"
    )
    fit.add_argument(
        "--solver", choices=SOLVERS, default="newton", help="default: newton"
    )
    fit.add_argument(
        "--l2",
        type=_nonnegative_float,
        default=0.0,
        help="ALPHA of (ALPHA/2)||w||^2 on the mean log-loss; sklearn C = 1/(n*ALPHA)",
    )
    fit.add_argument("--max-iter", type=_int_at_least(1), help="iteration budget")
    fit.add_argument(
        "--tol",
        type=_positive_float,
        help="stop when ||grad||_inf <= TOL on standardised features "
        "(default 1e-10 in float64, 1e-5 in float32)",
    )
    fit.add_argument(
        "--learning-rate", type=_positive_float, help="first-order solvers only"
    )
    fit.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    fit.add_argument("--json", action="store_true", help="print one JSON object")
    fit.add_argument(
        "--stream",
        action="store_true",
        help="out of core: read DATA batch by batch (memory bounded by --batch-rows, "
        "not by the data); newton/lbfgs add up full passes, first-order solvers take "
        "one step per batch",
    )
    fit.add_argument(
        "--batch-rows",
        type=_int_at_least(1),
        default=65536,
        metavar="N",
        help="rows per batch with --stream (default 65536)",
    )
    _add_cluster_arguments(fit)
    fit.set_defaults(handler=_fit)


def _fit(args: argparse.Namespace) -> int:
    import jax

    from jaxlogloss.fitting.fit import fit
    from jaxlogloss.parallel import mesh as dist

    if args.learning_rate is not None and args.solver in ("newton", "lbfgs"):
        raise UsageError(
            f"{PROG} fit: error: --learning-rate applies to first-order solvers, not "
            f"{args.solver}"
        )
    features = None
    if args.data.startswith("builtin:"):
        if args.features or args.weights or args.positive or args.stream:
            raise UsageError(
                f"{PROG} fit: error: --features, --weights, --positive and --stream "
                f"apply to files, not to {args.data}"
            )
    else:
        if args.target is None:
            raise UsageError(f"{PROG} fit: error: --target COL is required for a file")
        if args.features is not None:
            features = [f.strip() for f in args.features.split(",")]
            if any(not f for f in features):
                raise UsageError(
                    f"{PROG} fit: error: --features has an empty name in {args.features!r}"
                )
    mesh = _join(args)
    processes = jax.process_count()
    if args.stream:
        from jaxlogloss.data.stream import open_stream
        from jaxlogloss.fitting.streaming import fit_stream

        data = open_stream(
            args.data, target=args.target, features=features, positive=args.positive,
            weights=args.weights, dtype=args.dtype, batch_rows=args.batch_rows,
        )  # fmt: skip
        _check_rows_per_process(data.n_samples, processes)
        rows = dist.process_row_range(data.n_samples, processes, jax.process_index())
        result = fit_stream(
            data, solver=args.solver, l2=args.l2, max_iter=args.max_iter, tol=args.tol,
            learning_rate=args.learning_rate, row_range=rows,
        )  # fmt: skip
    else:
        data = _read_rows(args, features, processes)
        result = fit(
            data, None, solver=args.solver, l2=args.l2, max_iter=args.max_iter,
            tol=args.tol, learning_rate=args.learning_rate, dtype=args.dtype,
            mesh=mesh, process_local=processes > 1,
        )  # fmt: skip
    if not dist.is_writer():
        return 0
    if args.json:
        out = result.to_dict()
        out.update(
            target=data.target, positive=_plain(data.classes[1]), source=data.source
        )
        print(json.dumps(out))
    else:
        print(f"data: {data.source}   target: {data.target} (1 = {data.classes[1]!r})")
        print(result.summary())
    return 0


def _read_rows(args: argparse.Namespace, features: Any, processes: int) -> Any:
    """The data this process fits: all of it, or its own rows among several processes
    (read with the whole data set's encoding, without reading the other rows)."""
    import jax

    from jaxlogloss.data.datasets import load_builtin
    from jaxlogloss.data.table import read_table
    from jaxlogloss.parallel import mesh as dist

    if args.data.startswith("builtin:"):
        data = load_builtin(args.data.removeprefix("builtin:"), dtype=args.dtype)
        if args.target is not None and args.target != data.target:
            raise UsageError(
                f"{PROG} fit: error: {args.data} has target {data.target!r}, not "
                f"{args.target!r}"
            )
        if processes > 1:
            _check_rows_per_process(data.n_samples, processes)
            start, stop = dist.process_row_range(
                data.n_samples, processes, jax.process_index()
            )
            data = data.subset(np.arange(start, stop))
        return data
    if processes == 1:
        return read_table(
            args.data, target=args.target, features=features, positive=args.positive,
            weights=args.weights, dtype=args.dtype,
        )  # fmt: skip
    from jaxlogloss.data.stream import open_stream

    stream = open_stream(
        args.data, target=args.target, features=features, positive=args.positive,
        weights=args.weights, dtype=args.dtype,
    )  # fmt: skip
    _check_rows_per_process(stream.n_samples, processes)
    start, stop = dist.process_row_range(
        stream.n_samples, processes, jax.process_index()
    )
    return stream.read(start, stop)


def _check_rows_per_process(n: int, processes: int) -> None:
    import math

    if math.ceil(n / processes) * (processes - 1) >= n:
        raise UsageError(
            f"{PROG} fit: error: {n} rows cannot give each of {processes} processes "
            "rows of its own; use fewer processes"
        )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2e}"


def format_gradcheck(report: GradcheckReport) -> str:
    """The human-readable table, certificates and witness of a gradcheck report."""
    s = report.settings
    lines = [
        f"jaxlogloss gradcheck: loss={s['loss']} n={s['n']} d={s['d']} "
        f"dtype={s['dtype']} seed={s['seed']} l2={s['l2']:g} (weights in [0.5, 2])",
        "",
    ]
    rows = [("check", "max abs err", "max rel err", "tolerance", "result")]
    for c in report.checks:
        rows.append(
            (
                c.name,
                _fmt(c.max_abs_error),
                _fmt(c.max_rel_error),
                "-" if c.max_rel_error is None else f"{c.tolerance:.0e}",
                "PASS" if c.passed else "FAIL",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for i, r in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(widths[j]) if j == 0 else cell.rjust(widths[j])
                for j, cell in enumerate(r)
            )
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    for cert in report.certificates:
        lines.append(
            f"convexity certificate ({cert.loss}): min Hessian eigenvalue "
            f"{cert.min_eigenvalue:.3e} >= -{cert.tolerance:.1e} over {cert.n_points} "
            f"random points (max eigenvalue {cert.max_eigenvalue:.3e}): "
            f"{'PASS' if cert.passed else 'FAIL'}"
        )
    wit = report.witness
    if wit is not None:
        w = ", ".join(f"{x:.3f}" for x in wit.w)
        lines.append(
            f"non-convexity witness ({wit.loss} on the sigmoid): at w=[{w}], "
            f"b={wit.b:.3f} the Hessian has eigenvalue {wit.min_eigenvalue:.4e} "
            f"(jax.hessian: {wit.autodiff_min_eigenvalue:.4e}) < {wit.threshold:.2e}: "
            f"{'PASS' if wit.passed else 'FAIL'}"
        )
    lines.append("")
    lines.append("ALL CHECKS PASSED" if report.passed else "SOME CHECKS FAILED")
    return "\n".join(lines)


def _gradcheck(args: argparse.Namespace) -> int:
    from jaxlogloss.model.verification import gradcheck

    report = gradcheck(
        args.loss,
        n=args.n,
        d=args.d,
        n_classes=args.classes,
        dtype=args.dtype,
        seed=args.seed,
        l2=args.l2,
        n_points=args.points,
    )
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(format_gradcheck(report))
    return 0 if report.passed else 1


def enable_compilation_cache() -> str | None:
    """Keep XLA's compiled programs on disk between runs of the command.

    Compiling the solvers takes seconds; with the cache a second ``jaxlogloss fit`` on
    data of the same shape starts at once. The folder is ``$JAXLOGLOSS_CACHE_DIR`` or
    ``~/.cache/jaxlogloss/xla``; ``JAXLOGLOSS_CACHE_DIR=off`` disables it.
    """
    import jax

    folder = os.environ.get("JAXLOGLOSS_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "jaxlogloss", "xla"
    )
    if folder.lower() in ("off", "none", "0"):
        return None
    try:
        os.makedirs(folder, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    except (OSError, AttributeError):
        return None  # an unwritable home or an older JAX: run without the cache
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        enable_compilation_cache()
        return int(args.handler(args))
    except UsageError as err:
        print(str(err), file=sys.stderr)
        return 2
    except (ValueError, TypeError) as err:
        # the library's boundary checks: a user mistake, said in one line
        if os.environ.get("JAXLOGLOSS_DEBUG"):
            raise
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
