"""Markdown reports: one per experiment (``report.md``) and an index for a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jaxlogloss.experiments.schema import ExperimentConfig
from jaxlogloss.experiments.types import ClaimResult, Context
from jaxlogloss.fitting import checkpoint as ckpt


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def write_report(
    out: Path, config: ExperimentConfig, ctx: Context, results: list[ClaimResult]
) -> Path:
    """``report.md``: data, training runs, then every claim's check, tables and figures."""
    lines = [f"# {config.title or Path(str(config.source)).stem}", ""]
    lines += [f"Config: `{config.source}` (resolved in `config.toml`).", ""]
    data = ctx.data
    lines += [
        "## Data",
        "",
        f"{data.source}: {data.n_samples} rows, {data.n_features} features "
        f"({', '.join(data.feature_names[:8])}{', ...' if data.n_features > 8 else ''}); "
        f"target `{data.target}` ({_levels(data.classes)}); "
        f"training rows: {ctx.train_data.n_samples}"
        + (
            f", held out: {ctx.test_data.n_samples}"
            if ctx.test_data is not None
            else ""
        ),
        "",
        "## Training runs",
        "",
        "| run | status | steps | final loss | final ‖grad‖∞ |",
        "|---|---|---|---|---|",
    ]
    for label, run in ctx.runs.items():
        h = run.history
        lines.append(
            f"| {label} | {run.status} | {int(h['step'][-1])} | {float(h['loss'][-1]):.6g} | "
            f"{float(np.asarray(h['grad_norm'])[-1]):.2e} |"
        )
    lines += ["", "## Claims", ""]
    if results:
        lines += ["| claim | check | result |", "|---|---|---|"]
        lines += [f"| {r.id} | {r.check} | **{_verdict(r.passed)}** |" for r in results]
    for r in results:
        lines += [
            "",
            f"### {r.id}: {r.statement}",
            "",
            f"{r.check}: **{_verdict(r.passed)}**",
            "",
        ]
        for table in r.tables:
            lines += [table, ""]
        for path, caption in r.figures:
            lines += [f"![{caption}]({path})", "", f"*{caption}*", ""]
    path = out / "report.md"
    ckpt.atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def write_index(
    out: Path, summaries: list[tuple[str, ExperimentConfig, dict[str, Any]]]
) -> Path:
    """``index.md`` linking every experiment's report with its claims' verdicts."""
    lines = [
        "# jaxlogloss experiments",
        "",
        "| experiment | claims | result | report |",
        "|---|---|---|---|",
    ]
    total = passed = 0
    for name, config, metrics in summaries:
        claims = metrics.get("claims", {})
        total += len(claims)
        passed += sum(1 for c in claims.values() if c["passed"])
        verdicts = (
            ", ".join(f"{k} {_verdict(v['passed'])}" for k, v in claims.items()) or "-"
        )
        lines.append(
            f"| {config.title or name} | {verdicts} | {_verdict(metrics.get('passed', False))} "
            f"| [{name}/report.md]({name}/report.md) |"
        )
    lines += ["", f"{passed} of {total} claim checks passed."]
    path = out / "index.md"
    ckpt.atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _levels(classes: tuple) -> str:
    """'1 = positive' for a binary target, the levels and the reference for more."""
    if len(classes) == 2:
        return f"1 = {classes[1]!r}"
    return f"{len(classes)} classes, reference {classes[0]!r}"
