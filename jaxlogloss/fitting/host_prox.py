"""Proximal Newton driven from the host: an in-memory L1 / elastic-net fit without a
compiled solver loop.

``fit``'s in-memory ``prox_newton`` (:class:`~jaxlogloss.solvers.prox_newton.ProxNewton`
with the exact Hessian every step, as ``fit`` runs it) compiled the whole solver -- the
outer loop, the active-set and coordinate-descent loops of the model solve, the line
search -- into one program: seconds on the first call of every shape. Here the data
are touched only by :mod:`jaxlogloss.fitting.host_loop`'s two compiled programs
(``evaluate``: the loss's value, gradient, separation certificate and logits;
``curvature``: its exact Hessian from the kept logits, shared with the inference
step), and the steps run in NumPy on the host, each as the compiled solver takes it:

1. the model g.d + d'(H + diag(mu))d/2 + sum_j lam_j |theta_j + d_j| is minimised
   by the feature-sign active-set method (:func:`active_set_solve`, NumPy's Cholesky
   on the (p, p) matrix; :func:`~jaxlogloss.solvers.quadratic_l1.active_set_solve`'s
   rule), and where that fails by cyclic coordinate descent (:func:`coordinate_descent`);
2. the proximal Armijo backtracking on F from t = 1 (``host_loop``'s step with
   the model decrease as the slope; a unit step keeps the model's exact zeros);
3. :mod:`jaxlogloss.solvers.base`'s stopping rule on the KKT violations
   (:func:`~jaxlogloss.solvers.kkt.kkt_violations`, standardised features).

Same optimum as the compiled solver to the tolerance (``tests/test_host_prox.py``).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from jaxlogloss.data.host import blas_on_one_thread
from jaxlogloss.fitting.host_loop import (
    _Point,
    _Run,
    _step,
    compile_curvature,
    evaluate_point,
    model_curvature,
)
from jaxlogloss.fitting.model_precision import ModelPrecision
from jaxlogloss.solvers.base import STATUSES

_EPS = {np.dtype(t): float(np.finfo(t).eps) for t in (np.float32, np.float64)}


def _floor(hess: np.ndarray) -> float:
    """10 eps max_j |H_jj|: the least curvature a coordinate is given (eps looked up:
    ``np.finfo`` costs ~10 us, a tenth of a small model step)."""
    eps = _EPS.get(hess.dtype) or float(np.finfo(hess.dtype).eps)
    return 10 * eps * float(np.abs(np.diagonal(hess)).max())


@functools.cache
def _posv() -> Any:
    """LAPACK's Cholesky solve (potrf + potrs; info > 0 where the matrix is not
    positive definite) called directly: scipy's cho_factor/cho_solve wrappers cost ~4x
    the factorisation itself at these sizes (p <= ~100). Looked up on first use:
    importing scipy.linalg takes ~0.2 s of every CLI process that fits no L1 model."""
    from scipy.linalg.lapack import get_lapack_funcs

    return get_lapack_funcs("posv", dtype=np.float64)


def lapack_on_one_thread(fun: Any) -> Any:
    """``fun`` run with BLAS on one thread
    (:func:`~jaxlogloss.data.host.blas_on_one_thread`): for the host-driven path and
    CV loops, whose NumPy and LAPACK algebra is small. LAPACK's posv is loaded
    first: scipy's own OpenBLAS, loaded inside the block, would keep its threads."""

    @functools.wraps(fun)
    def run(*args: Any, **kwargs: Any) -> Any:
        _posv()
        with blas_on_one_thread():
            return fun(*args, **kwargs)

    return run


def active_set_solve(
    hess: np.ndarray, grad: np.ndarray, theta: np.ndarray, lam: np.ndarray,
    tol: float, max_steps: int | None = None,
) -> tuple[np.ndarray, bool]:  # fmt: skip
    """The model's minimiser by the feature-sign method from theta's support (the
    rule of :func:`jaxlogloss.solvers.quadratic_l1.active_set_solve`): (u, ok), ok
    False where a solve failed or ``max_steps`` (default 3p + 10) ran out."""
    p = theta.shape[0]
    steps = 3 * p + 10 if max_steps is None else max_steps
    h = 0.5 * (hess + hess.T)
    h.flat[:: p + 1] += _floor(hess)
    free = lam == 0
    if free.all():  # no L1 part: one Newton solve (the loop's first pass, no more)
        _, delta, info = _posv()(h, -grad, overwrite_a=1, overwrite_b=0)
        ok = info == 0 and bool(np.isfinite(delta).all())
        return (theta + delta if ok else theta.copy()), ok
    on = (theta != 0) | free
    sign = np.sign(theta)
    u = theta.copy()
    for _ in range(steps):
        idx = np.flatnonzero(on)
        rhs = -grad[idx] - lam[idx] * sign[idx]
        off = ~on & (theta != 0)  # dropped coordinates held at 0 (theta there != 0)
        if off.any():
            rhs += h[np.ix_(idx, off)] @ theta[off]
        _, delta, info = _posv()(h[np.ix_(idx, idx)], rhs, overwrite_a=1, overwrite_b=1)
        if info != 0:
            return u, False
        v = np.zeros(p)
        v[idx] = theta[idx] + delta
        if not np.isfinite(v).all():
            return u, False
        conflict = (sign * v < 0) & on & ~free
        if conflict.any():  # (a) step to the first zero crossing, drop it
            ratio = np.full(p, np.inf)
            ratio[conflict] = u[conflict] / (u[conflict] - v[conflict])
            hit = int(np.argmin(ratio))
            u = u + np.clip(ratio[hit], 0, 1) * (v - u)
            drop = (sign * u < 0) & on & ~free
            drop[hit] = True
            u[drop], on[drop], sign[drop] = 0.0, False, 0.0
            continue
        u = v  # (b) sign-consistent: activate the worst violator off the set
        m = grad + h @ (v - theta)
        excess = np.abs(m) - lam
        excess[on] = -np.inf
        new = int(np.argmax(excess))
        if not excess[new] > tol:
            return u, True
        on[new], sign[new] = True, -np.sign(m[new])
    return u, False


