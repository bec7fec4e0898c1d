"""``jaxlogloss run``: an experiment config (or a folder of them) to its evidence."""

from __future__ import annotations

import argparse
import os
import sys

from jaxlogloss.cli.cluster import add_cluster_arguments, join

NAME = "run"
HELP = "run an experiment config (or a folder of them) and write its evidence"
DESCRIPTION = (
    "Run a TOML experiment config -- or every *.toml in a folder -- compiled, and "
    "write config.toml (resolved), metrics.json, history.jsonl, figures/*.png and "
    "report.md with each claim's check and PASS/FAIL into the output folder (a "
    "folder of configs gets one sub-folder each and an index.md). Files are "
    "written atomically; an interrupted run resumes from its checkpoints; a "
    "finished run is not recomputed unless --force."
)


def add_arguments(run: argparse.ArgumentParser) -> None:
    """The flags of ``run``."""
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
    add_cluster_arguments(run)


def handle(args: argparse.Namespace) -> int:
    """Run the config(s); process 0 prints the report and logs progress on stderr."""
    from pathlib import Path

    from jaxlogloss.experiments.runner import run_path
    from jaxlogloss.parallel.mesh import is_writer

    path = Path(args.path)
    out = args.out or (
        "results" if path.is_dir() else os.path.join("results", path.stem)
    )
    mesh = join(args)
    writer = is_writer()
    report = run_path(
        path, out, overrides=args.overrides, quick=args.quick, force=args.force,
        log=lambda text: print(text, file=sys.stderr) if writer else None, mesh=mesh,
    )  # fmt: skip
    if writer:
        print(report)
    return 0
