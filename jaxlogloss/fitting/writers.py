"""Where training scalars go: a tiny writer interface (after CommonLoopUtils).

The training loop calls ``writer.write_scalars(step, {"loss": ..., ...})`` once per
chunk and ``writer.close()`` at the end; it does not know whether the numbers go to a
JSONL file, a progress bar or nowhere.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Writer(Protocol):
    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None: ...

    def close(self) -> None: ...


class NullWriter:
    """Discards everything."""

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def _json_number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class JsonlWriter:
    """Appends one JSON object per call: ``{"step": ..., "loss": ..., ...}``.

    Each line is flushed and fsynced, so an interrupted run keeps every complete line.
    Non-finite numbers are written as null.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        row: dict[str, Any] = {"step": int(step)}
        row.update({k: _json_number(float(v)) for k, v in scalars.items()})
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


class ProgressWriter:
    """A rich progress bar over the step budget showing the latest scalars."""

    def __init__(self, total_steps: int, description: str = "training") -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[scalars]}"),
            transient=False,
        )
        self._task = self._progress.add_task(description, total=total_steps, scalars="")
        self._progress.start()

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        text = " ".join(f"{k}={float(v):.4g}" for k, v in scalars.items())
        self._progress.update(self._task, completed=step, scalars=text)

    def close(self) -> None:
        self._progress.stop()


class MultiWriter:
    """Sends every call to each of ``writers``."""

    def __init__(self, writers: Sequence[Writer]) -> None:
        self._writers = list(writers)

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        for w in self._writers:
            w.write_scalars(step, scalars)

    def close(self) -> None:
        for w in self._writers:
            w.close()