def coordinate_descent(
    hess: np.ndarray, grad: np.ndarray, theta: np.ndarray, lam: np.ndarray,
    u0: np.ndarray, tol: float, max_sweeps: int = 200,
) -> np.ndarray:  # fmt: skip
    """glmnet's cyclic coordinate descent on the model from u0 (the rule of
    :func:`jaxlogloss.solvers.quadratic_l1.coordinate_descent`)."""
    a = np.maximum(np.diag(hess), _floor(hess))
    u = u0.copy()
    q = hess @ (u - theta)
    used = np.flatnonzero((u != 0) | (np.abs(grad + q) > lam) | (lam == 0))
    for _ in range(max_sweeps):
        change = 0.0
        for j in used:
            x = u[j] - (grad[j] + q[j]) / a[j]
            t = lam[j] / a[j]
            new = np.sign(x) * max(abs(x) - t, 0.0)
            delta = new - u[j]
            if delta != 0.0:
                u[j] = new
                q += delta * hess[j]
                change = max(change, a[j] * abs(delta))
        if change <= tol:
            break
    return u


def model_step(
    hess: np.ndarray, grad: np.ndarray, theta: np.ndarray, lam: np.ndarray,
    viol: float, tol: float, max_sweeps: int = 200,
) -> tuple[np.ndarray, float]:  # fmt: skip
    """The model's minimiser u (the active-set solve, coordinate descent from where it
    stopped if it failed; inner tolerance max(tol, v min(v, 1)) / 10 for the current
    violation v, as :func:`~jaxlogloss.solvers.prox_newton.newton_direction`) and the
    model decrease Delta = g.(u - theta) + lam.(|u| - |theta|)."""
    inner = max(0.1 * tol, 0.1 * viol * min(viol, 1.0))
    u, ok = active_set_solve(hess, grad, theta, lam, inner)
    if not ok:
        u0 = u if np.all(np.isfinite(u)) else theta
        u = coordinate_descent(hess, grad, theta, lam, u0, inner, max_sweeps)
    decrease = float(np.sum(grad * (u - theta) + lam * (np.abs(u) - np.abs(theta))))
    return u, decrease


