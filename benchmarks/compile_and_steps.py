"""Benchmark: first-call compilation of a fit, and first-order steps through ``train``.

    python benchmarks/compile_and_steps.py [--part compile|steps|all] [--repeats 3]
        [--sizes 1000000x100xfloat32,20000x20xfloat64] [--solvers newton,lbfgs]

1. **Compilation** (issue 11, part 5: the first call of a fit compiles in <= 0.5 s).
   For each solver, size and mode -- ``compiled`` (the whole solver run as one XLA
   program, :func:`jaxlogloss.fitting.solve.minimise_compiled`) and ``host`` (the loops on
   the host around jitted evaluations, :mod:`jaxlogloss.fitting.host_loop`) -- a fresh
   process calls ``jl.fit`` once (first call: tracing and compilation included), then
   ``--repeats`` more times. compile = first call - median of the later calls; run =
   that median. Both modes take the same iterations (checked). Printed with the ratios
   host / compiled. What ``fit`` picks by default is the ``fit uses`` column.
2. **First-order steps** (part 6: <= 1.3x one gradient evaluation per step).
   ``train(..., optimizer="adam", steps=200, standardize=True)`` on 1,000,000 x 100
   float32 feature-major (fixed seed), timed whole (its setup and summaries included)
   and divided by 200, against one ``jax.jit(jax.value_and_grad(...))`` of the same
   objective (200 back-to-back calls), interleaved in the same process (medians of
   ``--repeats`` rounds; this machine is shared, read the ratios). Also
   ``jl.fit(solver="adam", dtype="float32", max_iter=200)`` per step (inference
   included), and one float64 value_and_grad: ``fit``'s default dtype.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

SEED = 0


def make_data(n: int, d: int, dtype: str) -> tuple[Any, Any]:
    """Feature-major X (d, n) and labels from a logistic model with a fixed seed."""
    rng = np.random.default_rng(SEED)
    xt = rng.standard_normal((d, n), dtype=np.float32).astype(dtype)
    w = rng.standard_normal(d).astype(dtype) / np.sqrt(d)
    z = w @ xt + 0.25
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(dtype)
    return xt, y


def child(solver: str, size: str, mode: str, repeats: int) -> dict[str, Any]:
    """One fresh process: the first fit call, then ``repeats`` more (see above)."""
    import jax.numpy as jnp

    import jaxlogloss as jl
    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.fitting import host_loop
    from jaxlogloss.precision import enable_x64

    n, d, dtype = size.split("x")
    xt, y = make_data(int(n), int(d), dtype)
    with enable_x64(dtype == "float64"):
        X = FeatureMajor(jnp.asarray(xt))
    default = host_loop.HOST_LOOP_MIN_ELEMENTS
    big = default is not None and int(n) * int(d) >= default
    picked = "host" if big else "compiled"
    if mode == "host":
        host_loop.HOST_LOOP_MIN_ELEMENTS = 0
    elif mode == "compiled":
        host_loop.HOST_LOOP_MIN_ELEMENTS = 1 << 62
    times, n_iter = [], []
    for _ in range(1 + repeats):
        t = time.perf_counter()
        r = jl.fit(X, y, solver=solver, dtype=dtype)
        times.append(time.perf_counter() - t)
        n_iter.append(r.n_iter)
    run = float(np.median(times[1:]))
    return dict(
        solver=solver, size=size, mode=mode, first=times[0], run=run,
        compile=times[0] - run, n_iter=n_iter[0], status=r.status, picked=picked,
        coef=[float(c) for c in r.coef[:3]],
    )  # fmt: skip


def compile_table(sizes: list[str], solvers: list[str], repeats: int) -> None:
    print("## first call of jl.fit: compile = first call - median later call")
    print(
        f"{'solver':7} {'size':22} {'mode':9} {'first s':>8} {'compile s':>9} "
        f"{'run s':>8} {'iters':>5} | host/compiled: compile, run | fit uses"
    )
    for size in sizes:
        for solver in solvers:
            rows = {}
            for mode in ("compiled", "host"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", solver, size, mode,
                     "--repeats", str(repeats)],
                    capture_output=True, text=True, check=True, env=os.environ,
                )  # fmt: skip
                rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            c, h = rows["compiled"], rows["host"]
            for r in (c, h):
                print(
                    f"{solver:7} {size:22} {r['mode']:9} {r['first']:8.3f} "
                    f"{r['compile']:9.3f} {r['run']:8.3f} {r['n_iter']:5d}",
                    end="",
                )
                if r is h:
                    same = (
                        "same iters" if c["n_iter"] == h["n_iter"] else "ITERS DIFFER"
                    )
                    print(
                        f" | {h['compile'] / c['compile']:5.2f}x, "
                        f"{h['run'] / c['run']:5.2f}x ({same}) | {h['picked']}"
                    )
                else:
                    print()


def steps_table(
    repeats: int, steps: int = 200, n: int = 1_000_000, d: int = 100
) -> dict[str, float]:
    """The per-step table (printed); returned as milliseconds (``grad_ms``,
    ``train_ms``, ``fit_ms``, ``grad64_ms``) and the medians of the per-round
    ratios (``train_ratio``, ``fit_ratio``: a step over one value_and_grad)."""
    import jax
    import jax.numpy as jnp

    import jaxlogloss as jl
    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.fitting.train import objective_std, train
    from jaxlogloss.model.objective import Problem
    from jaxlogloss.model.params import LinearParams
    from jaxlogloss.model.scaling import feature_scaling
    from jaxlogloss.precision import enable_x64

    xt, y = make_data(n, d, "float32")
    X, y = FeatureMajor(jnp.asarray(xt)), jnp.asarray(y)
    grad = jax.jit(jax.value_and_grad(objective_std), static_argnums=3)

    def grads(X: Any, y: Any, count: int) -> float:
        """Seconds per value_and_grad over ``count`` back-to-back calls (the same
        span of time as the steps they are compared with: fair on a shared machine)."""
        dtype = y.dtype
        problem = Problem(X, y, None, jnp.asarray(0.0, dtype))
        scaling = jax.jit(feature_scaling)(X, None, 0.0)
        p = LinearParams(jnp.zeros(d, dtype), jnp.asarray(0.0, dtype))
        jax.block_until_ready(grad(p, problem, scaling, "log_loss"))
        t = time.perf_counter()
        for _ in range(count):
            out = grad(p, problem, scaling, "log_loss")
        jax.block_until_ready(out)
        return (time.perf_counter() - t) / count

    def train_step() -> float:
        t = time.perf_counter()
        r = train(p0, X, y, optimizer="adam", steps=steps, standardize=True)
        jax.block_until_ready(r.params)
        return (time.perf_counter() - t) / steps

    def fit_step() -> float:
        t = time.perf_counter()
        jl.fit(X, y, solver="adam", max_iter=steps, dtype="float32", tol=1e-12)
        return (time.perf_counter() - t) / steps

    p0 = LinearParams(jnp.zeros(d, jnp.float32), jnp.float32(0.0))
    train_step(), fit_step()  # compile
    g, s, f = [], [], []
    for _ in range(repeats):
        g.append(grads(X, y, steps))
        s.append(train_step())
        f.append(fit_step())
    with enable_x64(True):  # the float64 peer: what fit's default dtype costs a pass
        g64 = grads(FeatureMajor(jnp.asarray(xt, jnp.float64)),
                    jnp.asarray(y, jnp.float64), 20)  # fmt: skip
    ms = lambda v: 1e3 * float(np.median(v))  # noqa: E731
    ratio = lambda a, b: float(np.median(np.divide(a, b)))  # noqa: E731
    print(f"## per step vs one value_and_grad ({steps} back-to-back calls), {n} x {d} "
          f"float32 feature-major, medians of {repeats} interleaved rounds")  # fmt: skip
    print(f"{'one value_and_grad':44} {ms(g):8.1f} ms")
    print(f"{'train(adam, steps=200) step, setup included':44} {ms(s):8.1f} ms   "
          f"ratio {ratio(s, g):.2f}x")  # fmt: skip
    print(f"{'fit(solver=adam, float32) step, all included':44} {ms(f):8.1f} ms   "
          f"ratio {ratio(f, g):.2f}x")  # fmt: skip
    print(f"{'one value_and_grad in float64 (fit default)':44} {1e3 * g64:8.1f} ms   "
          f"ratio {1e3 * g64 / ms(g):.2f}x")  # fmt: skip
    return dict(grad_ms=ms(g), train_ms=ms(s), fit_ms=ms(f), grad64_ms=1e3 * g64,
                train_ratio=ratio(s, g), fit_ratio=ratio(f, g))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("compile", "steps", "all"), default="all")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="1000000x100xfloat32,20000x20xfloat64")
    ap.add_argument("--solvers", default="newton,lbfgs")
    ap.add_argument("--child", nargs=3, metavar=("SOLVER", "SIZE", "MODE"))
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(*a.child, a.repeats)))
        return
    if a.part in ("compile", "all"):
        compile_table(a.sizes.split(","), a.solvers.split(","), a.repeats)
    if a.part in ("steps", "all"):
        steps_table(a.repeats)


if __name__ == "__main__":
    main()
