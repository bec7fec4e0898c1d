"""``run_bench``: every part in one run, logged as it goes, returned as JSON-able."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxlogloss.bench.memory import bench_memory
from jaxlogloss.bench.parts import bench_fit, bench_grad, bench_sweep
from jaxlogloss.bench.penalised import bench_penalised, penalised_lines
from jaxlogloss.bench.report import fit_table, grad_table, memory_line, sweep_line
from jaxlogloss.bench.timing import memory_ceiling, select_device
from jaxlogloss.bench.workload import make_data

QUICK_SIZES = ((1_500, 8), (3_000, 8))  # the README's example, run by the tests
DEFAULT_SIZES = ((10_000, 100), (100_000, 100), (1_000_000, 100))
# the penalised rows: (n, d, alphas, folds), as the issue measures them
PENALISED_SIZE, PENALISED_QUICK = (100_000, 50, 20, 5), (2_000, 8, 5, 3)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"1000x10,100000x100"`` -> [(1000, 10), (100000, 100)]; ValueError naming the bad part."""
    sizes = []
    for part in text.split(","):
        try:
            n_text, d_text = part.lower().split("x")
            n, d = int(n_text), int(d_text)
        except ValueError:
            raise ValueError(
                f"bench: --sizes: expected NxD pairs like 100000x100, got {part!r}"
            ) from None
        if n < 2 or d < 1:
            raise ValueError(f"bench: --sizes: {part!r} needs N >= 2 and D >= 1")
        sizes.append((n, d))
    return sizes


def run_bench(
    device: str = "cpu",
    sizes: list[tuple[int, int]] | None = None,
    dtype: str = "float32",
    quick: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every part (see :mod:`jaxlogloss.bench`) and return the JSON-able result."""
    from jaxlogloss.precision import enable_x64

    dev = select_device(device)
    if sizes is None:
        sizes = list(QUICK_SIZES if quick else DEFAULT_SIZES)
    repeats = 3 if quick else 11
    np_dtype = np.float64 if dtype == "float64" else np.float32
    result: dict[str, Any] = {
        "device": {
            "platform": dev.platform,
            "kind": dev.device_kind,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "versions": versions(),
        "dtype": dtype,
        "quick": quick,
        "sizes": [list(s) for s in sizes],
    }
    with enable_x64(dtype == "float64"):
        ceiling_bytes = (32 << 20) if quick else (512 << 20)
        result["ceiling"] = memory_ceiling(dev, ceiling_bytes, repeats)
        gbps = result["ceiling"]["gb_per_s"]
        log(
            f"memory ceiling: {gbps:.1f} GB/s (in-place x + 1 over {ceiling_bytes >> 20} MiB)"
        )
        result["grad"] = []
        for n, d in sizes:
            X, y = make_data(n, d, np_dtype)
            r = bench_grad(X, y, dev, gbps, repeats)
            result["grad"].append(r)
            log(grad_table(r))
        n, d = sizes[-1]
        X, y = make_data(n, d, np_dtype)
        result["fit"] = bench_fit(X, y, dev)
        log(fit_table(result["fit"], n, d))
    result["sweep"] = bench_sweep(
        16 if quick else 256, 2_000 if quick else 20_000, 10 if quick else 20
    )
    log(sweep_line(result["sweep"]))
    size = PENALISED_QUICK if quick else PENALISED_SIZE
    result["penalised"] = bench_penalised(*size)
    log(penalised_lines(result["penalised"]))
    result["memory"] = bench_memory(*sizes[-1])
    line = memory_line(result["memory"])
    if line is not None:
        log(line)
    return result


def versions() -> dict[str, str]:
    """The versions of Python and of the libraries measured ("not installed" if absent)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ["jax", "jaxlib", "numpy", "scikit-learn", "torch"]:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out
