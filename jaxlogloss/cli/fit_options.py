"""``jaxlogloss fit``'s statistics flags: --offset, --cov-type, --groups and --save.

``--offset COL`` and ``--groups COL`` name columns of DATA that are not features (left
out of the default "every other column"): the offset is added to every logit, the
groups are the clusters of ``--cov-type cluster``. ``--save FILE`` writes the fitted
model as one JSON document (:mod:`jaxlogloss.fitting.persist`) for
``jaxlogloss predict``.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from jaxlogloss.cli.args import command_error

_PANDAS_INDEX_PREFIX = "__index_level_"


def add_arguments(fit: argparse.ArgumentParser) -> None:
    """The statistics flags of ``fit``."""
    fit.add_argument(
        "--offset",
        metavar="COL",
        help="numeric column added to every logit (z = X w + b + offset; not a "
        "feature); statsmodels GLM(offset=)",
    )
    fit.add_argument(
        "--cov-type",
        choices=("nonrobust", "HC0", "cluster"),
        default="nonrobust",
        help="standard errors from the Hessian (nonrobust, default), the sandwich "
        "(HC0) or clustered by --groups (cluster)",
    )
    fit.add_argument(
        "--groups", metavar="COL", help="cluster column for --cov-type cluster"
    )
    fit.add_argument(
        "--save",
        metavar="FILE",
        help="write the fitted model (coefficients, covariance, encoding) as JSON, "
        "for `jaxlogloss predict`",
    )


def check(args: argparse.Namespace) -> None:
    """Usage errors of the statistics flags (before reading anything)."""
    extra = [f for f in ("offset", "groups") if getattr(args, f)]
    if (args.cov_type == "cluster") != (args.groups is not None):
        raise command_error("fit", "--cov-type cluster and --groups COL go together")
    if extra and args.data.startswith("builtin:"):
        raise command_error("fit", f"--offset and --groups apply to files, not to "
                            f"{args.data}")  # fmt: skip
    if args.offset and args.stream:
        raise command_error(
            "fit", "--offset needs the data in memory; leave out --stream"
        )


def extra_columns(
    args: argparse.Namespace, features: list[str] | None
) -> tuple[list[str] | None, dict[str, Any]]:
    """The feature list without the offset / groups columns, and the fit's keyword
    arguments for them (``offset=``, ``groups=``)."""
    names = [c for c in (args.offset, args.groups) if c]
    if not names:
        return features, {}
    from jaxlogloss.data.new_rows import numeric_column, read_columns

    for name in names:
        if name == args.target or name == args.weights:
            raise command_error("fit", f"column {name!r} cannot be both the target "
                                "or weights and --offset/--groups")  # fmt: skip
        if features is not None and name in features:
            raise command_error(
                "fit", f"column {name!r} is in --features and is --offset/--groups"
            )
    columns, available, origin = read_columns("fit", args.data, names)
    if features is None:
        skip = {args.target, args.weights, *names}
        features = [
            c for c in available
            if c not in skip and not c.startswith(_PANDAS_INDEX_PREFIX)
        ]  # fmt: skip
    options: dict[str, Any] = {}
    if args.offset:
        options["offset"] = numeric_column(
            "fit", columns[args.offset], args.offset, origin
        )
    if args.groups:
        options["groups"] = columns[args.groups].to_numpy()
    return features, options


def save(args: argparse.Namespace, result: Any, data: Any) -> None:
    """``--save FILE``: the model with the encoding DATA was read with."""
    if not args.save:
        return
    from jaxlogloss.data.codebook import codebook_of

    book = dataclasses.replace(
        codebook_of(data, result.feature_names), offset=args.offset
    )
    dataclasses.replace(result, codebook=book).save(args.save)
