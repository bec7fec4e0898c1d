"""Run an experiment config and write its evidence (``jaxlogloss run``).

For a config, :func:`run_config` writes into its output folder

* ``config.toml``  -- the resolved config (every key, defaults and overrides included);
* ``history.jsonl`` -- one line per recorded chunk of every training run;
* ``figures/*.png`` -- the figures of the claims;
* ``metrics.json``  -- every number: training results, and for each claim its check,
  value and verdict; ``"complete": true`` marks a finished run;
* ``report.md``     -- tables, figures and, per claim, "S3 ...: PASS".

Every file is written atomically (temp file + rename). Training runs write checkpoints
(``checkpoints/``) between chunks, so an interrupted run resumes from the last one; a
finished run (``metrics.json`` complete, same resolved config) is not recomputed unless
``force``. :func:`run_path` runs one config or every ``*.toml`` of a folder (each into
``OUT/<name>/``) and writes ``OUT/index.md`` linking the reports.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxlogloss.data.datasets import (
    breast_cancer,
    gaussian_classes,
    jacket_cardigan,
    separable,
)
from jaxlogloss.data.table import TabularData, read_table
from jaxlogloss.experiments import config as cfg
from jaxlogloss.experiments.claims import CLAIMS, optimizer_comparison
from jaxlogloss.experiments.config import ExperimentConfig
from jaxlogloss.experiments.report import write_index, write_report
from jaxlogloss.experiments.synthetic import multinomial_logistic, sparse_logistic
from jaxlogloss.experiments.types import ClaimResult, Context, Run
from jaxlogloss.fitting import checkpoint as ckpt
from jaxlogloss.fitting.multinomial import fit_softmax
from jaxlogloss.fitting.solve import solve
from jaxlogloss.fitting.train import train
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.params import LinearParams, init_params
from jaxlogloss.model.scaling import feature_scaling, to_standardized
from jaxlogloss.parallel import mesh as dist
from jaxlogloss.precision import enable_x64


def load_data(config: ExperimentConfig) -> TabularData:
    d = config.data
    if d.source == "gaussian":
        return gaussian_classes(
            d.n, d.d, separation=d.separation, noise=d.noise, seed=d.seed, dtype=d.dtype
        )
    if d.source == "separable":
        return separable(d.n, d.d, margin=d.margin, seed=d.seed, dtype=d.dtype)
    if d.source == "jackets":
        return jacket_cardigan(d.n, seed=d.seed, dtype=d.dtype)
    if d.source == "breast_cancer":
        return breast_cancer(dtype=d.dtype)
    if d.source == "sparse":
        return sparse_logistic(d.n, d.d, seed=d.seed, dtype=d.dtype)
    if d.source == "multinomial":
        return multinomial_logistic(d.n, d.d, d.classes, seed=d.seed, dtype=d.dtype)
    return read_table(
        d.path, target=d.target, features=d.features or None,
        positive=d.positive or None, weights=d.weights or None, dtype=d.dtype,
        multiclass=not d.positive,
    )  # fmt: skip


def training_l2(config: ExperimentConfig) -> float:
    """The L2 strength of the training runs: ``loss.l2``, or ``loss.alpha`` with
    ``loss.penalty = "l2"`` (its synonym). An L1 / elastic-net penalty applies to the
    penalised fits of the regularisation claims, not to these (smooth) runs."""
    loss = config.loss
    return loss.l2 + (loss.alpha if loss.penalty == "l2" else 0.0)


def _optimizer(name: str, config: ExperimentConfig) -> dict[str, Any]:
    """train()'s optimizer arguments for a config name (by name: checkpoints can tell
    whether they belong to the same settings)."""
    o = config.optimizer
    if name == "momentum":
        options = {"momentum": o.momentum, "nesterov": o.nesterov}
        return {
            "optimizer": "sgd",
            "learning_rate": o.learning_rate,
            "optimizer_options": options,
        }
    if name == "lbfgs":
        return {"optimizer": "lbfgs"}
    return {"optimizer": name, "learning_rate": o.learning_rate}


class _Clock:
    """A writer that timestamps every chunk (wall-clock)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self.start = time.perf_counter()

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        self.stamps.append(time.perf_counter())

    def close(self) -> None:
        pass

    def seconds(self, n_records: int) -> np.ndarray:
        """Elapsed seconds at each record (the chunk program is compiled beforehand)."""
        elapsed = np.r_[0.0, np.cumsum(np.diff(np.r_[self.start, self.stamps]))]
        return (
            elapsed[:n_records]
            if len(elapsed) >= n_records
            else np.r_[elapsed, np.full(n_records - len(elapsed), np.nan)]
        )


