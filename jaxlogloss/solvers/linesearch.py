"""Backtracking line search (Armijo), written once for every objective kind.

From t = 1, halve the step until

    f(theta + t d) <= f(theta) + c1 t g.d + 4 eps |f(theta)|

(c1 = 1e-4; the few ulps of slack mean that at the rounding floor a step that leaves
the value unchanged is not a failure), at most ``max_halvings`` trial points. Each trial
is one ``objective.evaluate(..., order)``: order 1 in memory (the accepted trial carries
the gradient the stopping rule needs), order 2 where a value costs a pass anyway
(streams: the Hessian the next Newton step needs comes along). The loop is the objective's own
``while_loop``: compiled in memory, a host loop over passes for a stream.
(Nocedal & Wright, *Numerical Optimization*, Algorithm 3.1.)
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.model.objectives import Evaluation

Array = jax.Array

ARMIJO_C1 = 1e-4
FLOOR_OVERSHOOT = 0.8  # at the value's rounding floor: phi'(t) <= 0.8 |phi'(0)|


class LineSearchResult(NamedTuple):
    """The step size, whether Armijo held, and the evaluation at the last trial."""

    step_size: Array
    accepted: Array
    evaluation: Evaluation


def backtracking(
    objective: Any,
    theta: Array,
    value: Array,
    slope: Array,
    direction: Array,
    order: int,
    max_halvings: int = 40,
    active: Any = True,
    floor_check: bool = False,
) -> LineSearchResult:
    """Halve t from 1 until the Armijo condition holds (see the module docstring).

    ``slope`` is g.d (a non-negative or NaN slope is never accepted); ``active`` False
    (a finished run under vmap) stops after the first trial. ``floor_check`` (L-BFGS):
    where the trial's value is within rounding of the current one, Armijo says
    nothing, and Hager and Zhang's approximate Wolfe test decides (:func:`not_past`).
    """

    def trial(i: Array) -> tuple[Evaluation, Array]:
        ev = objective.evaluate(trial_point(theta, direction, i), order)
        ok = armijo(ev.value, value, slope, i)
        if floor_check:
            ok = ok & not_past(ev.value, ev.grad, value, slope, direction)
        return ev, ok

    def cond(carry: tuple[Array, Evaluation, Array]) -> Array:
        i, _, ok = carry
        return searching(i, ok, active, max_halvings)

    def body(carry: tuple[Array, Evaluation, Array]) -> tuple[Array, Evaluation, Array]:
        i = next_trial(carry[0])
        ev, ok = trial(i)
        return i, ev, ok

    ev0, ok0 = trial(jnp.int32(0))
    i, ev, ok = objective.while_loop(cond, body, (jnp.int32(0), ev0, ok0))
    step, accepted = outcome(i, ok, active, value)
    return LineSearchResult(step, accepted, ev)


# The pure pieces, jitted: inlined in a compiled loop, one small program each when the
# loop runs on the host (see jaxlogloss.solvers.base).
@jax.jit
def trial_point(theta: Array, direction: Array, i: Array) -> Array:
    """theta + 0.5^i d."""
    return theta + jnp.asarray(0.5, theta.dtype) ** i * direction


@jax.jit
def armijo(trial_value: Array, value: Array, slope: Array, i: Array) -> Array:
    """Whether the value at trial i satisfies the Armijo condition (with the slack)."""
    t = jnp.asarray(0.5, jnp.result_type(value)) ** i
    return jnp.isfinite(trial_value) & (
        trial_value <= value + ARMIJO_C1 * t * slope + rounding_slack(value)
    )


def rounding_slack(value: Array) -> Array:
    """4 eps |f|: how far a value may move by rounding alone."""
    return 4 * jnp.finfo(jnp.result_type(value)).eps * jnp.abs(value)


@jax.jit
def not_past(
    trial_value: Array, trial_grad: Array, value: Array, slope: Array, direction: Array
) -> Array:
    """False where the trial's value is within rounding (4 eps |f|) of the current
    one and its directional derivative phi'(t) = g(t).d exceeds
    :data:`FLOOR_OVERSHOOT` |phi'(0)|: the step overshot the minimum along d, which
    the flat value cannot show (Hager and Zhang's approximate Wolfe condition)."""
    flat = jnp.abs(trial_value - value) <= rounding_slack(value)
    return ~flat | (jnp.vdot(trial_grad, direction) <= -FLOOR_OVERSHOOT * slope)


@functools.partial(jax.jit, static_argnums=3)
def searching(i: Array, ok: Array, active: Any, max_halvings: int) -> Array:
    return ~ok & (i + 1 < max_halvings) & active


@jax.jit
def next_trial(i: Array) -> Array:
    return i + 1


@jax.jit
def outcome(i: Array, ok: Array, active: Any, value: Array) -> tuple[Array, Array]:
    """The step size 0.5^i and whether it was accepted."""
    return jnp.asarray(0.5, jnp.result_type(value)) ** i, ok & active