def kkt_violations(theta: np.ndarray, grad: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """|g_j + lam_j sign(theta_j)| where theta_j != 0, else max(|g_j| - lam_j, 0)."""
    return np.where(
        theta == 0,
        np.maximum(np.abs(grad) - lam, 0),
        np.abs(grad + lam * np.sign(theta)),
    )


def raw_violations(
    theta: np.ndarray, grad: np.ndarray, lam: np.ndarray, mean: np.ndarray,
    scale: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """(..., d) each feature's KKT violation on the raw coefficients, from theta
    (..., d+1) and the smooth part's gradient over it: with g_w = s g'_w + m g'_b the
    raw gradient, |g_w + s lam sign(w)| where w != 0, max(|g_w| - s lam, 0) where
    w = 0."""
    d = mean.shape[0]
    g_w = scale * grad[..., :d] + mean * grad[..., d : d + 1]
    return kkt_violations(theta[..., :d], g_w, scale * lam[:d])


def raw_kkt(
    theta: np.ndarray, grad: np.ndarray, lam: np.ndarray, mean: np.ndarray,
    scale: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """(...) the largest KKT violation on the raw coefficients (as
    :func:`~jaxlogloss.solvers.kkt.raw_kkt_violation`): the features'
    :func:`raw_violations` and |g_b| (d may be 0: the intercept alone)."""
    viol = raw_violations(theta, grad, lam, mean, scale)
    g_b = np.abs(grad[..., mean.shape[0]])
    return np.maximum(np.max(viol, axis=-1, initial=0.0), g_b)


def bfgs_update(b: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """B + y y'/y's - B s s' B / s'B s, or None where the curvature condition fails."""
    new, ok = bfgs_updates(b[None], s[None], y[None])
    return new[0] if ok[0] else None


def bfgs_updates(
    b: np.ndarray, s: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Batched :func:`bfgs_update` over a leading axis ((M, p, p), (M, p), (M, p)):
    the updated matrices (B itself where the curvature condition y's > 0 fails) and
    a mask (M,) of the updated ones."""
    sy = np.einsum("mi,mi->m", s, y)
    bs = np.einsum("mij,mj->mi", b, s)
    sbs = np.einsum("mi,mi->m", s, bs)
    size = np.sqrt(np.einsum("mi,mi->m", s, s) * np.einsum("mi,mi->m", y, y))
    ok = (sy > 1e-12 * size) & (sbs > 0)
    safe_sy, safe_sbs = np.where(ok, sy, 1.0), np.where(ok, sbs, 1.0)
    change = (y[:, :, None] * y[:, None, :]) / safe_sy[:, None, None]
    change -= (bs[:, :, None] * bs[:, None, :]) / safe_sbs[:, None, None]
    return np.where(ok[:, None, None], b + change, b), ok


class HostProxRun(NamedTuple):
    """A host proximal run: theta, status word, iterations, F, the largest KKT
    violation on standardised and on raw coefficients, F's history, the logits."""

    theta: np.ndarray
    status: str
    n_iter: int
    value: float
    violation: float
    kkt: float
    history: np.ndarray
    aux: Any


def elastic_net_weights(
    alpha: float, l1_ratio: float, factor: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(lam, mu) over theta = [w', b] in NumPy (0 for the intercept):
    lam_j = alpha r f_j / s_j, mu_j = alpha (1 - r) f_j / s_j^2, the weights of
    :func:`jaxlogloss.solvers.kkt.penalty_weights` (whose eager JAX ops compiled one
    program each on a first call, ~0.3 s)."""
    f = np.asarray(factor, np.float64)
    lam = np.r_[alpha * l1_ratio * f / scale, 0.0]
    mu = np.r_[alpha * (1 - l1_ratio) * f / np.square(scale), 0.0]
    return lam, mu


def penalty_value(theta: np.ndarray, lam: np.ndarray, mu: np.ndarray) -> Any:
    """sum_j lam_j |theta_j| + mu_j theta_j^2 / 2 (per row of a (M, p) theta)."""
    return np.sum(lam * np.abs(theta) + 0.5 * mu * np.square(theta), axis=-1)


def prox_newton_host(
    solver: Any, objective: Any, theta: np.ndarray, spec: Any
) -> HostProxRun:
    """Proximal Newton (module docstring) on the penalty-free in-memory ``objective``
    plus the elastic net ``spec`` (a :class:`~jaxlogloss.fitting.penalised.PenaltySpec`),
    from ``theta``; ``solver``: the :class:`~jaxlogloss.solvers.prox_newton.ProxNewton`
    with tol, max_iter, max_sweeps, max_halvings."""
    tol = np.asarray(solver.tol)
    dtype = tol.dtype
    theta = np.asarray(theta).astype(dtype)
    mean, scale = (np.asarray(a, np.float64) for a in objective.scaling)
    factor = spec.factors(scale.shape[0])
    lam, mu = elastic_net_weights(spec.alpha, spec.l1_ratio, factor, scale)
    free = not (lam.any() or mu.any())
    compiling = compile_curvature(objective, theta)

    def point(theta: np.ndarray) -> _Point:
        """F's point at theta: its 'gradient' the KKT violations (what the compiled
        solver's stopping rule reads), ``smooth`` the smooth part's gradient."""
        pt = evaluate_point(objective, theta)
        smooth = pt.grad + (mu * theta).astype(dtype)
        value = (pt.value + penalty_value(theta, lam, mu)).astype(dtype)
        viol = kkt_violations(theta, smooth, lam.astype(dtype))
        return _Point(value, viol, pt.separated and free, pt.z, smooth)

    start = point(theta)
    run = _Run(theta, start, tol, solver.max_iter)
    grad = start.smooth
    compiling.wait()
    precision = ModelPrecision(dtype)
    while run.running:
        hess = model_curvature(
            objective, run.theta, run.z, np.bool_(False), precision.float32_products
        )[0]
        hess = np.asarray(hess)
        th = run.theta.astype(np.float64)
        u, decrease = model_step(
            hess.astype(np.float64) + np.diag(mu), grad.astype(np.float64), th, lam,
            float(run.gnorm[run.k]), float(tol), solver.max_sweeps,
        )  # fmt: skip
        direction = (u - th).astype(dtype)
        usable = bool(np.all(np.isfinite(direction)) and decrease < 0)
        if not usable and precision.exact():  # a rounded model: again, exactly
            continue
        before = run.gnorm[run.k]
        kept = _step(point, run, direction, decrease, usable, solver.max_halvings)
        precision.check(before, run.gnorm[run.k])
        if kept is not None:
            grad = kept.smooth
    state = run.state().iterate
    k = int(state.n_iter)
    kkt = raw_kkt(run.theta[None], grad[None], lam, mean, scale)
    return HostProxRun(
        run.theta, STATUSES[int(state.status)], k, float(run.value),
        float(np.max(run.grad)), float(kkt[0]), np.asarray(state.loss_history)[: k + 1],
        run.z,
    )  # fmt: skip
