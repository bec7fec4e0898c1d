"""The ``jaxlogloss`` command line: the parser and the dispatch to one module a command.

Exit codes: 0 success, 1 a check failed, 2 a usage error (one line on stderr, never a
traceback for a user mistake). This is the one place that turns a user mistake into
that line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from jaxlogloss.cli import bench, cv, fit, gradcheck, launch, predict, run
from jaxlogloss.cli.args import PROG, Parser, UsageError

COMMANDS = (gradcheck, fit, cv, predict, run, bench, launch)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command. Each module of COMMANDS gives NAME, HELP,
    DESCRIPTION, ``add_arguments(parser)`` and ``handle(args) -> exit code``."""
    parser = Parser(
        prog=PROG,
        description="jaxlogloss: the log-loss and logistic regression in JAX.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command_parser = sub.add_parser(
            command.NAME, help=command.HELP, description=command.DESCRIPTION
        )
        command.add_arguments(command_parser)
        command_parser.set_defaults(handler=command.handle)
    return parser


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