def train_runs(
    ctx_out: Path, config: ExperimentConfig, data: TabularData, mesh: Mesh | None = None
) -> dict[str, Run]:
    """Train every (loss, optimizer) pair of the config on ``data``; resumable.

    ``mesh``: the optax runs split their rows over it (every process holds all of
    ``data`` and contributes its own share)."""
    if len(data.classes) > 2:  # a K-level target
        return multinomial_runs(config, data)
    runs: dict[str, Run] = {}
    X = data.design()
    y = jnp.asarray(data.y)
    d = data.n_features
    key = jax.random.key(config.train.seed)
    start = init_params(d, dtype=X.dtype)
    if config.model.init_scale > 0:
        start = jax.tree.map(
            lambda leaf: (
                config.model.init_scale * jax.random.normal(key, leaf.shape, leaf.dtype)
            ),
            start,
        )
    for loss in config.loss.names:
        for name in config.optimizer.name:
            label = f"{loss}/{name}"
            if name == "newton":
                runs[label] = _newton_run(X, y, start, config)
                continue
            metrics = tuple(config.metrics.names) if loss == "log_loss" else ()
            common = dict(
                loss=loss, **_optimizer(name, config),
                batch_size=config.train.batch_size or None,
                tol=config.train.tol or None, l2=training_l2(config), key=key,
                standardize=config.model.standardize,
                chunk_size=config.train.chunk_size, metrics=metrics, mesh=mesh,
            )  # fmt: skip
            # compile outside the clock: one chunk with the same settings (same program)
            train(start, X, y, steps=config.train.chunk_size, **common)
            clock = _Clock()
            result = train(
                start, X, y, steps=config.train.steps, writer=clock,
                checkpoint=ctx_out / "checkpoints" / f"{loss}-{name}.ckpt", **common,
            )  # fmt: skip
            history = dict(result.history)
            history["seconds"] = clock.seconds(len(history["step"]))
            runs[label] = Run(loss, name, result.params, result.status, history)
    return runs


def multinomial_runs(config: ExperimentConfig, data: TabularData) -> dict[str, Run]:
    """A K-level target's runs: the multinomial fit (reference: the first level) by
    each of ``optimizer.name`` (newton, lbfgs), with the L2 strength of the runs.
    Timed without compilation (a first fit compiles)."""
    bad = [n for n in config.optimizer.name if n not in cfg.MULTINOMIAL_OPTIMIZERS]
    if bad:
        raise cfg.ConfigError(
            f"{config.source}: optimizer.name {bad[0]!r}: the {len(data.classes)}-level "
            f"target is fitted by {' or '.join(cfg.MULTINOMIAL_OPTIMIZERS)}"
        )
    runs = {}
    for name in config.optimizer.name:
        options = dict(
            solver=name, alpha=training_l2(config), max_iter=config.train.steps,
            tol=config.train.tol or None, dtype=data.xt.dtype.name,
        )  # fmt: skip
        codes = np.asarray(data.y, np.int64)
        fit_softmax("run", data, codes, data.classes, **options)  # compile
        res = fit_softmax("run", data, codes, data.classes, **options)
        k = np.arange(res.n_iter + 1)
        grad_norm = np.full(k.size, np.nan)
        grad_norm[-1] = res.grad_norm
        history = {
            "step": k, "loss": res.loss_history, "grad_norm": grad_norm,
            "seconds": k * res.seconds / max(res.n_iter, 1),
        }  # fmt: skip
        params = LinearParams(res.coef, res.intercept)
        runs[f"softmax/{name}"] = Run("softmax", name, params, res.status, history)
    return runs


def _newton_run(X: Any, y: Any, start: LinearParams, config: ExperimentConfig) -> Run:
    """The "newton" runs: the one place the runner calls a solver directly (the others
    go through :func:`~jaxlogloss.fitting.train.train`). Timed without compilation;
    every iteration is taken to cost the same."""
    problem = Problem(X, y, None, jnp.asarray(training_l2(config), X.dtype))
    scaling = jax.jit(feature_scaling)(X, None, problem.l2)
    tol = config.train.tol or (1e-10 if X.dtype == jnp.float64 else 1e-5)
    std = to_standardized(start, scaling)
    max_iter = min(config.train.steps, 50)
    solve("newton", problem, scaling, std, tol, max_iter)  # compile outside the clock
    t0 = time.perf_counter()
    res = solve("newton", problem, scaling, std, tol, max_iter)
    seconds = time.perf_counter() - t0
    k = np.arange(res.n_iter + 1)
    history = {
        "step": k,
        "loss": res.loss_history,
        "grad_norm": res.grad_norm_history,
        "seconds": k * seconds / max(res.n_iter, 1),
    }
    return Run("log_loss", "newton", res.params, res.status, history)


def _check_claim(
    check: Callable[[Context], ClaimResult], claim_id: str, ctx: Context
) -> ClaimResult:
    """Run one claim's check. A config the claim cannot work with is a ConfigError (one
    line, exit 2); anything else is a bug and keeps its traceback."""
    try:
        return check(ctx)
    except cfg.ConfigError:
        raise
    except Exception as err:
        raise RuntimeError(
            f"claim {claim_id} failed on {ctx.config.source}: {err}"
        ) from err


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray | jax.Array):
        return _json_safe(np.asarray(obj).tolist())
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _is_complete(out: Path, resolved: str) -> bool:
    metrics = out / "metrics.json"
    if not metrics.exists() or not (out / "config.toml").exists():
        return False
    try:
        done = json.loads(metrics.read_text()).get("complete") is True
    except (json.JSONDecodeError, OSError):
        return False
    return done and (out / "config.toml").read_text() == resolved


