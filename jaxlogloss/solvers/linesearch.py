"""Backtracking line search (Armijo), written once for every objective kind.

From t = 1, halve the step until

    f(theta + t d) <= f(theta) + c1 t g.d + 4 eps |f(theta)|

(c1 = 1e-4; the few ulps of slack mean that at the rounding floor a step that leaves
the value unchanged is not a failure), at most ``max_halvings`` trial points. Each trial
is one ``objective.evaluate(..., order)``: order 0 where a value is cheap (in memory),
order 1 or 2 where a value costs a pass anyway (streams), so the accepted trial already
carries the derivatives the next iteration needs. The loop is the objective's own
``while_loop``: compiled in memory, a host loop over passes for a stream.
(Nocedal & Wright, *Numerical Optimization*, Algorithm 3.1.)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.model.objectives import Evaluation

Array = jax.Array

ARMIJO_C1 = 1e-4


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
) -> LineSearchResult:
    """Halve t from 1 until the Armijo condition holds (see the module docstring).

    ``slope`` is g.d (a non-negative or NaN slope is never accepted); ``active`` False
    (a finished run under vmap) stops after the first trial.
    """
    dtype = jnp.result_type(value)
    slack = 4 * jnp.finfo(dtype).eps * jnp.abs(value)

    def trial(i: Array) -> tuple[Evaluation, Array]:
        t = jnp.asarray(0.5, dtype) ** i
        ev = objective.evaluate(theta + t * direction, order)
        ok = jnp.isfinite(ev.value) & (
            ev.value <= value + ARMIJO_C1 * t * slope + slack
        )
        return ev, ok

    def cond(carry: tuple[Array, Evaluation, Array]) -> Array:
        i, _, ok = carry
        return ~ok & (i + 1 < max_halvings) & active

    def body(carry: tuple[Array, Evaluation, Array]) -> tuple[Array, Evaluation, Array]:
        i = carry[0] + 1
        ev, ok = trial(i)
        return i, ev, ok

    ev0, ok0 = trial(jnp.int32(0))
    i, ev, ok = objective.while_loop(cond, body, (jnp.int32(0), ev0, ok0))
    return LineSearchResult(jnp.asarray(0.5, dtype) ** i, ok & active, ev)
