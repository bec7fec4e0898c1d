"""The measured parts: one gradient step, time to the optimum, an L2 path.

* gradient: median ms of one gradient of the mean log-loss per path, its GB/s
  (2 |X| / time), its share of the ceiling, and its ratio to the two-pass floor
  2 |X| / bandwidth and to the one-pass ideal |X| / bandwidth;
* fit: time to the optimum, every row within ``COMPARABLE_RTOL`` (relative) of the
  best mean log-loss or marked not comparable; compilation timed apart;
* sweep: K fits in one vmapped call against K sequential scikit-learn fits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.bench import peers
from jaxlogloss.bench.timing import median_seconds, timed
from jaxlogloss.bench.workload import make_data, mean_log_loss

COMPARABLE_RTOL = 1e-6


def bench_grad(
    X: np.ndarray, y: np.ndarray, device: jax.Device, gbps: float, repeats: int
) -> dict[str, Any]:
    """One gradient of the mean log-loss: every path, and its share of the floor
    ("fused": the one-pass value and gradient the solvers use, both layouts)."""
    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.model.closed_form import log_loss_gradient
    from jaxlogloss.model.objective import Problem, objective
    from jaxlogloss.model.objectives import InMemoryObjective
    from jaxlogloss.model.params import LinearParams
    from jaxlogloss.model.scaling import identity_scaling

    n, d = X.shape
    rng = np.random.default_rng(1)
    ws = [0.1 * rng.standard_normal(d).astype(X.dtype) for _ in range(repeats + 1)]
    X_row = jax.device_put(X, device)
    X_fm = FeatureMajor(jax.device_put(np.ascontiguousarray(X.T), device))
    y_dev = jax.device_put(y, device)
    b0 = jax.device_put(jnp.zeros((), X.dtype), device)
    value_and_grad = jax.jit(jax.value_and_grad(objective))
    closed = jax.jit(log_loss_gradient)

    def autodiff(design: Any) -> Callable[[np.ndarray], Any]:
        return lambda w: value_and_grad(
            LinearParams(jnp.asarray(w), b0), design, y_dev
        )[1]

    evaluate = jax.jit(lambda obj, theta: obj.fused_value_and_grad(theta)[:2])

    def fused(design: Any) -> Callable[[np.ndarray], Any]:
        # one pass over X (blocked_value_grad): value and gradient, as solvers get them
        # on a row-major X
        obj = InMemoryObjective(Problem(design, y_dev), identity_scaling(d, X.dtype))
        return lambda w: evaluate(obj, jnp.append(jnp.asarray(w), b0))[1]

    paths: dict[str, Callable[[np.ndarray], Any]] = {
        "jaxlogloss jax.grad, feature-major": autodiff(X_fm),
        "jaxlogloss jax.grad, row-major": autodiff(X_row),
        "jaxlogloss fused value-and-grad, feature-major": fused(X_fm),
        "jaxlogloss fused value-and-grad, row-major": fused(X_row),
        "jaxlogloss closed form, feature-major": lambda w: closed(
            LinearParams(jnp.asarray(w), b0), X_fm, y_dev
        ),
    }
    notes = []
    if device.platform == "cpu":
        paths["numpy closed form"] = peers.numpy_gradient(X, y)
    torch = peers.torch_module(notes)
    if torch is not None:
        paths["pytorch autograd"] = peers.torch_gradient(torch, X, y, device.platform)
    nbytes = X.nbytes
    floor = 2 * nbytes / (gbps * 1e9)
    ideal = nbytes / (gbps * 1e9)
    rows = {}
    for name, fn in paths.items():
        seconds = median_seconds(fn, ws)
        rows[name] = {
            "ms": 1e3 * seconds,
            "gb_per_s": 2 * nbytes / seconds / 1e9,
            "ceiling_fraction_ratio": (2 * nbytes / seconds / 1e9) / gbps,
            "floor_ratio": seconds / floor,
            "one_pass_ratio": seconds / ideal,
        }
    if "numpy closed form" in rows:
        peer = rows["numpy closed form"]["ms"]
        for r in rows.values():
            r["numpy_ratio"] = r["ms"] / peer
    compile_s, _ = timed(
        lambda: (
            jax.jit(jax.value_and_grad(objective))
            .lower(LinearParams(jnp.asarray(ws[0]), b0), X_fm, y_dev)
            .compile()
        )
    )
    return {"n": n, "d": d, "bytes": nbytes, "floor_ms": 1e3 * floor, "one_pass_ms": 1e3 * ideal,
            "compile_seconds": compile_s, "paths": rows, "notes": notes}  # fmt: skip


def bench_fit(X: np.ndarray, y: np.ndarray, device: jax.Device) -> dict[str, Any]:
    """Time to the optimum: jaxlogloss solvers vs scikit-learn, NumPy GD, PyTorch.

    ``jaxlogloss SOLVER`` rows time the solver (FeatureMajor X already on the device;
    ``FitResult.seconds``); ``..., whole call`` rows time ``jl.fit(X, y)`` on the NumPy
    (n, d) array, layout change, scaling and inference included -- what a user waits
    for."""
    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.fitting import fit

    dtype = "float64" if X.dtype == np.float64 else "float32"
    design = FeatureMajor(jax.device_put(np.ascontiguousarray(X.T), device))
    rows: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for solver, kw in [
        ("lbfgs", {}),
        ("newton", {}),
        ("adam", {"learning_rate": 0.05, "max_iter": 3000}),
    ]:
        first, _ = timed(
            lambda s=solver, kw=kw: fit(design, y, solver=s, dtype=dtype, **kw)
        )
        total, r = timed(
            lambda s=solver, kw=kw: fit(design, y, solver=s, dtype=dtype, **kw)
        )
        rows[f"jaxlogloss {solver}"] = {
            "seconds": r.seconds, "compile_seconds": max(first - total, 0.0),
            "first_call_seconds": first, "iterations": r.n_iter, "status": r.status,
            "log_loss": mean_log_loss(X, y, r.coef, r.intercept),
        }  # fmt: skip
    for solver in ["lbfgs", "newton"]:  # what a user calls: a NumPy (n, d) array in
        first, _ = timed(lambda s=solver: fit(X, y, solver=s, dtype=dtype))
        total, r = timed(lambda s=solver: fit(X, y, solver=s, dtype=dtype))
        rows[f"jaxlogloss {solver}, whole call"] = {
            "seconds": total, "compile_seconds": max(first - total, 0.0),
            "first_call_seconds": first, "iterations": r.n_iter, "status": r.status,
            "log_loss": mean_log_loss(X, y, r.coef, r.intercept),
        }  # fmt: skip
    try:
        for solver in ["lbfgs", "newton-cholesky"]:
            rows[f"sklearn {solver}"] = peers.sklearn_fit(X, y, solver)
    except ImportError:
        notes.append("scikit-learn not installed: skipped")
    rows["numpy gradient descent"] = peers.numpy_gd(X, y)
    torch = peers.torch_module(notes)
    if torch is not None:
        rows["pytorch lbfgs"] = peers.torch_lbfgs(torch, X, y, device.platform)
    best = min(r["log_loss"] for r in rows.values())
    compare(rows, best)
    return {
        "best_log_loss": best,
        "comparable_rtol": COMPARABLE_RTOL,
        "solvers": rows,
        "notes": notes,
    }


def compare(rows: dict[str, dict[str, Any]], best: float) -> None:
    """Mark each row comparable (within COMPARABLE_RTOL of ``best``) and add its
    speedups: vs the fastest comparable peer, the fastest comparable scikit-learn
    solver and, for jaxlogloss, vs that peer with compilation counted."""
    for r in rows.values():
        r["comparable"] = bool(r["log_loss"] <= best * (1 + COMPARABLE_RTOL))
    peer_times = [
        r["seconds"]
        for name, r in rows.items()
        if not name.startswith("jaxlogloss") and r["comparable"]
    ]
    fastest_peer = min(peer_times) if peer_times else float("nan")
    sk = [
        r["seconds"]
        for name, r in rows.items()
        if name.startswith("sklearn") and r["comparable"]
    ]
    fastest_sklearn = min(sk) if sk else None
    for name, r in rows.items():
        r["speedup"] = fastest_peer / r["seconds"]
        if fastest_sklearn is not None:
            r["vs_fastest_sklearn_ratio"] = fastest_sklearn / r["seconds"]
        if name.startswith("jaxlogloss"):
            r["speedup_with_compile_ratio"] = fastest_peer / r["first_call_seconds"]


def bench_sweep(runs: int, n: int, d: int) -> dict[str, Any]:
    """An L2 path of ``runs`` fits: one vmapped Newton call vs sequential scikit-learn."""
    from jaxlogloss.fitting.sweeps import sweep
    from jaxlogloss.precision import enable_x64

    X, y = make_data(n, d, np.float64, seed=1)
    l2s = list(np.logspace(-6, 0, runs))
    out: dict[str, Any] = {"runs": runs, "n": n, "d": d}
    with enable_x64():
        first, _ = timed(lambda: sweep(X, y, solver="newton", l2s=l2s, steps=100))
        seconds, res = timed(lambda: sweep(X, y, solver="newton", l2s=l2s, steps=100))
    out["jaxlogloss vmapped newton"] = {"seconds": seconds, "first_call_seconds": first,
                                        "statuses": sorted(set(res.status.tolist()))}  # fmt: skip
    try:
        peer, objectives = peers.sklearn_path(X, y, l2s)
    except ImportError:
        out["notes"] = ["scikit-learn not installed: no peer"]
        return out
    gap = np.max(
        (np.asarray(res.final_loss) - np.asarray(objectives)) / np.asarray(objectives)
    )
    out["sklearn lbfgs sequential"] = {"seconds": peer}
    out["jaxlogloss vmapped newton"].update(
        speedup=peer / seconds,
        speedup_with_compile_ratio=peer / first,
        max_rel_objective_gap=float(gap),
    )
    return out
