"""L-BFGS, written once for every objective kind.

The direction is optax's two-loop recursion (``optax.scale_by_lbfgs``: -H_k g from the
last ``memory_size`` pairs of steps and gradient changes, initial scaling
s.y / y.y), the step length a backtracking Armijo search from t = 1
(:mod:`jaxlogloss.solvers.linesearch`) whose accepted trial already carries the
gradient: an accepted unit step costs one evaluation of value and gradient. A direction
that is not a descent direction restarts the memory (steepest descent for that step).
Works for every loss, multiclass included. Stopping rule and statuses:
:mod:`jaxlogloss.solvers.base`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.solvers.base import Iterate, advance, start, static_field, where_tree
from jaxlogloss.solvers.linesearch import backtracking
from jaxlogloss.solvers.newton import stepped

if TYPE_CHECKING:
    import optax

Array = jax.Array


class LBFGSState(NamedTuple):
    iterate: Iterate
    memory: Any  # optax.ScaleByLBFGSState


@functools.lru_cache(maxsize=8)
def lbfgs_direction(memory_size: int) -> optax.GradientTransformation:
    """optax's L-BFGS two-loop recursion without a line search: g -> H_k g.

    The update is jitted: inlined under an outer jit, and one compiled program when a
    host loop drives the solver (a streamed objective) instead of many small ops.
    optax is imported here, on first use: ~0.1 s of every process that never runs
    this (a CLI Newton fit; the host loop's L-BFGS has its own NumPy recursion)."""
    import optax

    transform = optax.scale_by_lbfgs(memory_size=memory_size)
    return optax.GradientTransformation(transform.init, jax.jit(transform.update))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LBFGS:
    """Hyperparameters: ``tol`` on ||grad||_inf, ``max_iter`` steps, ``memory_size``
    pairs, ``max_halvings`` trial points per line search."""

    tol: Any
    max_iter: int = static_field(1000)
    memory_size: int = static_field(10)
    max_halvings: int = static_field(40)

    def init(self, objective: Any, theta: Array) -> LBFGSState:
        ev = objective.evaluate(theta, 1)
        memory = lbfgs_direction(self.memory_size).init(theta)
        return LBFGSState(start(theta, ev, self.tol, self.max_iter), memory)

    def step(self, objective: Any, state: LBFGSState) -> LBFGSState:
        it = state.iterate
        direction, slope, memory, active = safeguarded(
            state.memory, it.grad, it.theta, it.status, self.memory_size
        )
        ls = backtracking(
            objective, it.theta, it.value, slope, direction, 1, self.max_halvings,
            active, floor_check=True,
        )  # fmt: skip
        theta = stepped(ls.accepted, it.theta, ls.step_size, direction)
        iterate, _ = advance(it, theta, ls.evaluation, self.tol, ls.accepted)
        return LBFGSState(iterate, memory)


@functools.partial(jax.jit, static_argnums=4)
def safeguarded(
    memory: Any, grad: Array, theta: Array, status: Array, memory_size: int
) -> tuple[Array, Array, Any, Array]:
    """The direction -H g (the two-loop update of the memory) and its slope, or
    steepest descent with the memory forgotten when -H g is not a descent direction;
    and whether the run is still going (jitted: inlined in a compiled loop, one small
    program in a host loop)."""
    transform = lbfgs_direction(memory_size)
    scaled, memory = transform.update(grad, memory, theta)
    direction = -scaled
    slope = grad @ direction
    descent = jnp.all(jnp.isfinite(direction)) & (slope < 0)
    # not a descent direction: forget the pairs, take steepest descent
    direction = jnp.where(descent, direction, -grad)
    slope = jnp.where(descent, slope, -(grad @ grad))
    memory = where_tree(descent, memory, transform.init(theta))
    return direction, slope, memory, status == 0
