"""Newton's method (IRLS) with the exact Hessian, written once for every objective kind.

In the objective's coordinates theta (standardised features), each step

1. takes the exact Hessian H (in memory: X~^T diag(c l'') X~ / sum c + the penalty's,
   formed a block of rows at a time from the logits the last evaluation kept; for a
   stream: summed in the same pass as the value and gradient);
2. solves (H + delta I) s = -g by Cholesky (delta = 10 eps max diag H keeps singular
   directions, e.g. a constant feature, finite);
3. backtracks from t = 1 until Armijo holds (:mod:`jaxlogloss.solvers.linesearch`),
   each trial point evaluated with its gradient, so an accepted unit step costs one
   evaluation.

It is IRLS: the Newton step of the log-loss is the weighted least-squares solution with
weights c p (1 - p). It needs a convex binary loss (the registry's ``convex``).
Stopping rule and statuses: :mod:`jaxlogloss.solvers.base`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.solvers.base import Iterate, advance, start, static_field, where_tree
from jaxlogloss.solvers.linesearch import backtracking

Array = jax.Array


class NewtonState(NamedTuple):
    """Newton's state: the iterate, and what its next step reuses (the Hessian when an
    evaluation already holds it, else the logits it is formed from)."""

    iterate: Iterate
    hessian: Array | None
    aux: Any


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Newton:
    """Hyperparameters: ``tol`` on ||grad||_inf, ``max_iter`` steps, ``max_halvings``
    trial points per line search."""

    tol: Any
    max_iter: int = static_field(100)
    max_halvings: int = static_field(40)

    def _order(self, objective: Any) -> int:
        # each trial point brings its gradient (the unit step is usually accepted:
        # no second evaluation); a value that costs a pass brings the Hessian too
        return 2 if objective.derivatives_with_value else 1

    def init(self, objective: Any, theta: Array) -> NewtonState:
        ev = objective.evaluate(theta, self._order(objective))
        return NewtonState(
            start(theta, ev, self.tol, self.max_iter), ev.hessian, ev.aux
        )

    def step(self, objective: Any, state: NewtonState) -> NewtonState:
        it = state.iterate
        order = self._order(objective)
        hess = state.hessian if order == 2 else objective.hessian(it.theta, state.aux)
        direction, slope, running = newton_direction(hess, it.grad, it.status)
        ls = backtracking(
            objective, it.theta, it.value, slope, direction, order,
            self.max_halvings, running,
        )  # fmt: skip
        theta = stepped(ls.accepted, it.theta, ls.step_size, direction)
        ev = ls.evaluation
        iterate, kept = advance(it, theta, ev, self.tol, ls.accepted)
        hess_new, aux = where_tree(
            kept, (ev.hessian, ev.aux), (state.hessian, state.aux)
        )
        return NewtonState(iterate, hess_new, aux)


@jax.jit
def newton_direction(
    hess: Array, grad: Array, status: Array
) -> tuple[Array, Array, Array]:
    """The damped Newton direction, its slope g.d, and whether to search along it
    (jitted: inlined in a compiled loop, one small program in a host loop)."""
    dtype = hess.dtype
    delta = 10 * jnp.finfo(dtype).eps * jnp.max(jnp.diag(hess))
    damped = hess + delta * jnp.eye(hess.shape[0], dtype=dtype)
    direction = -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(damped), grad)
    slope = grad @ direction
    usable = jnp.all(jnp.isfinite(direction)) & (slope < 0)
    # under vmap, finished runs still execute this body: keep their search short
    return direction, slope, usable & (status == 0)


@jax.jit
def stepped(accepted: Array, theta: Array, step_size: Array, direction: Array) -> Array:
    """theta + t d where the line search accepted t, else theta."""
    return jnp.where(accepted, theta + step_size * direction, theta)
