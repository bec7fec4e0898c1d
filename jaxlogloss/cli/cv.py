"""``jaxlogloss cv``: cross-validate a penalised logistic regression over an alpha grid.

Prints the CV table (alpha, mean score, SE, nonzero coefficients of the refit are in
the JSON) or one JSON object, and optionally draws the CV curve.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from jaxlogloss.cli.args import command_error, int_at_least, positive_float

NAME = "cv"
HELP = "cross-validate a penalised logistic regression (L1, L2, elastic net)"
DESCRIPTION = (
    "K-fold stratified cross-validation of mean log-loss + alpha * (l1_ratio * "
    "||w||_1 + (1 - l1_ratio)/2 * ||w||^2) over a decreasing alpha grid (warm-started "
    "paths; every fold in one compiled program), then a refit on all rows at "
    "alpha_min. Prints alpha_min (the best mean score), alpha_1se (the largest alpha "
    "within one standard error of the best) and the refit's coefficients. DATA is a "
    "CSV/Parquet file, a directory of them, or builtin:NAME. Bad values exit 2 with "
    "one line on stderr."
)
SCORING_CHOICES = ("log_loss", "roc_auc", "accuracy", "brier")


def add_arguments(cv: argparse.ArgumentParser) -> None:
    """The flags of ``cv``."""
    cv.add_argument("data", metavar="DATA", help="data file, directory or builtin:NAME")
    cv.add_argument("--target", help="target column (two distinct values)")
    cv.add_argument("--positive", help="the target value counted as 1")
    cv.add_argument("--features", help="comma-separated feature columns")
    cv.add_argument("--weights", help="column of non-negative sample weights")
    cv.add_argument("--penalty", choices=("l1", "l2", "elasticnet"), default="l1")
    cv.add_argument(
        "--l1-ratio",
        default="0.5",
        metavar="R",
        help="elastic net mix in [0, 1], or a comma-separated list to choose from "
        "(penalty elasticnet; default 0.5)",
    )
    grid = cv.add_mutually_exclusive_group()
    grid.add_argument("--alphas", type=int_at_least(1), default=100, metavar="N",
                      help="N log-spaced alphas from alpha_max down (default 100)")  # fmt: skip
    grid.add_argument("--alpha-list", metavar="A,B,...", help="explicit alphas")
    cv.add_argument("--folds", type=int, default=5, metavar="K", help="default 5")
    cv.add_argument("--scoring", choices=SCORING_CHOICES, default="log_loss")
    cv.add_argument("--seed", type=int, default=0, help="fold assignment seed")
    cv.add_argument(
        "--class-weight",
        metavar="W",
        help="'balanced' (n / (2 n_k)) or '0=W0,1=W1' (weights of the 0/1 classes)",
    )
    cv.add_argument("--max-iter", type=int_at_least(1), default=100)
    cv.add_argument(
        "--tol", type=positive_float,
        help="per-point KKT tolerance (default 1e-8 in float64, 1e-5 in float32)",
    )  # fmt: skip
    cv.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    cv.add_argument("--json", action="store_true", help="print one JSON object")
    cv.add_argument("--plot", metavar="FILE", help="PNG of the CV curve")


def parse_numbers(flag: str, text: str, low: float, high: float) -> list[float]:
    """'0.5' or '0.2,0.5,1': comma-separated numbers in [low, high]."""
    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise command_error(NAME, f"{flag} expects numbers, got {text!r}") from None
        if not low <= value <= high:
            raise command_error(NAME, f"{flag}: {value} is outside [{low:g}, {high:g}]")
        out.append(value)
    return out


def parse_class_weight(text: str | None) -> Any:
    """None, 'balanced' or '0=W0,1=W1' -> a mapping {0: W0, 1: W1}."""
    if text is None or text == "balanced":
        return text
    mapping = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        try:
            label, weight = int(key), float(value)
        except ValueError:
            label, weight = -1, math.nan
        if not sep or label not in (0, 1) or not 0 < weight < math.inf:
            raise command_error(
                NAME,
                f"--class-weight must be 'balanced' or '0=W0,1=W1' with W > 0, got "
                f"{text!r}",
            )
        mapping[label] = weight
    return mapping


def load(args: argparse.Namespace) -> Any:
    """DATA as a TabularData (a built-in set or a file)."""
    from jaxlogloss.data.datasets import load_builtin
    from jaxlogloss.data.table import read_table

    if args.data.startswith("builtin:"):
        if args.features or args.weights or args.positive:
            raise command_error(
                NAME,
                f"--features, --weights and --positive apply to files, not {args.data}",
            )
        data = load_builtin(args.data.removeprefix("builtin:"), dtype=args.dtype)
        if args.target is not None and args.target != data.target:
            raise command_error(
                NAME, f"{args.data} has target {data.target!r}, not {args.target!r}"
            )
        return data
    if args.target is None:
        raise command_error(NAME, "--target COL is required for a file")
    features = None
    if args.features is not None:
        features = [f.strip() for f in args.features.split(",")]
    return read_table(
        args.data, target=args.target, features=features, positive=args.positive,
        weights=args.weights, dtype=args.dtype,
    )  # fmt: skip


def handle(args: argparse.Namespace) -> int:
    """Cross-validate DATA; print the table or the JSON; draw the curve if asked."""
    from jaxlogloss.fitting.cv import cv

    ratios = parse_numbers("--l1-ratio", args.l1_ratio, 0.0, 1.0)
    alphas = None
    if args.alpha_list:
        alphas = parse_numbers("--alpha-list (alphas)", args.alpha_list, 0.0, math.inf)
    class_weight = parse_class_weight(args.class_weight)
    if args.folds < 2:
        raise command_error(NAME, f"--folds must be >= 2, got {args.folds}")
    data = load(args)
    result = cv(
        data, penalty=args.penalty, l1_ratio=ratios if len(ratios) > 1 else ratios[0],
        alphas=alphas, n_alphas=args.alphas, folds=args.folds, scoring=args.scoring,
        seed=args.seed, class_weight=class_weight, tol=args.tol,
        max_iter=args.max_iter, dtype=args.dtype,
    )  # fmt: skip
    if args.plot:
        from jaxlogloss.experiments.path_figures import cv_figure

        cv_figure(result, args.plot)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(f"data: {data.source}   target: {data.target} (1 = {data.classes[1]!r})")
    print(summary(result))
    return 0


def summary(result: Any) -> str:
    """The CV table and the refit's nonzero coefficients, as text."""
    lines = [
        f"penalty {result.penalty}  l1_ratio {result.l1_ratio:g}  scoring "
        f"{result.scoring}  folds {result.fold_scores.shape[1]}",
        f"alpha_min {result.alpha_min:.6g}   alpha_1se {result.alpha_1se:.6g}",
        f"{'alpha':>12} {'mean':>12} {'se':>10}",
    ]
    for a, m, s in zip(result.alphas, result.mean_score, result.se_score, strict=True):
        mark = " <- min" if a == result.alpha_min else ""
        mark += " <- 1se" if a == result.alpha_1se else ""
        lines.append(f"{a:12.6g} {m:12.6g} {s:10.3g}{mark}")
    lines.append(f"refit at alpha_min: intercept {result.intercept:.6g}")
    for name, c in zip(result.feature_names, result.coef, strict=True):
        if c != 0:
            lines.append(f"  {name:<24} {c: .6g}")
    return "\n".join(lines)
