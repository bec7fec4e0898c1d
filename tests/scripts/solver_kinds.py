"""Child process for tests/test_solver_core.py: with 4 CPU devices (XLA_FLAGS set by the
parent), fit one problem with each solver on each objective kind -- in memory, rows
sharded over a 4-device mesh, streamed from a Parquet file in batches -- and print the
coefficients as one JSON line. Usage: solver_kinds.py PARQUET N D"""

from __future__ import annotations

import json
import sys

import numpy as np

import jaxlogloss as jl

path, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
table = jl.read_table(path, target="y", dtype="float64")
X = np.ascontiguousarray(table.xt.T)
mesh = jl.data_mesh()
assert mesh.devices.size == 4, mesh
out = {}
for solver, options in [
    ("newton", {}),
    ("lbfgs", {}),
    ("adam", {"learning_rate": 0.05, "max_iter": 4000, "tol": 1e-7}),
]:
    kinds = {
        "memory": jl.fit(X, table.y, solver=solver, l2=0.01, **options),
        "sharded": jl.fit(X, table.y, solver=solver, l2=0.01, mesh=mesh, **options),
        "streamed": jl.fit(
            # first-order: a step per batch; one batch of every row is full-batch
            jl.open_stream(
                path,
                target="y",
                dtype="float64",
                batch_rows=64 if solver != "adam" else n,
            ),
            solver=solver,
            l2=0.01,
            **options,
        ),
    }
    out[solver] = {
        kind: {
            "coef": [float(r.intercept), *map(float, r.coef)],
            "std_err": list(map(float, r.inference.std_err)),
            "status": r.status,
            "n_iter": r.n_iter,
        }
        for kind, r in kinds.items()
    }
print(json.dumps(out))
