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


def multinomial_coefficients(d: int, k: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """The true W (d, k - 1) and b (k - 1,) of :func:`multinomial_logistic`:
    N(0, 1) weights and N(0, 0.25) intercepts drawn from the seed."""
    rng = np.random.default_rng([seed, 10])
    return rng.standard_normal((d, k - 1)), 0.5 * rng.standard_normal(k - 1)


def multinomial_logistic(
    n: int, d: int, k: int, *, seed: int = 0, dtype: Any = "float64"
) -> TabularData:
    """n rows of the softmax model with reference class 0: X ~ N(0, I), y = c with
    probability softmax([0, X W + b])_c (:func:`multinomial_coefficients`); classes
    0..k-1 (y their index)."""
    w, b = multinomial_coefficients(d, k, seed)
    rng = np.random.default_rng([seed, 11])
    X = rng.standard_normal((n, d))
    z = np.concatenate([np.zeros((n, 1)), X @ w + b], axis=1)
    y = np.argmax(z + rng.gumbel(size=(n, k)), axis=1)  # Gumbel-max: a softmax draw
    return TabularData(
        xt=np.ascontiguousarray(X.T, dtype=dtype),
        y=y.astype(np.float64),
        sample_weight=None,
        feature_names=tuple(f"x{j}" for j in range(d)),
        target="y",
        classes=tuple(range(k)),
        source=f"multinomial_logistic(n={n}, d={d}, k={k}, seed={seed})",
    )
