"""Benchmark: one gradient step of the mean log-loss, jaxlogloss vs NumPy (and PyTorch).

    python benchmarks/grad_step.py [--n 1000000] [--d 100] [--repeats 15] [--json FILE]

Measured in one run, on the same data (X: n x d float32, standard normal):

* the floor: a gradient needs two passes over X (X w, then X^T v), so the floor is
  2 x the fastest single pass over X measured here (NumPy or JAX, either layout);
* NumPy's closed form ``X.T @ (sigmoid(X @ w) - y) / n`` (the peer);
* jaxlogloss: ``jax.jit(jax.value_and_grad(objective))`` -- the gradient derived by
  ``jax.grad`` -- on the feature-major layout the framework hands its compiled functions,
  and on a plain row-major X for comparison;
* jaxlogloss's closed form on the feature-major layout;
* PyTorch's autograd and closed form, when torch is installed.

Every gradient is checked against NumPy's before timing. Times are medians of
``--repeats`` calls, each with fresh parameters, after a warm-up (compile) call, with
``block_until_ready``. Ratios are what to read: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxlogloss as jl
from jaxlogloss.model.objective import objective


def median_ms(fn: Callable[[np.ndarray], Any], ws: list[np.ndarray]) -> float:
    """Median wall time (ms) of ``fn(w)`` over fresh parameter vectors, after a warm-up."""
    jax.block_until_ready(fn(ws[0]))
    times = []
    for w in ws[1:]:
        start = time.perf_counter()
        jax.block_until_ready(fn(w))
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    n, d = args.n, args.d

    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    w_true = rng.standard_normal(d).astype(np.float32) / np.sqrt(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w_true)))).astype(np.float32)
    ws = [
        0.1 * rng.standard_normal(d).astype(np.float32) for _ in range(args.repeats + 1)
    ]

    # --- the peer: NumPy closed form (one pass X @ w, one pass X.T @ v) ---------------
    def numpy_grad(w: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            p = 1 / (1 + np.exp(-(X @ w)))
        return X.T @ (p - y) / n

    # --- jaxlogloss: the layouts -----------------------------------------------------
    X_row = jnp.asarray(X)
    X_fm = jl.feature_major(X_row)
    y_j = jnp.asarray(y)
    b0 = jnp.zeros((), jnp.float32)
    value_and_grad = jax.jit(jax.value_and_grad(objective))
    closed_form = jax.jit(jl.log_loss_gradient)  # checks shapes at trace time only

    def jl_grad(design: Any) -> Callable[[np.ndarray], Any]:
        return lambda w: (
            value_and_grad(jl.LinearParams(jnp.asarray(w), b0), design, y_j)[1].w
        )

    candidates: dict[str, Callable[[np.ndarray], Any]] = {
        "numpy closed form (peer)": numpy_grad,
        "jaxlogloss jax.grad, feature-major X": jl_grad(X_fm),
        "jaxlogloss jax.grad, row-major X": jl_grad(X_row),
        "jaxlogloss closed form, feature-major X": lambda w: (
            closed_form(jl.LinearParams(jnp.asarray(w), b0), X_fm, y_j).w
        ),
    }
    try:
        import torch

        torch.set_num_threads(max(1, torch.get_num_threads()))
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        bce = torch.nn.BCEWithLogitsLoss()

        def torch_autograd(w: np.ndarray) -> np.ndarray:
            wt = torch.tensor(w, requires_grad=True)
            bce(Xt @ wt, yt).backward()
            return wt.grad.numpy()

        def torch_closed(w: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return (
                    Xt.T @ (torch.sigmoid(Xt @ torch.from_numpy(w)) - yt) / n
                ).numpy()

        candidates["pytorch autograd (BCEWithLogits)"] = torch_autograd
        candidates["pytorch closed form"] = torch_closed
        torch_note = f"torch {torch.__version__}"
    except ImportError:
        torch_note = "pytorch not installed: skipped"

    # every candidate computes the same gradient
    reference = numpy_grad(ws[0]).astype(np.float64)
    for name, fn in candidates.items():
        got = np.asarray(fn(ws[0]), np.float64)
        err = np.max(np.abs(got - reference)) / np.max(np.abs(reference))
        if err > 1e-4:
            raise AssertionError(f"{name}: gradient differs from NumPy's by {err:.2e}")

    # --- single passes over X: the floor -----------------------------------------------
    v = jnp.asarray(rng.standard_normal(n).astype(np.float32))
    matvec_fm = jax.jit(lambda xt, w: w @ xt)
    rmatvec_fm = jax.jit(lambda xt, v: xt @ v)
    matvec_row = jax.jit(lambda X, w: X @ w)
    passes = {
        "numpy X @ w": lambda w: X @ w,
        "jax X @ w (row-major)": lambda w: matvec_row(X_row, jnp.asarray(w)),
        "jax w @ xt (feature-major)": lambda w: matvec_fm(X_fm.xt, jnp.asarray(w)),
        "jax xt @ v (feature-major)": lambda w: rmatvec_fm(X_fm.xt, v),
    }
    pass_ms = {name: median_ms(fn, ws) for name, fn in passes.items()}
    one_pass = min(pass_ms.values())
    floor = 2 * one_pass
    times = {name: median_ms(fn, ws) for name, fn in candidates.items()}
    peer = times["numpy closed form (peer)"]

    gbytes = X.nbytes / 1e9
    print(
        f"gradient step, X = {n:,} x {d} float32 ({gbytes * 1e3:.0f} MB), "
        f"{jax.devices()[0].platform}, jax {jax.__version__}, numpy {np.__version__}, "
        f"{torch_note}; medians of {args.repeats}"
    )
    print(
        f"\nsingle passes over X (fastest = one pass, {gbytes / one_pass * 1e3:.1f} GB/s):"
    )
    for name, ms in pass_ms.items():
        print(f"  {name:<40} {ms:8.1f} ms")
    print(f"two-pass floor = 2 x {one_pass:.1f} = {floor:.1f} ms\n")
    header = f"  {'gradient':<40} {'ms':>8} {'vs numpy':>9} {'vs floor':>9} {'GB/s':>7}"
    print(header)
    rows = []
    for name, ms in times.items():
        row = dict(
            name=name,
            ms=ms,
            numpy_ratio=ms / peer,
            floor_ratio=ms / floor,
            gb_per_s=2 * gbytes / (ms / 1e3),
        )
        rows.append(row)
        print(
            f"  {name:<40} {ms:8.1f} {row['numpy_ratio']:8.2f}x {row['floor_ratio']:8.2f}x "
            f"{row['gb_per_s']:7.1f}"
        )
    result = dict(
        benchmark="grad_step",
        n=n,
        d=d,
        dtype="float32",
        repeats=args.repeats,
        device=jax.devices()[0].platform,
        machine=platform.machine(),
        jax=jax.__version__,
        numpy=np.__version__,
        torch=torch_note,
        single_pass_ms=pass_ms,
        floor_ms=floor,
        gradients=rows,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
