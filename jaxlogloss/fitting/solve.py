"""One compiled solver run on an in-memory problem, by solver name.

``solve("newton", problem, scaling, params_std, tol, max_iter)`` builds the in-memory
objective (:class:`jaxlogloss.model.objectives.InMemoryObjective`) and runs
:func:`jaxlogloss.solvers.base.minimise` under ``jit``: what ``fit`` and the experiment
runner call.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import InMemoryObjective, ravel
from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.scaling import Scaling
from jaxlogloss.solvers.base import SolverResult, minimise, solver_result
from jaxlogloss.solvers.registry import make_solver


@jax.jit
def minimise_compiled(
    solver: Any, objective: InMemoryObjective, theta: jax.Array
) -> Any:
    """:func:`~jaxlogloss.solvers.base.minimise` compiled (solver and objective are
    pytrees: tolerance, data, penalty and scaling are traced, the rest static)."""
    return minimise(solver, objective, theta)


def solve(
    name: str,
    problem: Problem,
    scaling: Scaling,
    params_std: LinearParams,
    tol: float,
    max_iter: int,
    loss: str = "log_loss",
) -> SolverResult:
    """Run solver ``name`` from ``params_std`` (standardised coordinates)."""
    objective = InMemoryObjective(problem, scaling, loss)
    method = make_solver(name, jnp.asarray(tol, problem.targets.dtype), max_iter)
    state = minimise_compiled(method, objective, ravel(params_std))
    return solver_result(objective, state.iterate)
