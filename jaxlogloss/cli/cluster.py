"""The flags that make ``fit`` and ``run`` one process of a jax.distributed job."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from jaxlogloss.cli.args import PROG, UsageError, int_at_least


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """``--coordinator``, ``--num-processes``, ``--process-id`` (or the environment)."""
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
        type=int_at_least(1),
        metavar="N",
        help="processes in the job (env JAXLOGLOSS_NUM_PROCESSES)",
    )
    group.add_argument(
        "--process-id",
        type=int_at_least(0),
        metavar="I",
        help="this process, 0..N-1 (env JAXLOGLOSS_PROCESS_ID)",
    )


def join(args: argparse.Namespace) -> Any:
    """Join the job the flags or environment name (if any); the data mesh or None."""
    import jax

    from jaxlogloss.parallel import mesh as dist

    settings = dist.process_settings(
        args.coordinator, args.num_processes, args.process_id
    )
    if settings is not None:
        keep_stdout_for_results()
        try:
            dist.initialize(*settings)
        except Exception as err:  # the runtime's own message, on one line
            text = " ".join(str(err).split())[:300]
            raise UsageError(
                f"{PROG}: error: could not join the job at {settings[0]} as process "
                f"{settings[2]} of {settings[1]}: {text}"
            ) from None
    return dist.data_mesh() if jax.device_count() > 1 else None


def keep_stdout_for_results() -> None:
    """Send what the collectives' C++ libraries print (gloo's "Rank 0 is connected")
    to stderr, so stdout carries only the results (a --json stays parseable)."""
    sys.stdout.flush()
    results = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(results, "w", buffering=1)
