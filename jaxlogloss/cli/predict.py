"""``jaxlogloss predict``: apply a saved model (``fit --save``) to new rows."""

from __future__ import annotations

import argparse
import sys

from jaxlogloss.cli.args import int_at_least

NAME = "predict"
HELP = "apply a model saved by `fit --save` to a CSV/Parquet file"
DESCRIPTION = """Encode the rows of DATA as the fit encoded its data (the same
columns, one-hot levels and dropped levels) and write them to OUT (.csv or .parquet)
with two more columns: probability (P(positive class)) and prediction (the class);
a multinomial model writes one probability[level] column per class instead. OUT
is written atomically: an unseen category level, a missing feature column, a missing or
NaN value in a used column, or a model file of a newer format exits 2 with one line on
stderr and writes nothing."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``predict``."""
    parser.add_argument("model", metavar="MODEL", help="model JSON from `fit --save`")
    parser.add_argument("data", metavar="DATA", help="CSV/Parquet file or directory")
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="output .csv or .parquet file"
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="read and write in record batches (memory bounded by --batch-rows)",
    )
    parser.add_argument("--batch-rows", type=int_at_least(1), default=65536,
                        metavar="N", help="rows per batch with --stream")  # fmt: skip


def handle(args: argparse.Namespace) -> int:
    """Load MODEL, score DATA, write OUT; one line on stderr with the count."""
    from jaxlogloss.fitting.apply import output_format, predict_file
    from jaxlogloss.fitting.load import load_model

    output_format("predict", args.out)  # before reading anything
    model = load_model(args.model)
    rows = predict_file(
        model, args.data, args.out, stream=args.stream, batch_rows=args.batch_rows
    )
    print(f"predict: wrote {rows} rows to {args.out}", file=sys.stderr)
    return 0
