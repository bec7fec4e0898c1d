"""First-order optimizers over a stream: one optimizer step per batch.

Epochs visit the batches in stream order until ``max_iter`` steps; after each epoch one
more pass measures the full objective and gradient (the history and the stopping rule:
converged at ||grad||_inf <= tol, diverged on a non-finite value). Each step is
:func:`jaxlogloss.solvers.first_order.first_order_update` on the batch's weighted mean
plus the penalty, compiled once (batches are padded to one size).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

from jaxlogloss.model.objectives import batch_objective
from jaxlogloss.model.scaling import Scaling
from jaxlogloss.model.streamed import StreamedObjective
from jaxlogloss.solvers.base import inf_norm
from jaxlogloss.solvers.first_order import first_order_update, make_optimizer


@functools.partial(jax.jit, static_argnames=("optimizer", "loss", "penalty"))
def _batch_step(
    theta: jax.Array, opt_state: Any, xt: jax.Array, y: jax.Array, c: jax.Array,
    scaling: Scaling, alpha: jax.Array, optimizer: Any, loss: str, penalty: str,
) -> tuple[jax.Array, Any, jax.Array]:  # fmt: skip
    obj = batch_objective(xt, y, c, scaling, alpha, loss, penalty)
    theta, opt_state, value, _ = first_order_update(
        theta, opt_state, obj.value, optimizer
    )
    return theta, opt_state, value


def first_order_passes(
    objective: StreamedObjective, theta: jax.Array, tol: float, max_iter: int,
    solver: str, learning_rate: float | None,
) -> tuple[Any, str, int, float, float, np.ndarray]:  # fmt: skip
    """Run ``solver`` step by step over the batches: the final theta, status, steps,
    value, ||g||_inf and the per-step batch losses."""
    optimizer = make_optimizer(solver, learning_rate)
    opt_state = optimizer.init(theta)
    alpha = jax.numpy.asarray(objective.alpha, objective.dtype)
    ev = objective.evaluate(theta, 1)
    history: list[float] = []
    k = 0

    def status_of(ev: Any) -> str:
        gn = float(inf_norm(ev.grad))
        if not (np.isfinite(float(ev.value)) and np.isfinite(gn)):
            return "diverged"
        return "converged" if gn <= tol else "running"

    status = status_of(ev)
    while status == "running" and k < max_iter:
        for xt, y, c in objective.source.batches():
            if k >= max_iter:
                break
            theta, opt_state, value = _batch_step(
                theta, opt_state, xt, y, c, objective.scaling, alpha, optimizer,
                objective.loss, objective.penalty,
            )  # fmt: skip
            history.append(float(value))
            k += 1
        ev = objective.evaluate(theta, 1)
        status = status_of(ev)
    if status == "running":
        status = "max_iter"
    return (
        np.asarray(theta), status, k, float(ev.value), float(inf_norm(ev.grad)),
        np.asarray(history),
    )  # fmt: skip
