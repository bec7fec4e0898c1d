"""The optimizer comparison (``"compare"``): the distance to the best loss reached, per
step and per second, of every log-loss run; added by the runner when a config names
several optimizers."""

from __future__ import annotations

import numpy as np

from jaxlogloss.experiments.claims.evidence import figure, table
from jaxlogloss.experiments.types import ClaimResult, Context


def optimizer_comparison(ctx: Context) -> ClaimResult:
    """Not a claim of the texts: how the named optimizers compare on one data set."""
    runs = [run for run in ctx.runs.values() if run.loss == "log_loss"]
    best = min(float(np.nanmin(run.history["loss"])) for run in runs)
    floor = 10 * float(np.finfo(ctx.train_data.xt.dtype).eps) * abs(best)  # resolution
    finals = {run.optimizer: float(run.history["loss"][-1]) for run in runs}
    r = ClaimResult(
        "compare",
        "Optimizer comparison on one data set (sgd, momentum, adam, lbfgs, newton)",
        "compare final losses: " + ", ".join(f"{k} {v:.6g}" for k, v in finals.items()),
        all(np.isfinite(v) for v in finals.values()),
        {"final_loss": finals, "best": best},
    )
    rows = [
        [run.optimizer, run.status, int(run.history["step"][-1]),
         f"{run.history['loss'][-1]:.8f}", f"{run.history['seconds'][-1]:.3f}"]
        for run in runs
    ]  # fmt: skip
    r.tables.append(
        table(["optimizer", "status", "steps", "final loss", "seconds"], rows)
    )
    caption = "Distance to the best loss vs step and vs wall-clock time."
    with figure(ctx, r, "optimizer_comparison", caption, ncols=2) as axes:
        colors = ["#1f5fa8", "#c0392b", "#27ae60", "#8e44ad", "#111111", "#e67e22"]
        for run, color in zip(runs, colors * 3, strict=False):
            h = run.history
            gap = np.maximum(np.asarray(h["loss"], np.float64) - best, floor)
            axes[0].plot(h["step"], gap, color=color, label=run.optimizer)
            axes[1].plot(h["seconds"], gap, color=color, label=run.optimizer)
        for ax, xlabel in [
            (axes[0], "step (iteration for lbfgs / newton)"),
            (axes[1], "wall-clock seconds (compilation excluded)"),
        ]:
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("loss − best loss reached (floor: rounding)")
            ax.legend(fontsize=8)
        axes[0].set_title("Optimizers: loss vs step")
        axes[1].set_title("Optimizers: loss vs time")
    return r
