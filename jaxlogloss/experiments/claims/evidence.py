"""What every claim uses to gather its evidence: the data as arrays, a training run by
loss, markdown tables, and figures saved into a result."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from jaxlogloss.experiments import figures as fg
from jaxlogloss.experiments.schema import ConfigError
from jaxlogloss.experiments.types import ClaimResult, Context, Run


def xy(ctx: Context, part: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the training rows (``part="test"``: the held-out ones, if any) in
    float64."""
    data = ctx.train_data if part == "train" else (ctx.test_data or ctx.train_data)
    return np.asarray(data.X, np.float64), np.asarray(data.y, np.float64)


def run_of(ctx: Context, loss: str) -> Run:
    """The first training run of ``loss``; a ConfigError when the config has none."""
    for run in ctx.runs.values():
        if run.loss == loss:
            return run
    raise ConfigError(
        f"{ctx.config.source}: this claim needs a training run with loss {loss!r} in "
        "loss.names"
    )


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


@contextmanager
def figure(
    ctx: Context, r: ClaimResult, name: str, caption: str, **layout: Any
) -> Iterator[Any]:
    """``with figure(ctx, r, name, caption) as ax:`` draw in a new figure
    (:func:`~jaxlogloss.experiments.figures.new_figure`'s ``layout``: ncols, width); on
    leaving, it is saved as ``figures/<name>.png`` and listed in ``r`` (closed unsaved
    when figures are disabled or the drawing failed)."""
    fig, axes = fg.new_figure(**layout)
    try:
        yield axes
    except BaseException:
        fg.plt.close(fig)
        raise
    if ctx.figures_enabled:
        path = fg.save_figure(fig, ctx.figure_path(name), ctx.dpi)
        r.figures.append((f"figures/{path.name}", caption))
    else:
        fg.plt.close(fig)
