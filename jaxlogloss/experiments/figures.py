"""Figures for reports: matplotlib on the Agg backend, saved atomically as PNG."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RED, BLACK, BLUE, GREY = "#c0392b", "#111111", "#1f5fa8", "#888888"


def new_figure(
    ncols: int = 1, width: float = 5.6, height: float = 4.0
) -> tuple[Any, Any]:
    """A figure with ``ncols`` axes side by side, readable fonts, light grids."""
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    for ax in axes[0]:
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=9)
    return fig, (axes[0] if ncols > 1 else axes[0][0])


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Save ``fig`` as PNG to ``path`` atomically (temp file + rename) and close it.

    In a job of several processes only process 0 writes; the others just close it.
    """
    path = Path(path)
    if jax.process_index() != 0:
        plt.close(fig)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def label(
    ax: Any, xlabel: str, ylabel: str, title: str, legend: int | None = None
) -> None:
    """Name the axes and title them; ``legend``: add a legend in this font size."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend is not None:
        ax.legend(fontsize=legend)
