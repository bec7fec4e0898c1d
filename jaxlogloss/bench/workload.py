"""The benchmark's problem and its reference loss, independent of the library.

X is n x d standard normal; labels are drawn from a logistic model with ||w|| = 2:
y_i ~ Bernoulli(sigma(x_i . w)). The reference is the mean log-loss in float64,
(1/n) sum_i [y_i log(1 + e^-z_i) + (1 - y_i) log(1 + e^z_i)], z = X w + b.
"""

from __future__ import annotations

from typing import Any

import numpy as np


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
