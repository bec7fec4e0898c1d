"""L-BFGS (optax's, with its zoom line search) inside ``lax.while_loop``.

Works for every loss (log-loss, MSE on the sigmoid, softmax) in standardised coordinates
(:mod:`jaxlogloss.scaling`). Each iteration is one ``optax.lbfgs`` update; the line
search's final value and gradient are reused through
``optax.value_and_grad_from_state``, so an accepted unit step costs one pass of the
value and gradient. Stopping rule: ||g||_inf <= tol on standardised features; see
:mod:`jaxlogloss.convergence` for the other outcomes.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxlogloss.model.objective import Problem, objective
from jaxlogloss.model.params import LinearParams, linear_logits
from jaxlogloss.model.scaling import Scaling, to_raw
from jaxlogloss.solvers import base as cv

Array = jax.Array

SEPARATION_CHECK_NORM = 5.0  # logits are recomputed for the check only beyond this


@functools.partial(jax.jit, static_argnames=("loss", "max_iter", "memory_size"))
def lbfgs_solve(
    params_std: LinearParams,
    problem: Problem,
    scaling: Scaling,
    tol: Any,
    max_iter: int,
    loss: str = "log_loss",
    memory_size: int = 10,
) -> tuple[Any, ...]:
    """The compiled L-BFGS loop (no checks); returns what ``newton_solve`` returns."""
    dtype = problem.targets.dtype

    def f(p: LinearParams) -> Array:
        return objective(to_raw(p, scaling), *problem, loss)

    opt = optax.lbfgs(memory_size=memory_size)
    value_and_grad = optax.value_and_grad_from_state(f)
    f0, g0 = jax.value_and_grad(f)(params_std)
    gn0 = cv.inf_norm(g0)
    hist_f = cv.record(jnp.full((max_iter + 1,), jnp.nan, dtype), 0, f0)
    hist_g = cv.record(jnp.full((max_iter + 1,), jnp.nan, dtype), 0, gn0)
    status0 = jnp.where(gn0 <= tol, cv.CONVERGED, cv.RUNNING)
    status0 = jnp.where(jnp.isfinite(f0) & jnp.isfinite(gn0), status0, cv.DIVERGED)

    def separation(p: LinearParams) -> Array:
        def check() -> Array:
            z = linear_logits(to_raw(p, scaling), problem.X)
            return cv.complete_separation(
                z, problem.targets, problem.sample_weight, problem.l2
            )

        big = jnp.max(jnp.abs(p.w)) > SEPARATION_CHECK_NORM
        return jax.lax.cond(big, check, lambda: jnp.bool_(False))

    def cond(state: tuple[Any, ...]) -> Array:
        return (state[5] == cv.RUNNING) & (state[4] < max_iter)

    def body(state: tuple[Any, ...]) -> tuple[Any, ...]:
        p, opt_state, f_old, gn_old, k, _, hist_f, hist_g = state
        value, grad = value_and_grad(p, state=opt_state)
        updates, opt_state = opt.update(
            grad, opt_state, p, value=value, grad=grad, value_fn=f
        )
        p_new = optax.apply_updates(p, updates)
        f_new = optax.tree_utils.tree_get(opt_state, "value")
        g_new = optax.tree_utils.tree_get(opt_state, "grad")
        gn = cv.inf_norm(g_new)
        finite = jnp.isfinite(f_new) & jnp.isfinite(gn)
        complete = separation(p_new)
        # no progress in the loss nor in the gradient: flat to rounding
        no_progress = ~(f_new < f_old) & ~(gn < gn_old)
        status = jnp.select(
            [~finite, gn <= tol, complete, no_progress],
            [cv.DIVERGED, cv.CONVERGED, cv.SEPARATION, cv.STALLED],
            cv.RUNNING,
        )
        p_out = jax.tree.map(lambda a, b: jnp.where(finite, a, b), p_new, p)
        f_out = jnp.where(finite, f_new, f_old)
        gn_out = jnp.where(finite, gn, gn_old)
        k1 = k + 1
        hist_f = cv.record(hist_f, k1, f_out)
        hist_g = cv.record(hist_g, k1, gn_out)
        return p_out, opt_state, f_out, gn_out, k1, status, hist_f, hist_g

    state = (params_std, opt.init(params_std), f0, gn0, jnp.int32(0), status0)
    state = jax.lax.while_loop(cond, body, (*state, hist_f, hist_g))
    p, _, f_final, gn_final, k, status, hist_f, hist_g = state
    status = jnp.where(status == cv.RUNNING, cv.MAX_ITER, status)
    return to_raw(p, scaling), status, k, f_final, gn_final, hist_f, hist_g
