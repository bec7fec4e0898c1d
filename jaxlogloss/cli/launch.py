"""``jaxlogloss launch``: parses the flags and runs
:func:`jaxlogloss.parallel.launch.launch_local`."""

from __future__ import annotations

import argparse
import os
import sys

from jaxlogloss.cli.args import PROG, command_error, int_at_least, positive_float

NAME = "launch"
HELP = "start N local processes of a command as one jax.distributed job"
DESCRIPTION = (
    "Start N copies of COMMAND on this machine as processes 0..N-1 of one job "
    "whose coordinator listens on 127.0.0.1:PORT (a free port by default): "
    "each gets JAXLOGLOSS_COORDINATOR, JAXLOGLOSS_NUM_PROCESSES and "
    "JAXLOGLOSS_PROCESS_ID, which `jaxlogloss fit` and `jaxlogloss run` read. "
    "A COMMAND starting with `jaxlogloss` runs with this Python. Waits for all; "
    "when one fails the others are stopped; exits with the first failure's code."
)


def add_arguments(launch: argparse.ArgumentParser) -> None:
    """The flags of ``launch``."""
    launch.add_argument(
        "--local", type=int_at_least(1), required=True, metavar="N", help="processes"
    )
    launch.add_argument(
        "--port", type=int_at_least(1), metavar="PORT", help="coordinator port"
    )
    launch.add_argument(
        "--timeout", type=positive_float, metavar="SECONDS", help="stop them all after"
    )
    launch.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")


def job_command(cmd: list[str]) -> list[str]:
    """The command after ``--``; a leading ``jaxlogloss`` runs with this Python."""
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise command_error(
            "launch",
            f"give the command after --, e.g. {PROG} launch --local 2 -- {PROG} fit "
            "builtin:jackets",
        )
    if os.path.basename(cmd[0]) == PROG:
        cmd = [sys.executable, "-m", PROG, *cmd[1:]]
    return cmd


def handle(args: argparse.Namespace) -> int:
    """Start the job, wait for it; the first failure's exit code (0 when none)."""
    from jaxlogloss.parallel.launch import StartError, launch_local

    cmd = job_command(list(args.cmd))
    try:
        outcome = launch_local(cmd, args.local, port=args.port, timeout=args.timeout)
    except StartError as err:
        raise command_error("launch", str(err)) from None
    if outcome.stopped_others:
        print(f"{PROG} launch: a process failed (exit {outcome.code}); stopped the "
              "others", file=sys.stderr)  # fmt: skip
    return outcome.code
