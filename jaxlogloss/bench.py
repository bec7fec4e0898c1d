"""``jaxlogloss bench``: speed against the peers and the hardware limit, in one run.

Measured side by side on the same data (X: n x d, standard normal; labels from a
logistic model), with timing hygiene -- a warm-up (compile) call, ``block_until_ready``,
medians of several repeats, fresh parameters every call:

1. ``ceiling``: the device's memory bandwidth from an in-place ``x + 1`` over a large
   buffer (bytes read plus written); every later figure is also given as a fraction of it.
2. ``grad``: one gradient of the mean log-loss per size, jax.grad on the feature-major
   layout (the framework's path), jax.grad on a row-major X, the closed form, NumPy's
   closed form, PyTorch's autograd (when installed): median ms, achieved GB/s, ratio to
   the two-pass floor (2 |X| / bandwidth) and to the one-pass ideal of a fused kernel.
3. ``fit``: time to the optimum for Newton, L-BFGS and adam against scikit-learn's lbfgs
   and newton-cholesky, a NumPy gradient-descent loop and PyTorch's L-BFGS; each must
   reach the best mean log-loss within ``1e-6`` relative, else "not comparable".
   Compilation is timed apart from the steady state.
4. ``sweep``: an L2 path of K fits in one vmapped call against K sequential fits.
5. ``memory``: peak resident memory of a fit, in a child process, over the bytes of X.

Peers that are not installed are skipped with a note. Keys of ratios end in ``_ratio``
or are named ``speedup``. :func:`run_bench` returns the JSON-able result.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

COMPARABLE_RTOL = 1e-6


def make_data(
    n: int, d: int, dtype: Any = np.float32, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal X and labels drawn from a logistic model with ||w|| = 2."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32).astype(dtype, copy=False)
    w = rng.standard_normal(d) * (2.0 / np.sqrt(d))
    z = X.astype(np.float64) @ w
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(dtype)
    return X, y


def mean_log_loss(X: np.ndarray, y: np.ndarray, w: Any, b: float) -> float:
    """The mean log-loss in float64, computed independently of the library."""
    z = X.astype(np.float64) @ np.asarray(w, np.float64) + float(b)
    return float(np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - start, out


def median_seconds(fn: Callable[[Any], Any], inputs: list[Any]) -> float:
    """Median wall time of ``fn(x)`` over fresh inputs, after a warm-up call."""
    jax.block_until_ready(fn(inputs[0]))
    times = []
    for x in inputs[1:]:
        start = time.perf_counter()
        jax.block_until_ready(fn(x))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _device(kind: str) -> jax.Device:
    try:
        devices = jax.devices(kind)
    except RuntimeError:
        devices = []
    if not devices:
        raise ValueError(
            f"bench: --device {kind}: no {kind.upper()} is visible to JAX; for a GPU "
            "install the CUDA build: pip install -e '.[cuda13]'"
        )
    return devices[0]


def memory_ceiling(device: jax.Device, nbytes: int, repeats: int) -> dict[str, Any]:
    """Bandwidth of an in-place x + 1 over ``nbytes`` (read + write)."""
    n = nbytes // 4
    x = jax.device_put(jnp.zeros((n,), jnp.float32), device)
    step = jax.jit(lambda x: x + 1.0, donate_argnums=0)
    x = jax.block_until_ready(step(x))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        x = jax.block_until_ready(step(x))
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    return {"bytes": 4 * n, "seconds": seconds, "gb_per_s": 2 * 4 * n / seconds / 1e9}


def bench_grad(
    X: np.ndarray, y: np.ndarray, device: jax.Device, gbps: float, repeats: int
) -> dict[str, Any]:
    """One gradient of the mean log-loss: every path, and its share of the floor."""
    import jaxlogloss as jl
    from jaxlogloss.model.objective import objective

    n, d = X.shape
    rng = np.random.default_rng(1)
    ws = [0.1 * rng.standard_normal(d).astype(X.dtype) for _ in range(repeats + 1)]
    X_row = jax.device_put(X, device)
    X_fm = jl.FeatureMajor(jax.device_put(np.ascontiguousarray(X.T), device))
    y_dev = jax.device_put(y, device)
    b0 = jax.device_put(jnp.zeros((), X.dtype), device)
    value_and_grad = jax.jit(jax.value_and_grad(objective))
    closed = jax.jit(jl.log_loss_gradient)

    def autodiff(design: Any) -> Callable[[np.ndarray], Any]:
        return lambda w: value_and_grad(
            jl.LinearParams(jnp.asarray(w), b0), design, y_dev
        )[1]

    def numpy_closed(w: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            p = 1 / (1 + np.exp(-(X @ w)))
        return X.T @ (p - y) / n

    paths: dict[str, Callable[[np.ndarray], Any]] = {
        "jaxlogloss jax.grad, feature-major": autodiff(X_fm),
        "jaxlogloss jax.grad, row-major": autodiff(X_row),
        "jaxlogloss closed form, feature-major": lambda w: closed(
            jl.LinearParams(jnp.asarray(w), b0), X_fm, y_dev
        ),
    }
    notes = []
    if device.platform == "cpu":
        paths["numpy closed form"] = numpy_closed
    torch = _torch()
    if torch is None:
        notes.append("pytorch not installed: skipped")
    else:
        tdev = "cuda" if device.platform == "gpu" else "cpu"
        Xt, yt = torch.from_numpy(X).to(tdev), torch.from_numpy(y).to(tdev)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def torch_autograd(w: np.ndarray) -> Any:
            wt = torch.tensor(w, device=tdev, requires_grad=True)
            loss_fn(Xt @ wt, yt).backward()
            if tdev == "cuda":
                torch.cuda.synchronize()
            return wt.grad

        paths["pytorch autograd"] = torch_autograd
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
            .lower(jl.LinearParams(jnp.asarray(ws[0]), b0), X_fm, y_dev)
            .compile()
        )
    )
    return {"n": n, "d": d, "bytes": nbytes, "floor_ms": 1e3 * floor, "one_pass_ms": 1e3 * ideal,
            "compile_seconds": compile_s, "paths": rows, "notes": notes}  # fmt: skip


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def bench_fit(X: np.ndarray, y: np.ndarray, device: jax.Device) -> dict[str, Any]:
    """Time to the optimum: jaxlogloss solvers vs scikit-learn, NumPy GD, PyTorch."""
    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.fitting.fit import fit

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
    try:
        from sklearn.linear_model import LogisticRegression

        for solver in ["lbfgs", "newton-cholesky"]:
            m = LogisticRegression(C=np.inf, solver=solver, tol=1e-8, max_iter=1000)
            seconds, _ = timed(lambda m=m: m.fit(X, y))
            rows[f"sklearn {solver}"] = {
                "seconds": seconds, "iterations": int(m.n_iter_[0]), "status": "done",
                "log_loss": mean_log_loss(X, y, m.coef_[0], float(m.intercept_[0])),
            }  # fmt: skip
    except ImportError:
        notes.append("scikit-learn not installed: skipped")
    rows["numpy gradient descent"] = _numpy_gd(X, y)
    torch = _torch()
    if torch is None:
        notes.append("pytorch not installed: skipped")
    else:
        rows["pytorch lbfgs"] = _torch_lbfgs(
            torch, X, y, "cuda" if device.platform == "gpu" else "cpu"
        )
    best = min(r["log_loss"] for r in rows.values())
    peers = []
    for name, r in rows.items():
        r["comparable"] = bool(r["log_loss"] <= best * (1 + COMPARABLE_RTOL))
        if not name.startswith("jaxlogloss") and r["comparable"]:
            peers.append(r["seconds"])
    fastest_peer = min(peers) if peers else float("nan")
    sk = [
        r["seconds"]
        for k, r in rows.items()
        if k.startswith("sklearn") and r["comparable"]
    ]
    fastest_sklearn = min(sk) if sk else None
    for name, r in rows.items():
        r["speedup"] = fastest_peer / r["seconds"]
        if fastest_sklearn is not None:
            r["vs_fastest_sklearn_ratio"] = fastest_sklearn / r["seconds"]
        if name.startswith("jaxlogloss"):
            r["speedup_with_compile_ratio"] = fastest_peer / r["first_call_seconds"]
    return {
        "best_log_loss": best,
        "comparable_rtol": COMPARABLE_RTOL,
        "solvers": rows,
        "notes": notes,
    }


def _numpy_gd(X: np.ndarray, y: np.ndarray, max_iter: int = 500) -> dict[str, Any]:
    """Gradient descent with the closed-form gradient and step 4/L (L: 1/4 of ||X~||^2/n)."""
    n, d = X.shape
    mean, scale = X.mean(0), X.std(0) + 1e-12
    start = time.perf_counter()
    Xs = (X - mean) / scale  # standardised once, as the peers do
    w, b = np.zeros(d, X.dtype), 0.0
    lr = 4.0  # the curvature of the mean log-loss on standardised features is <= 1/4
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        with np.errstate(over="ignore"):
            p = 1 / (1 + np.exp(-(Xs @ w + b)))
        g = p - y
        gw, gb = Xs.T @ g / n, float(np.mean(g))
        if max(np.max(np.abs(gw)), abs(gb)) < 1e-6:
            break
        w, b = w - lr * gw, b - lr * gb
    seconds = time.perf_counter() - start
    w_raw = w / scale
    return {"seconds": seconds, "iterations": iterations, "status": "done",
            "log_loss": mean_log_loss(X, y, w_raw, b - float(mean @ w_raw))}  # fmt: skip


def _torch_lbfgs(torch: Any, X: np.ndarray, y: np.ndarray, dev: str) -> dict[str, Any]:
    Xt, yt = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)
    w = torch.zeros(X.shape[1], dtype=Xt.dtype, device=dev, requires_grad=True)
    b = torch.zeros((), dtype=Xt.dtype, device=dev, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b], line_search_fn="strong_wolfe", max_iter=500, tolerance_grad=1e-7
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def closure() -> Any:
        opt.zero_grad()
        loss = loss_fn(Xt @ w + b, yt)
        loss.backward()
        return loss

    start = time.perf_counter()
    opt.step(closure)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "iterations": int(opt.state[opt._params[0]]["n_iter"]), "status": "done",
            "log_loss": mean_log_loss(X, y, w.detach().cpu().numpy(), float(b.detach().cpu()))}  # fmt: skip


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
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        out["notes"] = ["scikit-learn not installed: no peer"]
        return out
    start = time.perf_counter()
    objectives = []
    for alpha in l2s:
        m = LogisticRegression(C=1 / (n * alpha), tol=1e-10, max_iter=1000).fit(X, y)
        objectives.append(
            mean_log_loss(X, y, m.coef_[0], float(m.intercept_[0]))
            + alpha / 2 * float(np.sum(m.coef_**2))
        )
    peer = time.perf_counter() - start
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


MEMORY_CHILD = textwrap.dedent(
    """
    import json, sys, threading, time
    import numpy as np
    import jax.numpy as jnp
    from jaxlogloss.bench import make_data
    from jaxlogloss.fitting.fit import fit

    def rss_mb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024

    jnp.zeros(1).block_until_ready()
    base = rss_mb()
    X, y = make_data(int(sys.argv[1]), int(sys.argv[2]))
    with_x = rss_mb()
    peak, running = [with_x], [True]

    def sample():
        while running[0]:
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        fit(X, y, solver=sys.argv[3], dtype="float32")
    finally:
        running[0] = False
    t.join()
    print(json.dumps({"base": base, "with_x": with_x, "peak": peak[0], "x_bytes": X.nbytes}))
    """
)


def bench_memory(n: int, d: int, solver: str = "lbfgs") -> dict[str, Any]:
    """Peak resident memory of a float32 fit, sampled every 2 ms in a child process."""
    if not os.path.exists("/proc/self/status"):
        return {"notes": ["no /proc: peak memory not measured on this system"]}
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(n), str(d), solver],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    m = json.loads(proc.stdout)
    mb = 2**20
    return {
        "x_bytes": m["x_bytes"],
        "peak_over_x_ratio": (m["peak"] - m["base"]) * mb / m["x_bytes"],
        "fit_extra_over_x_ratio": (m["peak"] - m["with_x"]) * mb / m["x_bytes"],
    }


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
    """Run every part (see the module docstring) and return the JSON-able result."""
    from jaxlogloss.precision import enable_x64

    dev = _device(device)
    if sizes is None:
        sizes = (
            [(2_000, 10), (20_000, 20)]
            if quick
            else [(10_000, 100), (100_000, 100), (1_000_000, 100)]
        )
    repeats = 3 if quick else 11
    np_dtype = np.float64 if dtype == "float64" else np.float32
    result: dict[str, Any] = {
        "device": {
            "platform": dev.platform,
            "kind": dev.device_kind,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "versions": _versions(),
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
            log(_grad_table(r))
        n, d = sizes[-1]
        X, y = make_data(n, d, np_dtype)
        result["fit"] = bench_fit(X, y, dev)
        log(_fit_table(result["fit"], n, d))
    result["sweep"] = bench_sweep(
        16 if quick else 256, 2_000 if quick else 20_000, 10 if quick else 20
    )
    log(_sweep_table(result["sweep"]))
    result["memory"] = bench_memory(*sizes[-1])
    if "peak_over_x_ratio" in result["memory"]:
        log(f"peak memory of a fit: {result['memory']['peak_over_x_ratio']:.2f}x the bytes of X "
            f"(the fit itself adds {result['memory']['fit_extra_over_x_ratio']:.2f}x)")  # fmt: skip
    return result


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ["jax", "jaxlib", "numpy", "scikit-learn", "torch"]:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _grad_table(r: dict[str, Any]) -> str:
    lines = [
        f"\ngradient step, n = {r['n']:,}, d = {r['d']} ({r['bytes'] / 1e6:.0f} MB): floor {r['floor_ms']:.2f} ms, "
        f"compile {r['compile_seconds']:.2f} s",
        f"  {'path':<40} {'ms':>9} {'GB/s':>7} {'of ceiling':>10} {'vs floor':>9} {'vs numpy':>9}",
    ]
    for name, p in r["paths"].items():
        numpy = f"{p['numpy_ratio']:8.2f}x" if "numpy_ratio" in p else " " * 9
        lines.append(f"  {name:<40} {p['ms']:9.2f} {p['gb_per_s']:7.1f} {p['ceiling_fraction_ratio']:9.0%} "
                     f"{p['floor_ratio']:8.2f}x {numpy}")  # fmt: skip
    lines += [f"  ({note})" for note in r["notes"]]
    return "\n".join(lines)


def _fit_table(r: dict[str, Any], n: int, d: int) -> str:
    lines = [
        f"\ntime to the optimum, n = {n:,}, d = {d} (best log-loss {r['best_log_loss']:.10f}; "
        f"comparable within {r['comparable_rtol']:g} relative; speedup: vs the fastest comparable "
        "peer):",
        f"  {'solver':<26} {'seconds':>8} {'compile':>8} {'iters':>6} {'speedup':>8} {'vs sklearn':>10}",
    ]
    for name, s in r["solvers"].items():
        comp = f"{s['compile_seconds']:8.2f}" if "compile_seconds" in s else " " * 8
        tag = "" if s["comparable"] else "  NOT COMPARABLE"
        lines.append(
            f"  {name:<26} {s['seconds']:8.3f} {comp} {s['iterations']:6d} {s['speedup']:7.2f}x{tag}"
        )
    lines += [f"  ({note})" for note in r["notes"]]
    return "\n".join(lines)


def _sweep_table(r: dict[str, Any]) -> str:
    ours = r["jaxlogloss vmapped newton"]
    text = f"\nL2 path of {r['runs']} fits ({r['n']:,} x {r['d']} float64): vmapped newton {ours['seconds']:.2f} s"
    if "speedup" in ours:
        text += (f", sequential scikit-learn {r['sklearn lbfgs sequential']['seconds']:.2f} s: "
                 f"{ours['speedup']:.1f}x")  # fmt: skip
    return text


def plot(result: dict[str, Any], path: str) -> None:
    """Gradient time vs n on log-log axes, with the bandwidth floor drawn."""
    from jaxlogloss.experiments import figures as fg

    fig, ax = fg.new_figure(width=6.4, height=4.4)
    grads = result["grad"]
    ns = [g["n"] * g["d"] for g in grads]
    names = list(grads[0]["paths"])
    for name in names:
        ax.plot(ns, [g["paths"][name]["ms"] for g in grads], "o-", label=name)
    ax.plot(ns, [g["floor_ms"] for g in grads], "k--", label="two-pass bandwidth floor")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("elements of X (n × d)")
    ax.set_ylabel("one gradient step (ms)")
    ax.set_title(f"Gradient step on {result['device']['kind']} ({result['dtype']})")
    ax.legend(fontsize=7)
    fg.save_figure(fig, path, 110)
