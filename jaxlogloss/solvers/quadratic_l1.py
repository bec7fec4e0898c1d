"""The subproblem of a proximal Newton step: an L1-penalised quadratic model.

At theta, with g the gradient and H a (model) Hessian of the smooth part, proximal
Newton (:mod:`jaxlogloss.solvers.prox_newton`) needs

    u* = argmin_u  q(u) = g.(u - theta) + (u - theta)' H (u - theta) / 2
                          + sum_j lam_j |u_j|

(lam_j = 0: a free coordinate, e.g. the intercept). With m(u) = g + H (u - theta) the
model's gradient, u is optimal iff m_j + lam_j sign(u_j) = 0 where u_j != 0 or
lam_j = 0, and |m_j| <= lam_j where u_j = 0.

:func:`active_set_solve` is the feature-sign method (Lee, Battle, Raina & Ng 2007), a
primal active-set method over the orthants. It keeps an active set A (the free
coordinates, and penalised ones with a sign s_j) and u = 0 off A; each step solves the
model on A with the signs fixed, one Cholesky solve of the masked H_AA,

    H_AA v_A = (H theta - g)_A - lam_A s_A,

then (a) if some v_j has the wrong sign, moves from u towards v to the first point
where a coordinate reaches 0 and drops it (q falls: on the segment q equals the
orthant's quadratic, whose minimiser is v); else (b) takes u = v and activates the
inactive coordinate with the largest excess |m_j| - lam_j > ``tol`` with
s_j = -sign(m_j) (the next solve then moves it that way: v_j s_j equals the excess over
the Schur complement of H_AA, > 0); with no such coordinate u is the exact minimiser
and the run stops. Each step is one p x p factorisation of vectorised work, and from a
warm start (the previous iterate's support) a converging proximal Newton needs one
step: this replaced a scalar coordinate loop that took ~10x the Hessian's time
(benchmarks/NOTES.md, issue 12 speed).

:func:`coordinate_descent` is glmnet's cyclic coordinate descent on the same model with
soft-thresholding, from any start; it is the fallback where the active-set run fails
(a singular H_AA: duplicated features, or its step budget).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxlogloss.solvers.kkt import soft_threshold

Array = jax.Array


def _floor(hess: Array) -> Array:
    """10 eps max_j |H_jj|: the least curvature a coordinate is given."""
    return 10 * jnp.finfo(hess.dtype).eps * jnp.max(jnp.abs(jnp.diag(hess)))


def active_set_solve(
    hess: Array,
    grad: Array,
    theta: Array,
    lam: Array,
    tol: Any,
    active: Any = True,
    max_steps: int | None = None,
) -> tuple[Array, Array]:
    """The minimiser u of the model (module docstring) by the feature-sign method,
    started from theta's support; returns (u, ok): ok False where the run failed (a
    non-finite solve or ``max_steps`` exhausted; default 3p + 10) and u is where it
    stopped. ``active`` False (a finished run under vmap) takes no step."""
    p = theta.shape[0]
    dtype = hess.dtype
    steps = 3 * p + 10 if max_steps is None else max_steps
    eye = jnp.eye(p, dtype=dtype)
    h = 0.5 * (hess + hess.T) + _floor(hess) * eye  # the model the solves use
    free = lam == 0
    idx = jnp.arange(p)

    def body(carry: tuple[Array, ...]) -> tuple[Array, ...]:
        u, on, sign, k, _, _ = carry
        pen = on & ~free
        both = on[:, None] & on[None, :]
        # v = theta + delta on A, 0 off A: h_AA delta_A = -g_A - lam s_A + h_A,~A theta_~A
        off = jnp.where(on, 0, theta)
        rhs = jnp.where(on, -grad - lam * sign + h @ off, 0)
        delta = jax.scipy.linalg.cho_solve(
            (jnp.linalg.cholesky(jnp.where(both, h, eye)), True), rhs
        )
        v = jnp.where(on, theta + delta, 0)
        finite = jnp.all(jnp.isfinite(v))
        # (a) a sign conflict: step to the first zero crossing and drop that one
        conflict = pen & (sign * v < 0)
        ratio = jnp.where(conflict, u / jnp.where(conflict, u - v, 1), jnp.inf)
        hit = jnp.argmin(ratio)
        t = jnp.clip(ratio[hit], 0, 1)
        u_a = u + t * (v - u)
        drop = (idx == hit) | (pen & (sign * u_a < 0))  # rounding: tiny wrong signs
        u_a = jnp.where(drop, 0, u_a)
        on_a, sign_a = on & ~drop, jnp.where(drop, 0, sign)
        # (b) sign-consistent: take v, activate the worst violator off A
        m = grad + h @ (v - theta)
        excess = jnp.where(on, -jnp.inf, jnp.abs(m) - lam)
        new = jnp.argmax(excess)
        enter = excess[new] > tol
        on_b = on | ((idx == new) & enter)
        sign_b = jnp.where((idx == new) & enter, -jnp.sign(m), sign)
        some = jnp.any(conflict)
        u = jnp.where(finite, jnp.where(some, u_a, v), u)
        on = jnp.where(some, on_a, on_b)
        sign = jnp.where(some, sign_a, sign_b)
        done = finite & ~some & ~enter
        return u, on, sign, k + 1, done, ~finite

    def going(carry: tuple[Array, ...]) -> Array:
        _, _, _, k, done, failed = carry
        return ~done & ~failed & (k < steps) & active

    on0 = (theta != 0) | free
    start = (theta, on0, jnp.sign(theta), jnp.int32(0), jnp.asarray(False),
             jnp.asarray(False))  # fmt: skip
    u, _, _, _, done, failed = jax.lax.while_loop(going, body, start)
    return u, done & ~failed


def coordinate_descent(
    hess: Array, grad: Array, theta: Array, lam: Array, u0: Array, tol: Any,
    active: Any = True, max_sweeps: int = 200,
) -> Array:  # fmt: skip
    """Cyclic coordinate descent on the model from u0 (glmnet's update
    u_j <- S(u_j - m_j / H_jj, lam_j / H_jj)) over the coordinates that are non-zero,
    free or violate |m_j| <= lam_j at u0 (the others stay 0), until a sweep moves no
    coordinate by more than H_jj |du_j| > ``tol`` or after ``max_sweeps``."""
    dtype = hess.dtype
    a = jnp.maximum(jnp.diag(hess), _floor(hess))
    q0 = hess @ (u0 - theta)  # H (u - theta), kept up to date
    used = (u0 != 0) | (jnp.abs(grad + q0) > lam) | (lam == 0)
    order = jnp.argsort(~used, stable=True)  # the used coordinates first
    n_used = jnp.sum(used)

    def coordinate(k: Array, carry: tuple[Array, Array, Array]) -> Any:
        u, q, change = carry
        j = order[k]
        new = soft_threshold(u[j] - (grad[j] + q[j]) / a[j], lam[j] / a[j])
        delta = new - u[j]
        return (
            u.at[j].set(new),
            q + delta * hess[j],
            jnp.maximum(change, a[j] * jnp.abs(delta)),
        )

    def sweep(carry: tuple[Array, Array, Array, Array]) -> Any:
        u, q, _, s = carry
        u, q, change = jax.lax.fori_loop(
            0, n_used, coordinate, (u, q, jnp.zeros((), dtype))
        )
        return u, q, change, s + 1

    def going(carry: tuple[Array, Array, Array, Array]) -> Array:
        _, _, change, s = carry
        return (s < max_sweeps) & (change > tol) & active

    start = (u0, q0, jnp.asarray(jnp.inf, dtype), jnp.int32(0))
    return jax.lax.while_loop(going, sweep, start)[0]


def model_minimiser(
    hess: Array, grad: Array, theta: Array, lam: Array, tol: Any, active: Any = True,
    max_sweeps: int = 200,
) -> Array:  # fmt: skip
    """The model's minimiser: :func:`active_set_solve`, and where it fails
    :func:`coordinate_descent` from where it stopped (under ``vmap`` the fallback loop
    takes no sweep unless some run needs it)."""
    u, ok = active_set_solve(hess, grad, theta, lam, tol, active)
    u0 = jnp.where(jnp.all(jnp.isfinite(u)), u, theta)
    return coordinate_descent(hess, grad, theta, lam, u0, tol, active & ~ok, max_sweeps)
