"""One background worker per process for compiles that overlap the caller's.

XLA compiles without holding the GIL, so a program compiled on another thread while
the caller compiles (or runs) its own overlaps on two cores
(:func:`jaxlogloss.fitting.host_loop.compile_curvature`). The worker is one daemon
thread, started on first use, fed by a queue and never joined.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any


class BackgroundCompiler:
    """One daemon thread per process that compiles programs in the background, fed
    by a queue and never joined: XLA compiled from short-lived threads aborted the
    process at exit now and then ("terminate called without an active exception",
    2 of 72 fresh processes; none of 72 with the compile in the caller's thread)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] | None = None  # made with its worker
        self._pid: int | None = None  # the process whose worker serves the queue
        self._lock = threading.Lock()

    def submit(self, work: Any) -> threading.Event:
        """Run ``work()`` on the worker; the returned event is set when it is done
        (``wait()`` on it before using what it compiled)."""
        with self._lock:
            if self._pid != os.getpid():
                # first use, or a forked child: the parent's worker is not here
                self._pid, self._queue = os.getpid(), queue.SimpleQueue()
                threading.Thread(
                    target=self._serve,
                    args=(self._queue,),
                    name="jaxlogloss-compile",
                    daemon=True,
                ).start()
            jobs = self._queue
        assert jobs is not None
        done = threading.Event()
        jobs.put((work, done))
        return done

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[Any]) -> None:
        while True:
            work, done = jobs.get()
            try:
                work()
            except Exception:  # noqa: BLE001 - the call itself compiles and reports it
                pass
            finally:
                done.set()


BACKGROUND = BackgroundCompiler()
