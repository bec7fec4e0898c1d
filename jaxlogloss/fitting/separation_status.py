"""A binary fit's status after the separation certificates (its inference step).

The solver certifies complete separation of an unpenalised fit on its own (every
example right with a positive margin: :mod:`jaxlogloss.solvers.base`). After it, at
the fit, with the information matrix in hand:

* no penalty: quasi-complete separation, a near-null direction of the Hessian along
  which no example's margin falls
  (:func:`~jaxlogloss.solvers.separation.quasi_separation_direction`);
* a penalty that leaves some features free (penalty factor 0): the free coordinates
  (those features and the intercept,
  :func:`~jaxlogloss.solvers.separation.free_coordinates`) have no penalty to keep
  them finite. Complete separation by them: the free part of the fitted logits
  classifies every row of positive weight right (the objective's ``margin_range``
  along it, in memory or streamed); quasi-complete: the same direction
  test as above on the Hessian's free rows and columns (the penalised coordinates
  held at 0). Either way the loss falls along that part at any alpha with the
  penalty unchanged, so no minimiser exists.

Where the status is separation, the counts for the warning: rows classified right
and rows with fitted probabilities within 1e-6 of 0 or 1.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import InMemoryObjective
from jaxlogloss.model.params import LinearParams, linear_logits
from jaxlogloss.model.scaling import Scaling, to_raw
from jaxlogloss.solvers.separation import free_coordinates, quasi_separation_direction


@jax.jit
def separation_counts(
    params: LinearParams, problem: Problem
) -> tuple[jax.Array, jax.Array]:
    """Rows of positive weight classified right with a positive margin and with
    fitted probabilities within 1e-6 of 0 or 1 (raw ``params``)."""
    z = linear_logits(params, problem.X)
    y, sw = problem.targets, problem.sample_weight
    used = jnp.ones_like(z, bool) if sw is None else sw > 0
    right = jnp.sum(used & ((2 * y - 1) * z > 0))
    saturated = jnp.sum(used & (jnp.abs(jax.nn.sigmoid(z) - y) < 1e-6))
    return right, saturated


def separation_status(
    objective: Any, spec: Any, status: str, information: np.ndarray,
    theta: np.ndarray, scaling: Scaling,
) -> tuple[str, tuple[int, int] | None, bool]:  # fmt: skip
    """(status, counts, free): the status after the certificates (module docstring),
    the warning's counts where it is separation and the objective is in memory (else
    None), and whether the penalty ``spec`` leaves features free. ``information``:
    the Hessian over theta = [w', b'] (standardised, any positive scale); ``theta``
    the fit there (host)."""
    free = free_coordinates(spec.alpha, spec.penalty_factor)
    in_memory = isinstance(objective, InMemoryObjective)
    hess = np.asarray(information, np.float64)
    if status != "separation" and spec.alpha == 0:
        direction = quasi_separation_direction(
            hess, objective.margin_range, candidates=(theta,)
        )
        status = "separation" if direction is not None else status
    elif status != "separation" and free is not None:
        # complete: the free part of the fitted logits right on every weighted row
        if objective.margin_range(np.where(free, theta, 0.0))[0] > 0:
            status = "separation"
        else:  # quasi-complete, on the free coordinates
            idx = np.flatnonzero(free)

            def along(v: np.ndarray) -> tuple[float, float]:
                full = np.zeros(free.size)
                full[idx] = v
                return objective.margin_range(full)

            direction = quasi_separation_direction(
                hess[np.ix_(idx, idx)], along, candidates=(theta[idx],)
            )
            status = "separation" if direction is not None else status
    counts = None
    if status == "separation" and in_memory:
        params = to_raw(LinearParams(theta[:-1], theta[-1]), scaling)
        counts = tuple(int(c) for c in separation_counts(params, objective.problem))
    return status, counts, free is not None
