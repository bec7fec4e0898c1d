"""Run by tests/test_distributed.py in a child process (several devices or processes).

Fits and trains on deterministic data with the rows split over every device of the
job, and prints (process 0) one JSON object with the results to compare against the
one-device run. Joins a multi-process job when JAXLOGLOSS_COORDINATOR is set.
"""

import json
import sys

import numpy as np

from jaxlogloss.parallel import mesh as dist

settings = dist.process_settings()
if settings is not None:
    dist.initialize(*settings)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxlogloss.fitting.fit import fit  # noqa: E402
from jaxlogloss.fitting.train import train  # noqa: E402
from jaxlogloss.model.objective import Problem, objective  # noqa: E402
from jaxlogloss.model.params import LinearParams  # noqa: E402
from jaxlogloss.precision import enable_x64  # noqa: E402


def make_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(0.1, 10, d) + np.linspace(0, 50, d)
    logits = (X - X.mean(0)) / X.std(0) @ np.linspace(-1, 1, d) + 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(np.float64)
    w = rng.integers(1, 4, n).astype(np.float64)
    return X, y, w


def main() -> None:
    n, d = int(sys.argv[1]), int(sys.argv[2])
    X, y, w = make_data(n, d)
    mesh = dist.data_mesh()
    local = jax.process_count() > 1
    if local:  # each process keeps only its own rows
        start, stop = dist.process_row_range(
            n, jax.process_count(), jax.process_index()
        )
        X, y, w = X[start:stop], y[start:stop], w[start:stop]
    out = {"devices": jax.device_count(), "processes": jax.process_count()}
    with enable_x64(True):
        point = LinearParams(jnp.linspace(-0.2, 0.3, d), jnp.asarray(0.1))
        problem = Problem(jnp.asarray(X), jnp.asarray(y), jnp.asarray(w), 0.01)
        sharded, _, n_total = dist.shard_problem(problem, mesh, process_local=local)
        grad = jax.jit(jax.grad(objective))(point, *sharded)
        out["n"] = n_total
        out["grad"] = np.r_[dist.to_host(grad.w), dist.to_host(grad.b)].tolist()
        for solver in ("newton", "lbfgs", "adam"):
            r = fit(
                X, y, sample_weight=w, solver=solver, mesh=mesh, process_local=local,
                max_iter=200 if solver == "adam" else None,
            )  # fmt: skip
            out[solver] = {
                "coef": [r.intercept, *r.coef.tolist()],
                "std_err": r.inference.std_err.tolist(),
                "n_iter": r.n_iter,
                "status": r.status,
                "n_samples": r.n_samples,
            }
    Xf, yf = X.astype(np.float32), y.astype(np.float32)
    for batch in (None, 16):
        r = train(
            LinearParams(jnp.zeros(d), jnp.zeros(())), Xf, yf, optimizer="adam",
            steps=40, batch_size=batch, standardize=True, chunk_size=15, mesh=mesh,
            process_local=local, metrics=("accuracy", "roc_auc"),
        )  # fmt: skip
        out[f"train_{batch}"] = {
            "params": np.r_[np.asarray(r.params.w), np.asarray(r.params.b)].tolist(),
            "step_losses": r.step_losses.tolist(),
            "roc_auc": float(r.history["roc_auc"][-1]),
        }
    if dist.is_writer():
        print(json.dumps(out))


if __name__ == "__main__":
    main()
