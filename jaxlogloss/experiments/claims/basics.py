"""S4, S5: the per-example cost -log p (y = 1), -log(1 - p) (y = 0), and the worked
example of the source texts."""

from __future__ import annotations

import numpy as np

from jaxlogloss.experiments import figures as fg
from jaxlogloss.experiments.claims.evidence import figure, table
from jaxlogloss.experiments.claims.registry import claim
from jaxlogloss.experiments.types import ClaimResult, Context
from jaxlogloss.losses.pointwise import log_loss
from jaxlogloss.precision import enable_x64


@claim("S4")
def s4_cost_curves(ctx: Context) -> ClaimResult:
    p = np.linspace(1e-6, 1 - 1e-6, 1000)
    with enable_x64():  # compare with -log p in the same precision
        pos = np.asarray(log_loss(np.ones_like(p), p, reduction="none"))
        neg = np.asarray(log_loss(np.zeros_like(p), p, reduction="none"))
    ok = (
        np.allclose(pos, -np.log(p), rtol=1e-5)
        and np.allclose(neg, -np.log1p(-p), rtol=1e-5, atol=1e-6)
        and np.all(np.diff(pos) < 0)
        and np.all(np.diff(neg) > 0)
    )
    r = ClaimResult(
        "S4",
        "Per-example cost is -log p for y = 1 and -log(1 - p) for y = 0; confident wrong predictions cost without bound",
        f"S4 cost(y=1, p=1e-6) = {pos[0]:.3g} and cost(y=0, p=1-1e-6) = {neg[-1]:.3g} (> 13, "
        f"growing without bound as p -> 0 / 1); cost at a right p -> 0; curves match -log p, -log(1-p)",
        bool(ok and pos[0] > 13 and neg[-1] > 13 and pos[-1] < 1e-5),
        {"cost_y1_p_1e-6": float(pos[0]), "cost_y0_p_1-1e-6": float(neg[-1])},
    )
    with figure(
        ctx, r, "s4_cost_curves", "Per-example cost for y = 1 (red) and y = 0 (black)."
    ) as ax:
        ax.plot(p, pos, color=fg.RED, label="y = 1: −log p")
        ax.plot(p, neg, color=fg.BLACK, label="y = 0: −log(1 − p)")
        ax.set_ylim(0, 8)
        fg.label(ax, "predicted probability p = P(y = 1)",
                 "per-example log-loss (nats)",
                 "S4: the two cost curves", legend=9)  # fmt: skip
    return r


@claim("S5")
def s5_worked_example(ctx: Context) -> ClaimResult:
    y = np.array([1, 0, 1])
    p = np.array([0.9, 0.2, 0.6])
    each = np.asarray(log_loss(y, p, reduction="none"), np.float64)
    mean = float(log_loss(y, p))
    corrected = np.where(y == 1, p, 1 - p)
    recipe = float(-np.mean(np.log(corrected)))
    expected = np.array([0.1054, 0.2231, 0.5108])
    ok = (
        np.allclose(each, expected, atol=5e-5)
        and abs(mean - 0.2798) < 5e-5
        and abs(recipe - mean) < 1e-6
    )
    r = ClaimResult(
        "S5",
        "Worked examples give 0.1054, 0.2231, 0.5108, mean 0.2798; the corrected-probability recipe agrees",
        f"S5 per-example {', '.join(f'{v:.4f}' for v in each)}, mean {mean:.4f} (texts: 0.1054, "
        f"0.2231, 0.5108, 0.2798); corrected-probability recipe {recipe:.4f}",
        bool(ok),
        {"per_example": each.tolist(), "mean": mean, "recipe": recipe},
    )
    r.tables.append(
        table(
            [
                "example",
                "y",
                "p",
                "corrected p",
                "−log(corrected p)",
                "log_loss (library)",
            ],
            [
                [
                    i + 1,
                    y[i],
                    p[i],
                    f"{corrected[i]:.2f}",
                    f"{-np.log(corrected[i]):.4f}",
                    f"{each[i]:.4f}",
                ]
                for i in range(3)
            ]
            + [["mean", "", "", "", f"{recipe:.4f}", f"{mean:.4f}"]],
        )
    )
    return r
