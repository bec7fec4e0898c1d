"""Generated data with a known sparse logistic model (the regularisation experiments).

:func:`sparse_logistic` draws X with independent standard-normal features and labels
y ~ Bernoulli(sigmoid(X w + b)) from the true coefficients of
:func:`sparse_coefficients`: :data:`SPARSE_VALUES` on ``min(4, d)`` features chosen by
the seed, zeros elsewhere -- so an L1 path's recovery of the support can be checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlogloss.data.table import TabularData

SPARSE_VALUES = (2.0, -1.5, 1.0, -0.75)


def sparse_coefficients(d: int, seed: int = 0) -> np.ndarray:
    """The true (d,) coefficients: SPARSE_VALUES on seed-chosen features, else 0."""
    k = min(len(SPARSE_VALUES), d)
    rng = np.random.default_rng([seed, 8])
    w = np.zeros(d)
    w[np.sort(rng.choice(d, size=k, replace=False))] = SPARSE_VALUES[:k]
    return w


def sparse_logistic(
    n: int, d: int, *, intercept: float = 0.0, seed: int = 0, dtype: Any = "float64"
) -> TabularData:
    """n rows of the sparse model (module docstring) with intercept ``intercept``
    (negative: a rare positive class)."""
    w = sparse_coefficients(d, seed)
    rng = np.random.default_rng([seed, 9])
    X = rng.standard_normal((n, d))
    p = 1 / (1 + np.exp(-(X @ w + intercept)))
    y = (rng.random(n) < p).astype(np.float64)
    return TabularData(
        xt=np.ascontiguousarray(X.T, dtype=dtype),
        y=y,
        sample_weight=None,
        feature_names=tuple(f"x{j}" for j in range(d)),
        target="y",
        classes=(0, 1),
        source=f"sparse_logistic(n={n}, d={d}, intercept={intercept:g}, seed={seed})",
    )
