"""Benchmark: penalised paths and cross-validation next to scikit-learn and skglm.

    python benchmarks/penalised_paths.py [--n 100000] [--d 50] [--alphas 20]
        [--folds 5] [--skip-slow] [--json FILE]

In one run, on n x d float64 data with a sparse true model (5 nonzero coefficients of
d; standard-normal features with a shared factor, correlation 0.3), a grid of
``--alphas`` log-spaced points from alpha_max down to 1e-3 alpha_max:

1. the L1 path: ``jl.fit_path`` (first call = compile + run, then the compiled call,
   best of 2) vs scikit-learn ``LogisticRegression(solver="saga", l1_ratio=1,
   warm_start=True)`` refitted down the grid (C = 1 / (n alpha)), vs skglm's
   ``SparseLogisticRegression(warm_start=True)`` (same objective, tol 1e-8);
   python-glmnet needs a Fortran compiler to build and is not installed here.
   The objective gap at every alpha: ours minus the peer's, both evaluated by NumPy on
   the objective of the issue (negative: ours is lower);
2. 5-fold CV, L1: ``jl.cv`` vs ``LogisticRegressionCV(solver="saga", tol=1e-4,
   l1_ratios=[1])`` with the same folds and Cs;
3. 5-fold CV, L2, 20 Cs: ``jl.cv(penalty="l2")`` vs ``LogisticRegressionCV(lbfgs)``.

Ratios are peer time / ours (above 1: ours is faster). The machine is shared and has
few cores: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np


def make_data(
    n: int, d: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 1))
    X = np.sqrt(0.7) * rng.normal(size=(n, d)) + np.sqrt(0.3) * shared
    w = np.zeros(d)
    w[:5] = [1.5, -1.0, 0.8, -0.6, 0.4]
    p = 1 / (1 + np.exp(-(X @ w - 0.5)))
    y = (rng.random(n) < p).astype(np.float64)
    return X, y, w


def objective(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, alpha: float,
              l1_ratio: float) -> float:  # fmt: skip
    z = X @ w + b
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    pen = l1_ratio * np.abs(w).sum() + 0.5 * (1 - l1_ratio) * w @ w
    return float(loss + alpha * pen)


def timed(fn, repeat: int = 1):  # noqa: ANN001, ANN201
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def our_path(X, y, grid):  # noqa: ANN001, ANN201
    import jaxlogloss as jl

    first, _ = timed(lambda: jl.fit_path(X, y, penalty="l1", alphas=grid))
    best, res = timed(lambda: jl.fit_path(X, y, penalty="l1", alphas=grid), 2)
    screened, _ = timed(
        lambda: jl.fit_path(X, y, penalty="l1", alphas=grid, screening=True), 2
    )
    return first, best, screened, res


def saga_path(X, y, grid, tol):  # noqa: ANN001, ANN201
    from sklearn.linear_model import LogisticRegression

    n = X.shape[0]
    model = LogisticRegression(
        solver="saga", l1_ratio=1.0, warm_start=True, tol=tol, max_iter=100000
    )
    coefs = []
    for a in grid:
        model.set_params(C=1 / (n * a))
        model.fit(X, y)
        coefs.append((model.coef_[0].copy(), float(model.intercept_[0])))
    return coefs


def skglm_path(X, y, grid):  # noqa: ANN001, ANN201
    from skglm import SparseLogisticRegression

    model = SparseLogisticRegression(
        alpha=grid[0], tol=1e-8, warm_start=True, max_iter=100, max_epochs=100000
    )
    coefs = []
    for a in grid:
        model.set_params(alpha=a)
        model.fit(X, 2 * y - 1)
        coefs.append((model.coef_[0].copy(), float(np.ravel(model.intercept_)[0])))
    return coefs


def gaps(X, y, grid, ours, peer, l1_ratio=1.0):  # noqa: ANN001, ANN201
    out = []
    for k, a in enumerate(grid):
        mine = objective(X, y, ours.coef[k], ours.intercept[k], a, l1_ratio)
        theirs = objective(X, y, *peer[k], a, l1_ratio)
        out.append(mine - theirs)
    return np.array(out)


def cv_rows(X, y, grid, folds, skip_slow):  # noqa: ANN001, ANN201
    from sklearn.linear_model import LogisticRegressionCV

    import jaxlogloss as jl
    from jaxlogloss.fitting.cv import stratified_folds

    n = X.shape[0]
    fold_of = stratified_folds(y, folds, 0)
    splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k))
              for k in range(folds)]  # fmt: skip
    rows = {}
    first, _ = timed(lambda: jl.cv(X, y, penalty="l1", alphas=grid, folds=folds))
    best, res = timed(lambda: jl.cv(X, y, penalty="l1", alphas=grid, folds=folds), 2)
    rows["cv_l1"] = {"ours_first_s": first, "ours_s": best, "alpha_min": res.alpha_min}
    if not skip_slow:
        t, m = timed(
            lambda: LogisticRegressionCV(
                Cs=list(1 / (n * grid)), l1_ratios=[1.0], solver="saga", tol=1e-4,
                cv=splits, scoring="neg_log_loss", max_iter=10000,
            ).fit(X, y)
        )  # fmt: skip
        rows["cv_l1"].update(sklearn_saga_s=t, ratio=t / best)
        rows["cv_l1"]["sklearn_alpha"] = float(1 / (n * m.C_[0]))
    l2grid = np.logspace(np.log10(grid[0]), np.log10(grid[-1]), 20) / 10
    first, _ = timed(lambda: jl.cv(X, y, penalty="l2", alphas=l2grid, folds=folds))
    best, res = timed(lambda: jl.cv(X, y, penalty="l2", alphas=l2grid, folds=folds), 2)
    t, m = timed(
        lambda: LogisticRegressionCV(
            Cs=list(1 / (n * l2grid)), solver="lbfgs", cv=splits,
            scoring="neg_log_loss", max_iter=10000,
        ).fit(X, y)
    )  # fmt: skip
    rows["cv_l2"] = {
        "ours_first_s": first, "ours_s": best, "sklearn_lbfgs_s": t, "ratio": t / best,
        "alpha_min": res.alpha_min, "sklearn_alpha": float(1 / (n * m.C_[0])),
    }  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--alphas", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--saga-tol", type=float, default=1e-4)
    parser.add_argument("--skip-slow", action="store_true", help="no saga rows")
    parser.add_argument("--json", help="write the numbers as JSON")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from jaxlogloss.fitting.path import alpha_max
    from jaxlogloss.precision import enable_x64

    X, y, _ = make_data(args.n, args.d)
    with enable_x64():
        import jax.numpy as jnp

        top = float(alpha_max(X, jnp.asarray(y), jnp.ones_like(jnp.asarray(y)), 1.0,
                              jnp.ones(args.d)))  # fmt: skip
    grid = top * np.logspace(0, -3, args.alphas)
    report: dict = {"n": args.n, "d": args.d, "alphas": args.alphas}
    first, best, screened, ours = our_path(X, y, grid)
    row = {"ours_first_s": first, "ours_s": best, "ours_screening_s": screened,
           "n_iter": int(ours.n_iter.sum()), "max_kkt": float(ours.kkt.max())}  # fmt: skip
    print(
        f"L1 path: ours {best:.3f} s (first call {first:.2f} s, screening {screened:.3f} s)"
    )
    try:
        skglm_path(X[:2000], y[:2000], grid[:2])  # numba compiles outside the timing
        t, peer = timed(lambda: skglm_path(X, y, grid))
        g = gaps(X, y, grid, ours, peer)
        row.update(skglm_s=t, skglm_ratio=t / best, skglm_gaps=g.tolist())
        print(f"  skglm {t:.3f} s  ratio {t / best:.2f}  gap max {g.max():.2e} "
              f"min {g.min():.2e}")  # fmt: skip
    except ImportError:
        print("  skglm not installed")
    if not args.skip_slow:
        t, peer = timed(lambda: saga_path(X, y, grid, args.saga_tol))
        g = gaps(X, y, grid, ours, peer)
        row.update(saga_s=t, saga_ratio=t / best, saga_gaps=g.tolist(),
                   saga_tol=args.saga_tol)  # fmt: skip
        print(f"  saga(tol {args.saga_tol:g}) {t:.3f} s  ratio {t / best:.2f}  "
              f"gap max {g.max():.2e} min {g.min():.2e}")  # fmt: skip
    report["l1_path"] = row
    report.update(cv_rows(X, y, grid, args.folds, args.skip_slow))
    for key in ("cv_l1", "cv_l2"):
        print(key, {k: round(v, 4) if isinstance(v, float) else v
                    for k, v in report[key].items()})  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
