"""The peers: NumPy, scikit-learn and PyTorch on the same problem.

Each peer fit returns ``{"seconds", "iterations", "status", "log_loss"}`` with the
log-loss of :func:`jaxlogloss.bench.workload.mean_log_loss`, so every row compares.
A peer that is not installed is skipped by the caller, with a note (:func:`torch_module`
is None, scikit-learn raises ImportError).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxlogloss.bench.timing import timed
from jaxlogloss.bench.workload import mean_log_loss


def torch_module(notes: list[str]) -> Any:
    """PyTorch, or None (and a note in ``notes``) when it is not installed."""
    try:
        import torch
    except ImportError:
        notes.append("pytorch not installed: skipped")
        return None
    return torch


def torch_data(torch: Any, X: np.ndarray, y: np.ndarray, platform: str) -> tuple:
    """(device name, X, y) as PyTorch tensors on the device matching JAX's ``platform``."""
    dev = "cuda" if platform == "gpu" else "cpu"
    return dev, torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)


def numpy_gradient(X: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], Any]:
    """w -> the closed-form gradient X^T (sigma(X w) - y) / n, in NumPy."""
    n = X.shape[0]

    def gradient(w: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            p = 1 / (1 + np.exp(-(X @ w)))
        return X.T @ (p - y) / n

    return gradient


def torch_gradient(
    torch: Any, X: np.ndarray, y: np.ndarray, platform: str
) -> Callable[[np.ndarray], Any]:
    """w -> PyTorch autograd's gradient of BCEWithLogitsLoss(X w, y)."""
    tdev, Xt, yt = torch_data(torch, X, y, platform)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def gradient(w: np.ndarray) -> Any:
        wt = torch.tensor(w, device=tdev, requires_grad=True)
        loss_fn(Xt @ wt, yt).backward()
        if tdev == "cuda":
            torch.cuda.synchronize()
        return wt.grad

    return gradient


def sklearn_log_loss(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """The reference mean log-loss of a fitted scikit-learn LogisticRegression."""
    return mean_log_loss(X, y, model.coef_[0], float(model.intercept_[0]))


def sklearn_fit(X: np.ndarray, y: np.ndarray, solver: str) -> dict[str, Any]:
    """An unpenalised scikit-learn fit (tol 1e-8); ImportError when not installed."""
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=np.inf, solver=solver, tol=1e-8, max_iter=1000)
    seconds, _ = timed(lambda: m.fit(X, y))
    return {"seconds": seconds, "iterations": int(m.n_iter_[0]), "status": "done",
            "log_loss": sklearn_log_loss(m, X, y)}  # fmt: skip


def sklearn_path(
    X: np.ndarray, y: np.ndarray, l2s: list[float]
) -> tuple[float, list[float]]:
    """Sequential scikit-learn fits of an L2 path: (seconds, penalised objectives).

    ``alpha`` on the mean log-loss is scikit-learn's C = 1 / (n alpha); the objective is
    mean log-loss + (alpha / 2) ||w||^2. ImportError when not installed.
    """
    from sklearn.linear_model import LogisticRegression

    n = X.shape[0]
    start = time.perf_counter()
    objectives = []
    for alpha in l2s:
        m = LogisticRegression(C=1 / (n * alpha), tol=1e-10, max_iter=1000).fit(X, y)
        objectives.append(
            sklearn_log_loss(m, X, y) + alpha / 2 * float(np.sum(m.coef_**2))
        )
    return time.perf_counter() - start, objectives


def numpy_gd(X: np.ndarray, y: np.ndarray, max_iter: int = 500) -> dict[str, Any]:
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


def torch_lbfgs(
    torch: Any, X: np.ndarray, y: np.ndarray, platform: str
) -> dict[str, Any]:
    """PyTorch's L-BFGS (strong Wolfe line search) on BCEWithLogitsLoss."""
    dev, Xt, yt = torch_data(torch, X, y, platform)
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
    return {"seconds": seconds, "iterations": int(opt.state[w]["n_iter"]), "status": "done",
            "log_loss": mean_log_loss(X, y, w.detach().cpu().numpy(), float(b.detach().cpu()))}  # fmt: skip
