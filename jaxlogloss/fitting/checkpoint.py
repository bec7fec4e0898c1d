"""Atomic checkpoints: a pytree of arrays plus JSON-able metadata in one file.

``save`` writes to a temporary file in the same directory, fsyncs it and renames it over
the target (``os.replace`` is atomic on POSIX), so a checkpoint on disk is always either
the previous complete one or the new complete one. Arrays are stored as NumPy arrays
with the pytree structure; loading gives NumPy leaves back.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

FORMAT = "jaxlogloss-checkpoint-1"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + rename).

    In a job of several processes only process 0 writes; the others skip.
    """
    if jax.process_index() != 0:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save(path: str | os.PathLike[str], tree: Any, meta: dict[str, Any]) -> None:
    """Save ``tree`` (any pytree of arrays) and ``meta`` atomically."""
    host = jax.tree.map(np.asarray, tree)
    atomic_write_bytes(
        path, pickle.dumps({"format": FORMAT, "tree": host, "meta": meta})
    )


def load(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """The (tree, meta) saved at ``path``; ValueError when the file is not a checkpoint."""
    try:
        with open(path, "rb") as f:
            payload = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError) as err:
        raise ValueError(f"checkpoint {str(path)!r} is not readable: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"checkpoint {str(path)!r} is not a {FORMAT} file")
    return payload["tree"], payload["meta"]
