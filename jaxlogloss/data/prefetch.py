"""A generator run ahead of its consumer in a background thread.

:func:`prefetched` lets the slow part of a pipeline (reading and encoding files) run
while the consumer works on the items it already has, holding at most ``size`` items in
between; an exception in the thread is raised in the consumer, and a consumer that
stops early stops the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_POLL_S = 0.05  # how often a blocked producer thread checks whether to stop
_JOIN_S = 5.0  # how long a closed consumer waits for the producer thread


class _Failed:
    """An exception raised in the reader thread, to raise in the consumer."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


def prefetched(source: Generator[T, None, None], size: int) -> Iterator[T]:
    """``source``'s items, produced in a daemon thread up to ``size`` items ahead.

    An exception in the thread is raised here; closing this generator (a ``break``
    out of the loop, ``close()``, garbage collection) stops the thread, which notices
    at its next hand-over and closes ``source``.
    """
    q: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                pass
        return False

    def work() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as err:  # any: re-raised in the consumer
            put(_Failed(err))
        finally:
            source.close()

    thread = threading.Thread(target=work, name="jaxlogloss-stream-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(_JOIN_S)