def run_config(
    config: ExperimentConfig,
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    log: Callable[[str], None] = print,
    mesh: Mesh | None = None,
) -> dict[str, Any]:
    """Run one experiment into ``out``; returns the metrics written to metrics.json.

    With several processes every process runs it (the training runs split their rows
    over ``mesh``), process 0 decides whether it is up to date and alone writes files.
    """
    out = Path(out)
    resolved = cfg.to_toml(config)
    complete = not force and _is_complete(out, resolved)
    if bool(dist.broadcast_from_writer(np.bool_(complete))):
        log(f"{out}: up to date (use --force to recompute)")
        return json.loads((out / "metrics.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "config.toml"
    stale = previous.exists() and previous.read_text() != resolved
    if (force or stale) and (out / "checkpoints").exists() and dist.is_writer():
        for f in (out / "checkpoints").iterdir():  # they belong to other settings
            f.unlink()
    ckpt.atomic_write_text(out / "config.toml", resolved)
    started = time.perf_counter()
    with enable_x64(config.data.dtype == "float64"):
        data = load_data(config)
        if config.data.test_size > 0:
            train_data, test_data = data.split(
                config.data.test_size, seed=config.data.seed
            )
        else:
            train_data, test_data = data, None
        runs = train_runs(out, config, train_data, mesh)
        ctx = Context(config, out, data, train_data, test_data, runs)
        results = []
        for claim_id in config.claims:
            log(f"{out.name}: checking {claim_id}")
            results.append(_check_claim(CLAIMS[claim_id], claim_id, ctx))
        if len(config.optimizer.name) > 1:
            results.append(optimizer_comparison(ctx))
    history_lines = []
    for label, run in runs.items():
        h = run.history
        for i in range(len(h["step"])):
            row = {
                "run": label,
                **{k: _json_safe(np.asarray(v)[i]) for k, v in h.items()},
            }
            history_lines.append(json.dumps(row))
    ckpt.atomic_write_text(out / "history.jsonl", "\n".join(history_lines) + "\n")
    metrics = {
        "title": config.title,
        "config": str(config.source),
        "seconds": time.perf_counter() - started,
        "data": {"source": data.source, "n": data.n_samples, "d": data.n_features},
        "runs": {
            label: {
                "status": run.status,
                "steps": int(run.history["step"][-1]),
                "final": {
                    k: float(np.asarray(v)[-1])
                    for k, v in run.history.items()
                    if k != "step"
                },
                "w": np.asarray(run.params.w).tolist(),
                "b": np.asarray(run.params.b).tolist(),
            }
            for label, run in runs.items()
        },
        "claims": {
            r.id: {
                "statement": r.statement,
                "check": r.check,
                "passed": r.passed,
                "numbers": r.numbers,
            }
            for r in results
        },
        "passed": all(r.passed for r in results),
    }
    write_report(out, config, ctx, results)
    metrics["complete"] = True
    ckpt.atomic_write_text(
        out / "metrics.json", json.dumps(_json_safe(metrics), indent=2)
    )
    verdicts = ", ".join(f"{r.id} {'PASS' if r.passed else 'FAIL'}" for r in results)
    log(
        f"{out}: done in {metrics['seconds']:.1f} s"
        + (f" ({verdicts})" if verdicts else "")
    )
    return _json_safe(metrics)


def config_files(path: Path) -> list[Path]:
    files = sorted(p for p in path.glob("*.toml") if p.is_file())
    if not files:
        raise cfg.ConfigError(f"no *.toml experiment configs in folder {str(path)!r}")
    return files


def run_path(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    overrides: list[str] | None = None,
    quick: bool = False,
    force: bool = False,
    log: Callable[[str], None] = print,
    mesh: Mesh | None = None,
) -> Path:
    """Run a config file, or every config of a folder; returns the report or index path."""
    path, out = Path(path), Path(out)
    if not path.exists():
        raise cfg.ConfigError(f"config {str(path)!r} does not exist")
    files = config_files(path) if path.is_dir() else [path]
    # validate everything before running anything: a typo fails fast
    configs = [cfg.load(f, overrides) for f in files]
    if quick:
        configs = [cfg.quick(c) for c in configs]
    if not path.is_dir():
        run_config(configs[0], out, force=force, log=log, mesh=mesh)
        return out / "report.md"
    summaries = []
    for f, c in zip(files, configs, strict=True):
        metrics = run_config(c, out / f.stem, force=force, log=log, mesh=mesh)
        summaries.append((f.stem, c, metrics))
    return write_index(out, summaries)
