"""What the runner and the claims pass each other: training runs, a claim's evidence, and
the context a claim is checked in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jaxlogloss.data.table import TabularData
from jaxlogloss.experiments.schema import ExperimentConfig
from jaxlogloss.model.params import LinearParams


@dataclass
class Run:
    """One training run: a loss trained by one optimizer.

    ``history`` has one entry per record: step, seconds, loss, grad_norm, metrics."""

    loss: str
    optimizer: str
    params: LinearParams
    status: str
    history: dict[str, np.ndarray]


@dataclass
class ClaimResult:
    """The evidence for one claim: a numeric check and its verdict, figures, tables."""

    id: str
    statement: str
    check: str
    passed: bool
    numbers: dict[str, Any] = field(default_factory=dict)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file, caption)
    tables: list[str] = field(default_factory=list)  # markdown


@dataclass
class Context:
    """What claims see: the config, the data, the training runs, where figures go."""

    config: ExperimentConfig
    out: Path
    data: TabularData
    train_data: TabularData
    test_data: TabularData | None
    runs: dict[str, Run]

    def figure_path(self, name: str) -> Path:
        return self.out / "figures" / f"{name}.png"

    @property
    def dpi(self) -> int:
        return self.config.figures.dpi

    @property
    def figures_enabled(self) -> bool:
        return self.config.figures.enabled
