"""Newton's method (IRLS) with the exact Hessian for L2-penalised logistic regression.

In standardised coordinates theta' = [w', b'] (see :mod:`jaxlogloss.scaling`), each
iteration

1. takes the value and gradient g of the objective with ``jax.value_and_grad``;
2. forms the exact Hessian H = X'~^T diag(c h) X'~ / sum(c) + alpha diag(1/sigma^2, 0),
   with h_i = d^2 l / dz^2 from ``jax.grad(jax.grad(l))`` per example and the
   standardised rows X' built a block at a time (no copy of X);
3. solves (H + delta I) s = -g by Cholesky (delta = 10 eps max diag H keeps singular
   directions, e.g. a constant feature, finite);
4. halves the step from t = 1 until the Armijo condition
   f(theta + t s) <= f(theta) + 1e-4 t g.s holds (at most ``max_halvings`` times).

Stopping rule: ||g||_inf <= tol on standardised features; see
:mod:`jaxlogloss.convergence` for the other outcomes. This is IRLS: the Newton step of the
log-loss is the weighted least-squares solution with weights c y_hat (1 - y_hat).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxlogloss.data.design import centered_gram
from jaxlogloss.losses.pointwise import logit_log_loss_pointwise, reduce_loss
from jaxlogloss.model.objective import Problem, l2_penalty
from jaxlogloss.model.params import LinearParams, linear_logits
from jaxlogloss.model.scaling import Scaling, to_raw
from jaxlogloss.solvers import base as cv

Array = jax.Array

_curvature = jax.vmap(
    jax.grad(jax.grad(logit_log_loss_pointwise, argnums=1), argnums=1)
)


def _objective_std(
    params_std: LinearParams, problem: Problem, scaling: Scaling
) -> tuple[Array, Array]:
    """Mean penalised log-loss at standardised params, and the logits (aux)."""
    raw = to_raw(params_std, scaling)
    z = linear_logits(raw, problem.X)
    per_example = logit_log_loss_pointwise(problem.targets, z)
    value = reduce_loss(per_example, problem.sample_weight) + l2_penalty(
        raw, problem.l2
    )
    return value, z


def hessian_sums(
    X: Any,
    targets: Array,
    c: Array,
    scaling: Scaling,
    z: Array,
    block_size: int = 8192,
    mesh: Any = None,
) -> Array:
    """sum_i c_i l''(z_i) x~_i x~_i^T over [w', b'] (x~ standardised, with a 1 for b'):
    the unpenalised, undivided Hessian of the summed loss. Sums over row blocks (or
    batches of a stream) add up."""
    h = c * _curvature(targets, z)
    gram, sums, sum_h = centered_gram(
        X, h, scaling.mean, scaling.scale, block_size, mesh
    )
    top = jnp.concatenate([gram, sums[:, None]], axis=1)
    bottom = jnp.concatenate([sums, sum_h[None]])[None, :]
    return jnp.concatenate([top, bottom], axis=0)


def penalty_hessian(l2: Any, scaling: Scaling) -> Array:
    """The Hessian of (l2 / 2) ||w||^2 over [w', b'] (w = w' / scale): diagonal."""
    diag = jnp.concatenate([l2 / jnp.square(scaling.scale), jnp.zeros((1,), l2.dtype)])
    return jnp.diag(diag)


def newton_hessian(
    problem: Problem,
    scaling: Scaling,
    z: Array,
    block_size: int = 8192,
    mesh: Any = None,
) -> Array:
    """The exact Hessian over [w', b'] on standardised features at logits ``z``.

    ``mesh``: the rows are split over its "data" axis (see :mod:`jaxlogloss.distributed`).
    """
    targets, sw = problem.targets, problem.sample_weight
    c = jnp.ones_like(targets) if sw is None else sw
    total = jnp.sum(c)
    summed = hessian_sums(problem.X, targets, c, scaling, z, block_size, mesh)
    l2 = jnp.asarray(problem.l2, summed.dtype)
    return summed / total + penalty_hessian(l2, scaling)


@functools.partial(
    jax.jit, static_argnames=("max_iter", "max_halvings", "block_size", "mesh")
)
def newton_solve(
    params_std: LinearParams,
    problem: Problem,
    scaling: Scaling,
    tol: Any,
    max_iter: int,
    max_halvings: int = 40,
    block_size: int = 8192,
    mesh: Any = None,
) -> tuple[Any, ...]:
    """The compiled Newton loop (no checks). Returns raw params, status code, k, f, ||g||,
    and the loss / gradient-norm histories (length max_iter + 1)."""
    dtype = problem.targets.dtype
    value_and_grad = jax.value_and_grad(
        lambda p: _objective_std(p, problem, scaling), has_aux=True
    )
    (f0, z0), g0 = value_and_grad(params_std)
    flat0, unravel = ravel_pytree(params_std)
    gn0 = cv.inf_norm(g0)
    hist_f = cv.record(jnp.full((max_iter + 1,), jnp.nan, dtype), 0, f0)
    hist_g = cv.record(jnp.full((max_iter + 1,), jnp.nan, dtype), 0, gn0)
    status0 = jnp.where(gn0 <= tol, cv.CONVERGED, cv.RUNNING)
    status0 = jnp.where(jnp.isfinite(f0) & jnp.isfinite(gn0), status0, cv.DIVERGED)

    def cond(state: tuple[Any, ...]) -> Array:
        return (state[5] == cv.RUNNING) & (state[4] < max_iter)

    def body(state: tuple[Any, ...]) -> tuple[Any, ...]:
        flat, f, g, z, k, status_in, hist_f, hist_g = state
        # under vmap, runs that already stopped still execute this body: keep their line
        # search from spinning (every run's inner loop lasts as long as the longest)
        running = status_in == cv.RUNNING
        hess = newton_hessian(problem, scaling, z, block_size, mesh)
        delta = 10 * jnp.finfo(dtype).eps * jnp.max(jnp.diag(hess))
        hess = hess + delta * jnp.eye(hess.shape[0], dtype=dtype)
        g_flat = ravel_pytree(g)[0]
        step = -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(hess), g_flat)
        slope = g_flat @ step
        usable = jnp.all(jnp.isfinite(step)) & (slope < 0)

        def ls_cond(ls: tuple[Any, ...]) -> Array:
            return (~ls[1]) & (ls[0] < max_halvings) & usable & running

        def ls_body(ls: tuple[Any, ...]) -> tuple[Any, ...]:
            i = ls[0]
            t = jnp.asarray(0.5, dtype) ** i
            f_try = _objective_std(unravel(flat + t * step), problem, scaling)[0]
            # Armijo, with a few ulps of slack: at the rounding floor a step that leaves
            # the loss unchanged is not a failure
            slack = 4 * jnp.finfo(dtype).eps * jnp.abs(f)
            ok = jnp.isfinite(f_try) & (f_try <= f + 1e-4 * t * slope + slack)
            return i + jnp.where(ok, 0, 1), ok

        halvings, accepted = jax.lax.while_loop(ls_cond, ls_body, (0, jnp.bool_(False)))
        t = jnp.asarray(0.5, dtype) ** halvings
        new_flat = jnp.where(accepted, flat + t * step, flat)
        (f_new, z_new), g_new = value_and_grad(unravel(new_flat))
        gn = cv.inf_norm(g_new)
        finite = jnp.isfinite(f_new) & jnp.isfinite(gn)
        complete = cv.complete_separation(
            z_new, problem.targets, problem.sample_weight, problem.l2
        )
        # no progress in the loss nor in the gradient: flat to rounding
        stuck = ~accepted | (~(f_new < f) & ~(gn < cv.inf_norm(g)))
        status = jnp.select(
            [~finite, gn <= tol, complete, stuck],
            [cv.DIVERGED, cv.CONVERGED, cv.SEPARATION, cv.STALLED],
            cv.RUNNING,
        )
        keep = finite
        flat_out = jnp.where(keep, new_flat, flat)
        f_out = jnp.where(keep, f_new, f)
        g_out = jax.tree.map(lambda a, b: jnp.where(keep, a, b), g_new, g)
        z_out = jnp.where(keep, z_new, z)
        k1 = k + 1
        hist_f = cv.record(hist_f, k1, f_out)
        hist_g = cv.record(hist_g, k1, cv.inf_norm(g_out))
        return flat_out, f_out, g_out, z_out, k1, status, hist_f, hist_g

    state = (flat0, f0, g0, z0, jnp.int32(0), status0, hist_f, hist_g)
    flat, f, g, z, k, status, hist_f, hist_g = jax.lax.while_loop(cond, body, state)
    params = unravel(flat)
    status = jnp.where(status == cv.RUNNING, cv.MAX_ITER, status)
    return to_raw(params, scaling), status, k, f, cv.inf_norm(g), hist_f, hist_g
