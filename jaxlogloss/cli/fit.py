"""``jaxlogloss fit``: a logistic regression on a file or a built-in data set.

Prints a statsmodels-like table (or one JSON object). Among several processes each
reads only its own rows; process 0 alone prints.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np

from jaxlogloss.cli import fit_options
from jaxlogloss.cli.args import (
    command_error,
    int_at_least,
    nonnegative_float,
    positive_float,
)
from jaxlogloss.cli.cluster import add_cluster_arguments, join
from jaxlogloss.solvers.registry import SOLVER_CLASSES

NAME = "fit"
HELP = "fit a logistic regression to a CSV/Parquet file and report inference"
DESCRIPTION = (
    "Fit a binary logistic regression (a multinomial one, reference = the first "
    "sorted level, when the target has more than two levels) by maximum "
    "likelihood and print a "
    "statsmodels-like table: coef, std err, z, P>|z| and the 95%% interval, with "
    "the log-loss, iterations and convergence. DATA is a CSV (.csv, .csv.gz, "
    ".tsv) or Parquet (.parquet, .pq) file, a directory of them, or a built-in "
    "data set: builtin:jackets, builtin:gaussian, builtin:separable, "
    "builtin:breast_cancer. Non-numeric feature columns are one-hot encoded "
    "with the first sorted level dropped (named col[level]). --l2 ALPHA "
    "minimises the mean log-loss + (ALPHA/2)||w||^2 with the intercept "
    "unpenalised, i.e. scikit-learn's C = 1/(n * ALPHA); --penalty l1|elasticnet "
    "--alpha A [--l1-ratio R] adds A (R ||w||_1 + (1-R)/2 ||w||^2) instead "
    "(glmnet's lambda = A, its alpha = R), fitted by proximal Newton. Bad input "
    "exits 2 with one line on stderr."
)


def add_arguments(fit: argparse.ArgumentParser) -> None:
    """The flags of ``fit``."""
    from jaxlogloss.fitting import SOLVERS
    from jaxlogloss.model.penalties import penalty_names

    fit.add_argument(
        "data", metavar="DATA", help="data file, directory or builtin:NAME"
    )
    fit.add_argument(
        "--target",
        help="target column: two values (binary) or K > 2 levels (multinomial, the "
        "first sorted level the reference; in memory, penalty none/l2)",
    )
    fit.add_argument(
        "--positive",
        help="the target value counted as 1 (default: the second of the two sorted "
        "values); a two-level target only",
    )
    fit.add_argument(
        "--features", help="comma-separated feature columns (default: all others)"
    )
    fit.add_argument(
        "--weights", help="column of non-negative sample (frequency) weights"
    )
    fit.add_argument(
        "--solver",
        choices=("auto", *SOLVERS),
        default="auto",
        help="default: auto, i.e. newton for at most 100 features, lbfgs above "
        "(the JSON's solver names the one used)",
    )
    fit.add_argument(
        "--l2",
        type=nonnegative_float,
        help="ALPHA of (ALPHA/2)||w||^2 on the mean log-loss; sklearn C = 1/(n*ALPHA) "
        "(the same as --penalty l2 --alpha ALPHA)",
    )
    fit.add_argument(
        "--penalty",
        choices=penalty_names(),
        help="none, l2, l1 or elasticnet (default: l2 with --alpha, else none)",
    )
    fit.add_argument(
        "--alpha",
        type=nonnegative_float,
        help="penalty strength A >= 0 (glmnet's lambda; sklearn C = 1/(n*A))",
    )
    fit.add_argument(
        "--l1-ratio",
        type=unit_interval,
        help="R in [0, 1] of --penalty elasticnet (default 0.5; glmnet's alpha)",
    )
    fit.add_argument(
        "--class-weight",
        metavar="balanced|VALUE=W,...",
        help="weight rows by class: balanced (n / (2 n_k), as scikit-learn) or the "
        "target values' weights, e.g. yes=3,no=1",
    )
    fit.add_argument(
        "--penalty-factor",
        metavar="COL=F,...",
        help="per-feature penalty factors F >= 0 (0: unpenalised), glmnet's "
        "penalty.factor; unnamed features keep 1",
    )
    fit.add_argument(
        "--firth",
        action="store_true",
        help="Firth's penalised likelihood (l + 1/2 log det I): finite estimates and "
        "standard errors under separation (in memory; not with --l2 or --stream)",
    )
    fit.add_argument("--max-iter", type=int_at_least(1), help="iteration budget")
    fit.add_argument(
        "--tol",
        type=positive_float,
        help="stop when ||grad||_inf <= TOL on standardised features "
        "(default 1e-10 in float64, 1e-5 in float32)",
    )
    fit.add_argument(
        "--learning-rate", type=positive_float, help="first-order solvers only"
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
        type=int_at_least(1),
        default=65536,
        metavar="N",
        help="rows per batch with --stream (default 65536)",
    )
    fit_options.add_arguments(fit)
    add_cluster_arguments(fit)


def feature_list(args: argparse.Namespace) -> list[str] | None:
    """Check the flags against DATA; the ``--features`` names (None: all others)."""
    if args.learning_rate is not None and (
        args.solver == "auto" or args.solver in SOLVER_CLASSES
    ):
        raise command_error(
            "fit",
            f"--learning-rate applies to first-order solvers, not {args.solver}",
        )
    if args.data.startswith("builtin:"):
        if args.features or args.weights or args.positive or args.stream:
            raise command_error(
                "fit",
                "--features, --weights, --positive and --stream apply to files, not "
                f"to {args.data}",
            )
        return None
    if args.target is None:
        raise command_error("fit", "--target COL is required for a file")
    if args.features is None:
        return None
    features = [f.strip() for f in args.features.split(",")]
    if any(not f for f in features):
        raise command_error("fit", f"--features has an empty name in {args.features!r}")
    return features


def handle(args: argparse.Namespace) -> int:
    """Fit DATA and print the table or the JSON object (process 0 only)."""
    import jax

    from jaxlogloss.fitting import fit, fit_stream
    from jaxlogloss.parallel import mesh as dist

    features = feature_list(args)
    fit_options.check(args)
    features, extra = fit_options.extra_columns(args, features)
    mesh = join(args)
    processes = jax.process_count()
    penalised = bool(args.l2) or bool(args.alpha) or args.penalty not in (None, "none")
    if args.firth and (args.stream or penalised):
        flag = (
            "--stream" if args.stream else ("--l2" if args.l2 else "--penalty/--alpha")
        )
        raise command_error("fit", f"--firth cannot be combined with {flag}: Firth's "
                            "penalty needs every row in memory and no other penalty")  # fmt: skip
    if args.stream:
        data = _open(args, features, batch_rows=args.batch_rows)
        rows = own_rows(data.n_samples, processes)
        result = fit_stream(
            data, solver=args.solver, max_iter=args.max_iter, tol=args.tol,
            learning_rate=args.learning_rate, row_range=rows, cov_type=args.cov_type,
            **penalty_options(args, data.classes), **extra,
        )  # fmt: skip
    else:
        data = read_rows(args, features, processes)
        X, y, names, weights = data, None, None, None
        binary = len(data.classes) == 2  # else multinomial: fit reads data's levels
        if (
            binary
            and mesh is None
            and processes == 1
            and jax.default_backend() == "cpu"
        ):
            X, y = on_device(data.xt), data.y
            names, weights = data.feature_names, data.sample_weight
        result = fit(
            X, y, feature_names=names, sample_weight=weights, solver=args.solver,
            **penalty_options(args, data.classes), max_iter=args.max_iter, tol=args.tol,
            learning_rate=args.learning_rate, dtype=args.dtype, mesh=mesh,
            process_local=processes > 1, cov_type=args.cov_type,
            method="firth" if args.firth else "ml", **extra,
        )  # fmt: skip
        del X
    if not dist.is_writer():
        return 0
    fit_options.save(args, result, data)
    if args.json:
        out = result.to_dict()
        out.update(target=data.target, source=data.source)
        if len(data.classes) == 2:
            out["positive"] = _plain(data.classes[1])
        print(json.dumps(out))
    else:
        levels = f"{len(data.classes)} classes, reference {_plain(data.classes[0])!r}"
        if len(data.classes) == 2:
            levels = f"1 = {data.classes[1]!r}"
        print(f"data: {data.source}   target: {data.target} ({levels})")
        print(result.summary())
    return 0


def unit_interval(text: str) -> float:
    """An argument type: a number in [0, 1]."""
    value = nonnegative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return value


def pairs(flag: str, text: str) -> dict[str, float]:
    """``NAME=NUMBER,...`` as a dict; a usage error for anything else."""
    out = {}
    for item in text.split(","):
        name, sep, number = item.partition("=")
        try:
            value = float(number) if sep and name.strip() else None
        except ValueError:
            value = None
        if value is None:
            raise command_error(
                "fit", f"{flag} expects NAME=NUMBER,..., got {item!r} in {text!r}"
            )
        out[name.strip()] = value
    return out


def penalty_options(args: argparse.Namespace, classes: Any) -> dict[str, Any]:
    """The penalty and class-weight keyword arguments of ``fit`` from the flags
    (target values in --class-weight mapped to the 0/1 labels of ``classes``)."""
    options: dict[str, Any] = dict(
        l2=args.l2, penalty=args.penalty, alpha=args.alpha, l1_ratio=args.l1_ratio
    )
    if args.penalty_factor is not None:
        options["penalty_factor"] = pairs("--penalty-factor", args.penalty_factor)
    weight = args.class_weight
    if weight is not None and weight != "balanced":
        if "=" not in weight:
            raise command_error(
                "fit",
                f"--class-weight must be balanced or VALUE=W,..., got {weight!r}",
            )
        labels = {str(_plain(c)): k for k, c in enumerate(classes)}
        weight = {}
        for value, w in pairs("--class-weight", args.class_weight).items():
            if value not in labels:
                raise command_error(
                    "fit",
                    f"--class-weight names {value!r}, not a value of the target "
                    f"({', '.join(labels)})",
                )
            weight[labels[value]] = w
    options["class_weight"] = weight
    return options


def on_device(xt: np.ndarray) -> Any:
    """The feature-major ``xt`` as a ``FeatureMajor`` over a JAX CPU array that shares
    its memory (no copy, so the fit holds X once) when XLA can take it as it is
    (C-contiguous and 64-byte aligned, as ``read_table`` allocates it); one copy
    otherwise (:func:`jaxlogloss.data.host.to_jax`)."""
    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.data.host import to_jax
    from jaxlogloss.precision import enable_x64

    with enable_x64(xt.dtype == np.float64):
        return FeatureMajor(to_jax(xt, xt.dtype))


def read_rows(args: argparse.Namespace, features: Any, processes: int) -> Any:
    """The data this process fits: all of it, or its own rows among several processes
    (read with the whole data set's encoding, without reading the other rows)."""
    from jaxlogloss.data.datasets import load_builtin
    from jaxlogloss.data.table import read_table

    if args.data.startswith("builtin:"):
        data = load_builtin(args.data.removeprefix("builtin:"), dtype=args.dtype)
        if args.target is not None and args.target != data.target:
            raise command_error(
                "fit",
                f"{args.data} has target {data.target!r}, not {args.target!r}",
            )
        if processes > 1:
            start, stop = own_rows(data.n_samples, processes)
            data = data.subset(np.arange(start, stop))
        return data
    if processes == 1:
        return read_table(
            args.data, target=args.target, features=features, positive=args.positive,
            weights=args.weights, dtype=storage(args.dtype), multiclass=True,
        )  # fmt: skip
    stream = _open(args, features)
    return stream.read(*own_rows(stream.n_samples, processes))


def storage(dtype: str) -> str:
    """How the CLI reads features for a fit in ``dtype``: a float64 fit reads a file's
    float32 columns as float32 ("auto": not doubled in memory; the fit still computes
    in float64, :mod:`jaxlogloss.fitting.inputs`)."""
    return "auto" if dtype == "float64" else dtype


def _open(args: argparse.Namespace, features: Any, **options: Any) -> Any:
    """DATA as a stream, with the flags' target, features, weights and dtype."""
    from jaxlogloss.data.stream import open_stream

    return open_stream(
        args.data, target=args.target, features=features, positive=args.positive,
        weights=args.weights, dtype=args.dtype, **options,
    )  # fmt: skip


def own_rows(n: int, processes: int) -> tuple[int, int]:
    """This process's rows [start, stop) of n; a usage error when some would get none."""
    import jax

    from jaxlogloss.parallel import mesh as dist

    if math.ceil(n / processes) * (processes - 1) >= n:
        raise command_error(
            "fit",
            f"{n} rows cannot give each of {processes} processes rows of its own; "
            "use fewer processes",
        )
    return dist.process_row_range(n, processes, jax.process_index())


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
