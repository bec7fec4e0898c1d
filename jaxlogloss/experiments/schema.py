"""What an experiment config is: one frozen dataclass per TOML section.

Every field has its documented default; :mod:`jaxlogloss.experiments.config` reads and
validates TOML into these classes. They live apart from the validation so that the
claims (which read a config) and the config (which checks claim ids against the claims'
registry) do not import each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from jaxlogloss.metrics import DEFAULT_METRICS


class ConfigError(ValueError):
    """A bad config: one line naming the file and the key."""


@dataclass(frozen=True)
class DataConfig:
    source: str = "gaussian"  # one of config.DATA_SOURCES
    path: str = ""  # for source = "file": CSV/Parquet, relative to the config file
    target: str = ""  # for source = "file"
    positive: str = ""  # for source = "file": the label counted as 1 ("" = default)
    features: list[str] = field(default_factory=list)  # for source = "file" ([] = all)
    weights: str = ""  # for source = "file": a weights column ("" = none)
    n: int = 1000  # rows for generated data
    d: int = 2  # features for gaussian / separable
    separation: float = 2.0  # gaussian: distance between the class means
    margin: float = 0.5  # separable: the least distance of a point to the boundary
    noise: float = 1.0  # gaussian: within-class standard deviation
    classes: int = 2  # multinomial: K >= 3 classes of the generated softmax data
    seed: int = 0
    test_size: float = 0.25  # share of rows held out for evaluation
    dtype: str = "float32"  # float32 | float64


@dataclass(frozen=True)
class ModelConfig:
    init_scale: float = 0.0  # initial weights: init_scale * N(0, 1) (0: zeros)
    standardize: bool = True  # train on standardised features (a change of parameters)


@dataclass(frozen=True)
class LossConfig:
    names: list[str] = field(default_factory=lambda: ["log_loss"])  # registered losses
    l2: float = 0.0  # alpha of (alpha/2)||w||^2 on the mean loss (training runs)
    penalty: str = "l2"  # none | l1 | l2 | elasticnet: the penalised fits' penalty
    alpha: float = 0.0  # its strength: alpha (l1_ratio |w|_1 + (1 - l1_ratio)/2 |w|^2)
    l1_ratio: float = 0.5  # the elastic net mix, in [0, 1] (penalty "elasticnet")
    class_weight: str = ""  # "" (none) | "balanced" (n / (2 n_k))


@dataclass(frozen=True)
class OptimizerConfig:
    name: list[str] = field(
        default_factory=lambda: ["adam"]
    )  # config.optimizer_names()
    learning_rate: float = 0.05  # first-order optimizers
    momentum: float = 0.9  # for "momentum"
    nesterov: bool = False


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 500  # step budget (iterations for newton / lbfgs)
    batch_size: int = 0  # 0: full batch
    chunk_size: int = 50  # steps per compiled chunk (history and checkpoints between)
    tol: float = 0.0  # stop when ||grad||_inf <= tol (0: use the whole budget)
    seed: int = 0  # minibatch order


@dataclass(frozen=True)
class SweepConfig:
    inits: int = 0  # random initial points trained in one vmapped call (0: none)
    init_scale: float = 4.0  # their spread: init_scale * N(0, 1)
    steps: int = 300  # steps of each vmapped run
    learning_rate: float = 0.5  # of the vmapped runs (sgd)
    seed: int = 0


@dataclass(frozen=True)
class SeparationConfig:
    """Claims F1-F3 (experiments/09_separation.toml): separable data."""

    margins: list[float] = field(
        default_factory=lambda: [1.0, 0.5, 0.25, 0.1]
    )  # F3: the margins of the separable data sets, largest first
    steps: int = 10000  # F1, F3: gradient-descent steps of the maximum-likelihood run
    learning_rate: float = 1.0  # of that run (on standardised features)
    l2: float = 0.01  # F2, F3: alpha of the L2 fits, (alpha/2)||w||^2


@dataclass(frozen=True)
class MetricsConfig:
    names: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))


@dataclass(frozen=True)
class FiguresConfig:
    enabled: bool = True
    dpi: int = 110
    grid: int = 81  # resolution of loss-surface grids


@dataclass(frozen=True)
class ExperimentConfig:
    title: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    separation: SeparationConfig = field(default_factory=SeparationConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    figures: FiguresConfig = field(default_factory=FiguresConfig)
    claims: list[str] = field(default_factory=list)
    source: str = field(default="<memory>", compare=False)  # where it was read from

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("source")
        return out


TOP_LEVEL = tuple(
    f.name for f in dataclasses.fields(ExperimentConfig) if f.name != "source"
)


TOP_LEVEL = tuple(
    f.name for f in dataclasses.fields(ExperimentConfig) if f.name != "source"
)
