"""The benchmark's tables (printed as it runs) and its plot."""

from __future__ import annotations

from typing import Any


def grad_table(r: dict[str, Any]) -> str:
    """One gradient step per path: ms, GB/s, share of the ceiling, vs floor, vs NumPy."""
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


def fit_table(r: dict[str, Any], n: int, d: int) -> str:
    """Time to the optimum per solver, with compile time, iterations and two ratios,
    each named by what it divides: the fastest comparable peer's time, and PyTorch
    L-BFGS's time, by the row's time (> 1: the row is faster)."""
    torch = r["solvers"].get("pytorch lbfgs")
    lines = [
        f"\ntime to the optimum, n = {n:,}, d = {d} (best log-loss {r['best_log_loss']:.10f}; "
        f"comparable within {r['comparable_rtol']:g} relative; 'whole call': jl.fit on the "
        "NumPy array, inference included):",
        f"  {'solver':<32} {'seconds':>8} {'compile':>8} {'iters':>6} "
        f"{'fastest peer / this':>19} {'pytorch lbfgs / this':>20}",
    ]
    for name, s in r["solvers"].items():
        comp = f"{s['compile_seconds']:8.2f}" if "compile_seconds" in s else " " * 8
        tag = "" if s["comparable"] else "  NOT COMPARABLE"
        vs_torch = f"{torch['seconds'] / s['seconds']:19.2f}x" if torch else " " * 20
        lines.append(
            f"  {name:<32} {s['seconds']:8.3f} {comp} {s['iterations']:6d} "
            f"{s['speedup']:18.2f}x {vs_torch}{tag}"
        )
    lines += [f"  ({note})" for note in r["notes"]]
    return "\n".join(lines)


def sweep_line(r: dict[str, Any]) -> str:
    """The L2 path: the vmapped call's time, and the sequential peer's when measured."""
    ours = r["jaxlogloss vmapped newton"]
    text = f"\nL2 path of {r['runs']} fits ({r['n']:,} x {r['d']} float64): vmapped newton {ours['seconds']:.2f} s"
    if "speedup" in ours:
        text += (f", sequential scikit-learn {r['sklearn lbfgs sequential']['seconds']:.2f} s: "
                 f"{ours['speedup']:.1f}x")  # fmt: skip
    return text


def memory_line(r: dict[str, Any]) -> str | None:
    """Peak memory of a fit over the bytes of X; None when it was not measured."""
    if "peak_over_x_ratio" not in r:
        return None
    return (f"peak memory of a fit: {r['peak_over_x_ratio']:.2f}x the bytes of X "
            f"(the fit itself adds {r['fit_extra_over_x_ratio']:.2f}x)")  # fmt: skip


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
