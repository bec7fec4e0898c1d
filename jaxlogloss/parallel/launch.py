"""Start N local processes of one command as the processes 0..N-1 of one job.

Process i gets ``JAXLOGLOSS_COORDINATOR=127.0.0.1:PORT``,
``JAXLOGLOSS_NUM_PROCESSES=N`` and ``JAXLOGLOSS_PROCESS_ID=i`` (read by
:func:`jaxlogloss.parallel.mesh.process_settings`); process 0 hosts the coordinator.
:func:`wait_all` waits for every process; when one fails (or the timeout passes, or
^C) the others are stopped, and the job's exit code is the first failure's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from jaxlogloss.parallel.mesh import ENV_COORDINATOR, ENV_NUM_PROCESSES, ENV_PROCESS_ID

HOST = "127.0.0.1"
TIMEOUT_EXIT = 124
INTERRUPT_EXIT = 130
POLL_SECONDS = 0.05
STOP_SECONDS = 10


class StartError(OSError):
    """A process of the job could not start (those already started were killed)."""


class Outcome(NamedTuple):
    """How a job ended: its exit code, and whether a failure stopped the others."""

    code: int
    stopped_others: bool


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that is free now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def process_env(
    port: int, num_processes: int, process_id: int, base: Mapping[str, str]
) -> dict[str, str]:
    """``base`` plus the three variables that make a process ``process_id`` of the job."""
    env = dict(base)
    env[ENV_COORDINATOR] = f"{HOST}:{port}"
    env[ENV_NUM_PROCESSES] = str(num_processes)
    env[ENV_PROCESS_ID] = str(process_id)
    return env


def start_local(
    cmd: Sequence[str], num_processes: int, port: int
) -> list[subprocess.Popen]:
    """Start ``cmd`` as processes 0..num_processes-1 of one job on this machine.

    Raises :class:`StartError` when one cannot start, after killing those started.
    """
    procs: list[subprocess.Popen] = []
    for i in range(num_processes):
        env = process_env(port, num_processes, i, os.environ)
        try:
            procs.append(subprocess.Popen(list(cmd), env=env))
        except OSError as err:
            for p in procs:
                p.kill()
            raise StartError(f"cannot start {cmd[0]!r}: {err}") from err
    return procs


def wait_all(procs: Sequence[subprocess.Popen], timeout: float | None) -> Outcome:
    """Wait for every process; on a failure, the timeout or ^C stop the rest."""
    deadline = None if timeout is None else time.monotonic() + timeout
    failed = 0
    try:
        while any(p.poll() is None for p in procs):
            codes = [p.returncode for p in procs if p.returncode not in (None, 0)]
            timed_out = deadline is not None and time.monotonic() > deadline
            if codes or timed_out:
                failed = codes[0] if codes else TIMEOUT_EXIT
                break
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        failed = INTERRUPT_EXIT
    stop(procs)
    if failed:
        return Outcome(failed, True)
    codes = [p.returncode for p in procs if p.returncode != 0]
    return Outcome(codes[0] if codes else 0, False)


def stop(procs: Sequence[subprocess.Popen]) -> None:
    """Terminate the processes still running; kill those that outlive STOP_SECONDS."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def launch_local(
    cmd: Sequence[str],
    num_processes: int,
    port: int | None = None,
    timeout: float | None = None,
) -> Outcome:
    """Start ``cmd`` as a job of ``num_processes`` local processes and wait for it."""
    procs = start_local(cmd, num_processes, free_port() if port is None else port)
    return wait_all(procs, timeout)
