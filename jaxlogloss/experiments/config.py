"""Experiment configs: TOML files read with ``tomllib`` and validated into dataclasses.

A config has the top-level keys of :data:`TOP_LEVEL` -- ``title``, the sections
``data``, ``model``, ``loss``, ``optimizer``, ``train``, ``sweep``, ``metrics``,
``figures``, and ``claims`` (a list of claim ids S1-S13, see
:mod:`jaxlogloss.claims`). Every section and key is optional and has a documented
default (the dataclass fields below). Validation rejects unknown keys by name, wrong
types and out-of-range values, each with one line naming the key:
``config 'x.toml': unknown key 'trian'; expected one of: title, data, model, ...``.

``--set section.key=value`` overrides a key after reading (the value is parsed as TOML,
so ``--set train.steps=200`` is an integer and ``--set optimizer.name=["sgd","adam"]`` a
list; a bare word is a string). :func:`quick` shrinks budgets for a fast end-to-end run.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jaxlogloss.solvers.first_order import OPTIMIZERS

DATA_SOURCES = ("gaussian", "separable", "jackets", "breast_cancer", "file")
CONFIG_LOSSES = ("log_loss", "mse", "squared_error")
# optimizer names: optax's, "momentum" (sgd with momentum 0.9) and the two solvers
OPTIMIZER_NAMES = (*OPTIMIZERS, "momentum", "newton")
METRIC_NAMES = ("log_loss", "accuracy", "roc_auc", "brier", "ece")
CLAIM_IDS = tuple(f"S{i}" for i in range(1, 14))


class ConfigError(ValueError):
    """A bad config: one line naming the file and the key."""


@dataclass(frozen=True)
class DataConfig:
    source: str = "gaussian"  # one of DATA_SOURCES
    path: str = ""  # for source = "file": CSV/Parquet, relative to the config file
    target: str = ""  # for source = "file"
    positive: str = ""  # for source = "file": the label counted as 1 ("" = default)
    features: list[str] = field(default_factory=list)  # for source = "file" ([] = all)
    weights: str = ""  # for source = "file": a weights column ("" = none)
    n: int = 1000  # rows for generated data
    d: int = 2  # features for gaussian / separable
    separation: float = 2.0  # gaussian: distance between the class means
    noise: float = 1.0  # gaussian: within-class standard deviation
    seed: int = 0
    test_size: float = 0.25  # share of rows held out for evaluation
    dtype: str = "float32"  # float32 | float64


@dataclass(frozen=True)
class ModelConfig:
    init_scale: float = 0.0  # initial weights: init_scale * N(0, 1) (0: zeros)
    standardize: bool = True  # train on standardised features (a change of parameters)


@dataclass(frozen=True)
class LossConfig:
    names: list[str] = field(default_factory=lambda: ["log_loss"])  # CONFIG_LOSSES
    l2: float = 0.0  # alpha of (alpha/2)||w||^2 on the mean loss


@dataclass(frozen=True)
class OptimizerConfig:
    name: list[str] = field(default_factory=lambda: ["adam"])  # OPTIMIZER_NAMES
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
class MetricsConfig:
    names: list[str] = field(default_factory=lambda: list(METRIC_NAMES))


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

# (section, key) -> (check, expectation) for ranges and choices
_CHECKS: dict[tuple[str, str], tuple[Any, str]] = {
    ("data", "source"): (
        lambda v: v in DATA_SOURCES,
        f"one of {', '.join(DATA_SOURCES)}",
    ),
    ("data", "n"): (lambda v: v >= 4, "an integer >= 4"),
    ("data", "d"): (lambda v: v >= 1, "an integer >= 1"),
    ("data", "separation"): (lambda v: v >= 0, "a number >= 0"),
    ("data", "noise"): (lambda v: v > 0, "a number > 0"),
    ("data", "seed"): (lambda v: v >= 0, "an integer >= 0"),
    ("data", "test_size"): (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    ("data", "dtype"): (lambda v: v in ("float32", "float64"), "float32 or float64"),
    ("model", "init_scale"): (lambda v: v >= 0, "a number >= 0"),
    ("loss", "names"): (
        lambda v: len(v) > 0 and all(x in CONFIG_LOSSES for x in v),
        f"a non-empty list of {', '.join(CONFIG_LOSSES)}",
    ),
    ("loss", "l2"): (lambda v: v >= 0, "a number >= 0"),
    ("optimizer", "name"): (
        lambda v: len(v) > 0 and all(x in OPTIMIZER_NAMES for x in v),
        f"a non-empty list of {', '.join(OPTIMIZER_NAMES)}",
    ),
    ("optimizer", "learning_rate"): (lambda v: v > 0, "a number > 0"),
    ("optimizer", "momentum"): (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    ("train", "steps"): (lambda v: v >= 1, "an integer >= 1"),
    ("train", "batch_size"): (lambda v: v >= 0, "an integer >= 0"),
    ("train", "chunk_size"): (lambda v: v >= 1, "an integer >= 1"),
    ("train", "tol"): (lambda v: v >= 0, "a number >= 0"),
    ("train", "seed"): (lambda v: v >= 0, "an integer >= 0"),
    ("sweep", "inits"): (lambda v: v >= 0, "an integer >= 0"),
    ("sweep", "init_scale"): (lambda v: v > 0, "a number > 0"),
    ("sweep", "steps"): (lambda v: v >= 1, "an integer >= 1"),
    ("sweep", "learning_rate"): (lambda v: v > 0, "a number > 0"),
    ("sweep", "seed"): (lambda v: v >= 0, "an integer >= 0"),
    ("metrics", "names"): (
        lambda v: all(x in METRIC_NAMES for x in v),
        f"a list of {', '.join(METRIC_NAMES)}",
    ),
    ("figures", "dpi"): (lambda v: 30 <= v <= 600, "an integer in [30, 600]"),
    ("figures", "grid"): (lambda v: 5 <= v <= 401, "an integer in [5, 401]"),
    ("", "claims"): (
        lambda v: all(x in CLAIM_IDS for x in v),
        f"a list of claim ids {CLAIM_IDS[0]}..{CLAIM_IDS[-1]}",
    ),
}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}s"
    return {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
    }.get(tp, str(tp))


def _coerce(where: str, tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str) and item is str:
            value = [value]  # a single name stands for a list of one
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}")
        return [_coerce(f"{where}[{i}]", item, v) for i, v in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if not isinstance(value, tp):
        raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}")
    if tp is float and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    return value


def _build(cls: Any, raw: Any, section: str, label: str) -> Any:
    prefix = f"{label}: " if label else ""
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix}[{section}] must be a table of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in raw.items():
        if key not in names:
            raise ConfigError(
                f"{prefix}unknown key '{section}.{key}'; expected one of: {', '.join(names)}"
            )
        where = f"{prefix}{section}.{key}"
        value = _coerce(where, hints[key], value)
        check = _CHECKS.get((section, key))
        if check is not None and not check[0](value):
            raise ConfigError(f"{where} must be {check[1]}, got {value!r}")
        values[key] = value
    return cls(**values)


def from_dict(
    raw: dict[str, Any], label: str = "", source: str = "<memory>"
) -> ExperimentConfig:
    """Validate a parsed TOML document into an :class:`ExperimentConfig`."""
    prefix = f"{label}: " if label else ""
    hints = typing.get_type_hints(ExperimentConfig)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in TOP_LEVEL:
            raise ConfigError(
                f"{prefix}unknown key '{key}'; expected one of: {', '.join(TOP_LEVEL)}"
            )
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            values[key] = _build(tp, value, key, label)
        else:
            value = _coerce(f"{prefix}{key}", tp, value)
            check = _CHECKS.get(("", key))
            if check is not None and not check[0](value):
                raise ConfigError(f"{prefix}{key} must be {check[1]}, got {value!r}")
            values[key] = value
    config = ExperimentConfig(**values, source=source)
    _check_consistency(config, prefix)
    return config


def _check_consistency(config: ExperimentConfig, prefix: str) -> None:
    data = config.data
    if data.source == "file":
        if not data.path or not data.target:
            raise ConfigError(
                f"{prefix}data.source = 'file' needs data.path and data.target"
            )
        path = Path(data.path)
        if not path.exists():
            raise ConfigError(
                f"{prefix}data.path: data file {str(path)!r} does not exist"
            )
    if "newton" in config.optimizer.name and config.loss.names != ["log_loss"]:
        raise ConfigError(
            f"{prefix}optimizer.name 'newton' needs loss.names = ['log_loss'], got "
            f"{config.loss.names}"
        )


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` -> (["section", "key"], parsed value)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    key, value = text.split("=", 1)
    path = key.strip().split(".")
    if not all(path) or len(path) > 2:
        raise ConfigError(f"--set {text!r}: expected section.key=value or key=value")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()  # a bare word is a string
    return path, parsed


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for text in overrides:
        path, value = parse_override(text)
        if len(path) == 1:
            out[path[0]] = value
        else:
            section = out.setdefault(path[0], {})
            if not isinstance(section, dict):
                raise ConfigError(f"--set {text!r}: {path[0]!r} is not a section")
            section[path[1]] = value
    return out


def load(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read, override and validate a config file; ConfigError names the file and key."""
    path = Path(path)
    label = f"config {str(path)!r}"
    if not path.exists():
        raise ConfigError(f"{label} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{label} is not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{label} is not a UTF-8 text file") from None
    raw = apply_overrides(raw, overrides or [])
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str) and data["path"]:
        data["path"] = str((path.parent / data["path"]).resolve())
    return from_dict(raw, label=label, source=str(path))


def quick(config: ExperimentConfig) -> ExperimentConfig:
    """The same experiment with small budgets: for tests and a first look.

    Fewer rows (<= 400), training steps (<= 60), vmapped initial points (<= 16) and a
    coarser figure grid; the vmapped runs keep their step count (they are cheap on 400
    rows and must converge for the claims to be judged).
    """
    r = dataclasses.replace
    return r(
        config,
        data=r(config.data, n=min(config.data.n, 400)),
        train=r(
            config.train,
            steps=min(config.train.steps, 60),
            chunk_size=min(config.train.chunk_size, 20),
        ),
        sweep=r(config.sweep, inits=min(config.sweep.inits, 16)),
        figures=r(
            config.figures,
            grid=min(config.figures.grid, 21),
            dpi=min(config.figures.dpi, 60),
        ),
    )


def to_toml(config: ExperimentConfig) -> str:
    """The resolved config as TOML (every key, defaults included)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    d = config.to_dict()
    lines = [f"title = {value(d.pop('title'))}", f"claims = {value(d.pop('claims'))}"]
    for section, keys in d.items():
        lines += ["", f"[{section}]"]
        lines += [f"{k} = {value(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"
