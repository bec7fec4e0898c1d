"""Figures of regularisation: the coefficient path and the cross-validation curve.

matplotlib (Agg) loads with this module only; ``import jaxlogloss`` never imports it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from jaxlogloss.experiments.figures import (
    BLACK,
    BLUE,
    GREY,
    RED,
    label,
    new_figure,
    save_figure,
)

SCORE_NAMES = {
    "log_loss": "held-out log-loss",
    "brier": "held-out Brier score",
    "roc_auc": "held-out ROC AUC",
    "accuracy": "held-out accuracy",
}


def draw_path(ax: Any, result: Any, max_labels: int = 8) -> None:
    """Coefficients (raw features) against log10 alpha, one line a feature; the
    ``max_labels`` largest at the smallest alpha are named in the legend."""
    x = np.log10(result.alphas)
    coef = np.asarray(result.coef)
    order = np.argsort(-np.abs(coef[-1]))
    names = list(result.feature_names) or [f"x{j}" for j in range(coef.shape[1])]
    for rank, j in enumerate(order):
        named = rank < max_labels
        ax.plot(
            x, coef[:, j], lw=1.2 if named else 0.7,
            color=None if named else GREY, label=names[j] if named else None,
        )  # fmt: skip
    ax.axhline(0.0, color=BLACK, lw=0.6)
    ax.invert_xaxis()
    title = f"{result.penalty} path (l1_ratio {result.l1_ratio:g})"
    label(ax, "log10 alpha", "coefficient", title, legend=7)


def draw_cv(ax: Any, result: Any) -> None:
    """The mean held-out score against log10 alpha with one-SE error bars, and
    alpha_min / alpha_1se marked."""
    x = np.log10(result.alphas)
    ax.errorbar(
        x, result.mean_score, yerr=result.se_score, fmt="o-", ms=3, lw=1,
        color=BLUE, ecolor=GREY, capsize=2, label="mean over folds (+/- 1 SE)",
    )  # fmt: skip
    ax.axvline(np.log10(result.alpha_min), color=RED, ls="--", label="alpha_min")
    ax.axvline(np.log10(result.alpha_1se), color=BLACK, ls=":", label="alpha_1se")
    ax.invert_xaxis()
    title = f"{len(result.fold_scores[0])}-fold CV, {result.penalty}"
    label(ax, "log10 alpha", SCORE_NAMES[result.scoring], title, legend=7)


def path_figure(result: Any, path: str | os.PathLike[str]) -> Path:
    """Save the coefficient path of a :class:`~jaxlogloss.fitting.path.PathResult`."""
    fig, ax = new_figure()
    draw_path(ax, result)
    return save_figure(fig, path)


def cv_figure(result: Any, path: str | os.PathLike[str]) -> Path:
    """Save the CV curve of a :class:`~jaxlogloss.fitting.cv.CVResult`."""
    fig, ax = new_figure()
    draw_cv(ax, result)
    return save_figure(fig, path)
