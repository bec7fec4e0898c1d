"""Experiment configs: TOML files read with ``tomllib`` and validated into dataclasses.

A config has the top-level keys of :data:`TOP_LEVEL` -- ``title``, the sections
``data``, ``model``, ``loss``, ``optimizer``, ``train``, ``sweep``, ``separation``, ``metrics``,
``figures``, and ``claims`` (a list of the claim ids registered by
:mod:`jaxlogloss.experiments.claims`, S1-S13). Every section and key is optional and has
a documented default (the dataclasses of :mod:`jaxlogloss.experiments.schema`);
``separation`` holds the settings of claims F1-F3.
Validation rejects unknown keys by name, wrong types and out-of-range values, each with
one line naming the key:
``config 'x.toml': unknown key 'trian'; expected one of: title, data, model, ...``.
Names are checked against their registries: ``[loss] names`` against the loss registry
(:func:`~jaxlogloss.losses.registry.loss_names`), ``[optimizer] name`` against
:func:`optimizer_names`, ``claims`` against the claims' registry.

``--set section.key=value`` overrides a key after reading (the value is parsed as TOML,
so ``--set train.steps=200`` is an integer and ``--set optimizer.name=["sgd","adam"]`` a
list; a bare word is a string). :func:`quick` shrinks budgets for a fast end-to-end run.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jaxlogloss.experiments.claims import CLAIMS, claim_ids
from jaxlogloss.experiments.schema import (
    TOP_LEVEL,
    ConfigError,
    DataConfig,
    ExperimentConfig,
    FiguresConfig,
    LossConfig,
    MetricsConfig,
    ModelConfig,
    OptimizerConfig,
    SeparationConfig,
    SweepConfig,
    TrainConfig,
)
from jaxlogloss.losses.registry import get_loss, loss_names
from jaxlogloss.metrics import METRICS
from jaxlogloss.model.penalties import penalty_names
from jaxlogloss.solvers.first_order import OPTIMIZERS

__all__ = [
    "CLAIM_IDS",
    "CONFIG_LOSSES",
    "DATA_SOURCES",
    "METRIC_NAMES",
    "OPTIMIZER_NAMES",
    "TOP_LEVEL",
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "FiguresConfig",
    "LossConfig",
    "MetricsConfig",
    "ModelConfig",
    "OptimizerConfig",
    "SeparationConfig",
    "SweepConfig",
    "TrainConfig",
    "apply_overrides",
    "config_losses",
    "from_dict",
    "load",
    "optimizer_names",
    "parse_override",
    "quick",
    "to_toml",
]

DATA_SOURCES = ("gaussian", "separable", "jackets", "breast_cancer", "sparse", "file",
                "multinomial")  # fmt: skip
MULTINOMIAL_OPTIMIZERS = ("newton", "lbfgs")  # the runs on a K-level target
METRIC_NAMES = tuple(METRICS)
CLAIM_IDS = claim_ids()  # the ids the claims registered (R1..R4, S1..S13)


def config_losses() -> tuple[str, ...]:
    """``[loss] names``: every registered binary loss (the experiments' data is 0/1)."""
    return tuple(n for n in loss_names() if not get_loss(n).multiclass)


def optimizer_names() -> tuple[str, ...]:
    """``[optimizer] name``: optax's (:data:`~jaxlogloss.solvers.first_order.OPTIMIZERS`,
    lbfgs among them), "momentum" (sgd with ``optimizer.momentum``) and "newton"."""
    return (*OPTIMIZERS, "momentum", "newton")


# the names as of import (the checks read the registries live)
CONFIG_LOSSES = config_losses()
OPTIMIZER_NAMES = optimizer_names()


_Check = tuple[Callable[[Any], bool], str | Callable[[], str]]


def _names(known: Callable[[], Sequence[str]], non_empty: bool = True) -> _Check:
    """A check that a list holds only names of ``known()`` (read when checking, so names
    registered later count) and its expectation, listing them."""
    return (
        lambda v: (len(v) > 0 or not non_empty) and all(x in known() for x in v),
        lambda: f"a {'non-empty ' if non_empty else ''}list of {', '.join(known())}",
    )


# (section, key) -> (check, expectation) for ranges and choices; an expectation that
# lists registered names is a function, read when a check fails
_CHECKS: dict[tuple[str, str], _Check] = {
    ("data", "source"): (
        lambda v: v in DATA_SOURCES,
        f"one of {', '.join(DATA_SOURCES)}",
    ),
    ("data", "n"): (lambda v: v >= 4, "an integer >= 4"),
    ("data", "d"): (lambda v: v >= 1, "an integer >= 1"),
    ("data", "separation"): (lambda v: v >= 0, "a number >= 0"),
    ("data", "noise"): (lambda v: v > 0, "a number > 0"),
    ("data", "margin"): (lambda v: v > 0, "a number > 0"),
    ("data", "seed"): (lambda v: v >= 0, "an integer >= 0"),
    ("data", "test_size"): (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    ("data", "dtype"): (lambda v: v in ("float32", "float64"), "float32 or float64"),
    ("model", "init_scale"): (lambda v: v >= 0, "a number >= 0"),
    ("loss", "names"): _names(config_losses),
    ("loss", "l2"): (lambda v: v >= 0, "a number >= 0"),
    ("loss", "penalty"): (
        lambda v: v in penalty_names(),
        lambda: f"one of {', '.join(penalty_names())}",
    ),
    ("loss", "alpha"): (lambda v: v >= 0, "a number >= 0"),
    ("loss", "l1_ratio"): (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    ("loss", "class_weight"): (lambda v: v in ("", "balanced"), "'' or 'balanced'"),
    ("optimizer", "name"): _names(optimizer_names),
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
    ("separation", "margins"): (
        lambda v: len(v) > 0 and all(m > 0 for m in v),
        "a non-empty list of numbers > 0",
    ),
    ("separation", "steps"): (lambda v: v >= 10, "an integer >= 10"),
    ("separation", "learning_rate"): (lambda v: v > 0, "a number > 0"),
    ("separation", "l2"): (lambda v: v > 0, "a number > 0"),
    ("metrics", "names"): _names(lambda: METRIC_NAMES, non_empty=False),
    ("figures", "dpi"): (lambda v: 30 <= v <= 600, "an integer in [30, 600]"),
    ("figures", "grid"): (lambda v: 5 <= v <= 401, "an integer in [5, 401]"),
    ("", "claims"): (
        lambda v: all(x in CLAIMS for x in v),
        lambda: f"a list of claim ids {claim_id_ranges()}",
    ),
}


def claim_id_ranges() -> str:
    """The registered ids as ranges by prefix: "R1..R4, S1..S13"."""
    groups: dict[str, list[str]] = {}
    for claim_id in claim_ids():
        groups.setdefault(claim_id.rstrip("0123456789"), []).append(claim_id)
    return ", ".join(f"{ids[0]}..{ids[-1]}" for ids in groups.values())


def _verify(section: str, key: str, where: str, value: Any) -> None:
    """Raise ConfigError naming ``where`` when ``value`` fails the key's check."""
    check = _CHECKS.get((section, key))
    if check is not None and not check[0](value):
        expected = check[1]() if callable(check[1]) else check[1]
        raise ConfigError(f"{where} must be {expected}, got {value!r}")


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
        _verify(section, key, where, value)
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
            _verify("", key, f"{prefix}{key}", value)
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
    if data.source == "multinomial":
        _check_multinomial(config, prefix)
    loss = config.loss
    if loss.penalty == "none" and loss.alpha > 0:
        raise ConfigError(
            f"{prefix}loss.alpha = {loss.alpha} needs loss.penalty other than 'none'"
        )
    if loss.penalty == "l2" and loss.alpha > 0 and loss.l2 > 0:
        raise ConfigError(
            f"{prefix}loss.l2 and loss.alpha both set with loss.penalty = 'l2' (l2 is "
            "its synonym): set one"
        )
    needs = {
        ("R1", "R2", "R3"): (loss.penalty in ("l1", "elasticnet"),
                             "loss.penalty 'l1' or 'elasticnet'", loss.penalty),
        ("R3",): (data.source == "sparse", "data.source = 'sparse'", data.source),
        ("R4",): (loss.class_weight == "balanced", "loss.class_weight = 'balanced'",
                  loss.class_weight),
        ("F1", "F2", "F3"): (data.source == "separable", "data.source = 'separable'",
                             data.source),
    }  # fmt: skip
    for ids, (ok, what, got) in needs.items():
        for claim_id in ids:
            if claim_id in config.claims and not ok:
                raise ConfigError(f"{prefix}claim {claim_id} needs {what}, got {got!r}")
    if "newton" in config.optimizer.name and config.loss.names != ["log_loss"]:
        raise ConfigError(
            f"{prefix}optimizer.name 'newton' needs loss.names = ['log_loss'], got "
            f"{config.loss.names}"
        )


def _check_multinomial(config: ExperimentConfig, prefix: str) -> None:
    """A K-level target: its training runs are multinomial fits (newton / lbfgs, the
    log-loss), and the claims (about binary targets) do not apply."""
    if config.data.classes < 3:
        raise ConfigError(
            f"{prefix}data.classes = {config.data.classes}: data.source = "
            "'multinomial' needs an integer >= 3"
        )
    bad = [n for n in config.optimizer.name if n not in MULTINOMIAL_OPTIMIZERS]
    if bad:
        raise ConfigError(
            f"{prefix}optimizer.name {bad[0]!r}: a multinomial target is fitted by "
            f"{' or '.join(MULTINOMIAL_OPTIMIZERS)}"
        )
    if config.loss.names != ["log_loss"] or config.claims:
        raise ConfigError(
            f"{prefix}data.source = 'multinomial' takes loss.names = ['log_loss'] and "
            "no claims (they are about binary targets)"
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
