"""The in-memory objective with its loops on the host: a first call that compiles fast.

:func:`jaxlogloss.fitting.solve.minimise_compiled` compiles a whole solver run (the
solver's loop, the nested line-search loops, every evaluation) into one program: the
fastest run once compiled, but the first call of a fit spends seconds in XLA.
:class:`HostLoopObjective` holds an :class:`~jaxlogloss.model.objectives.InMemoryObjective`
and offers the same interface with

* ``evaluate(theta, order)`` and ``hessian(theta, aux)`` as jitted calls of the inner
  objective's (small programs: one per order, compiled in a fraction of a second);
* ``while_loop`` as a Python loop (as a stream's objective does), so the very same
  solver code (:mod:`jaxlogloss.solvers`) runs on the host between those calls, its small
  pure pieces jitted where the solvers jit them.

Measured (issue 11, ``benchmarks/compile_and_steps.py``, 2 shared cores): the host loop
runs as fast as the compiled one on 1,000,000 x 100 float32 (dispatch costs microseconds
next to a pass) and up to a few times slower on 20,000 x 20 float64 (milliseconds
either way), but it does not compile faster: its dozen small programs (two or three
evaluations, the L-BFGS two-loop update, the stopping rule, the line-search pieces)
take about as long in XLA as the one whole-run program. So ``fit`` keeps the compiled
loop (:data:`HOST_LOOP_MIN_ELEMENTS` is None); setting it to a number of elements of X
makes ``fit`` drive larger problems from the host (the same iterates; a test checks it).
"""

from __future__ import annotations

import functools
from typing import Any

import jax

from jaxlogloss.model.objectives import Evaluation, InMemoryObjective
from jaxlogloss.solvers.base import minimise

Array = jax.Array

# fit drives an in-memory solver from the host when X has at least this many elements
# (rows x features); None: never (measured: no faster first call, see above)
HOST_LOOP_MIN_ELEMENTS: int | None = None


@functools.partial(jax.jit, static_argnames="order")
def _evaluate(objective: InMemoryObjective, theta: Array, order: int) -> Evaluation:
    return objective.evaluate(theta, order)


@jax.jit
def _hessian(objective: InMemoryObjective, theta: Array, aux: Any) -> Array:
    return objective.hessian(theta, aux)


class HostLoopObjective:
    """An :class:`InMemoryObjective` whose solver loops run on the host (see the
    module docstring); every other attribute is the inner objective's."""

    derivatives_with_value = False

    def __init__(self, inner: InMemoryObjective) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def evaluate(self, theta: Array, order: int = 1) -> Evaluation:
        return _evaluate(self.inner, theta, order)

    def hessian(self, theta: Array, aux: Any = None) -> Array:
        return _hessian(self.inner, theta, aux)

    @staticmethod
    def while_loop(cond: Any, body: Any, state: Any) -> Any:
        while bool(cond(state)):
            state = body(state)
        return state


def minimise_host(solver: Any, objective: InMemoryObjective, theta: Array) -> Any:
    """:func:`~jaxlogloss.solvers.base.minimise` with the loops on the host: the same
    iterates as the compiled run, with no whole-run program to compile."""
    return minimise(solver, HostLoopObjective(objective), theta)


def use_host_loop(objective: Any) -> bool:
    """Whether ``fit`` runs this in-memory objective's solver loop on the host: on one
    device when X has at least :data:`HOST_LOOP_MIN_ELEMENTS` elements (never when
    that is None, the default)."""
    limit = HOST_LOOP_MIN_ELEMENTS
    if limit is None or not isinstance(objective, InMemoryObjective):
        return False
    if objective.mesh is not None:
        return False
    n, d = objective.problem.X.shape
    return n * d >= limit
