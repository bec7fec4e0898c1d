"""The feature scaling and the objective at theta = 0 from one pass over X.

A fit starts from theta = 0, where every logit is 0 (no offset): each row's loss
l(y_i, 0) and slope v_i = c_i l'(y_i, 0) depend on its target alone, and

    f(0) = sum_i c_i l(y_i, 0) / sum c + P(0),
    df/d(w, b) at 0 = (X^T v / sum c + P'(0), sum_i v_i / sum c)

(mapped to the standardised theta as :meth:`InMemoryObjective.fused_value_and_grad`
maps its pass's sums). The only product with X, X^T v, comes from the scaling's pass
(:func:`~jaxlogloss.model.scaling.feature_moments`, each block in cache): the solver's
first evaluation, a whole pass over X, is not made.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import InMemoryObjective
from jaxlogloss.model.scaling import (
    Scaling,
    feature_moments,
    scaling_dtype,
    scaling_from_moments,
)

Array = jax.Array


class ZeroPoint(NamedTuple):
    """f and df/dtheta at theta = 0 (standardised coordinates; logits all 0)."""

    value: Array
    grad: Array


def scaling_and_zero_point(
    problem: Problem, loss: str = "log_loss", penalty: str = "l2"
) -> tuple[Scaling, ZeroPoint]:
    """:func:`~jaxlogloss.model.scaling.feature_scaling` of ``problem.X`` and the
    objective (``InMemoryObjective(problem, scaling, loss, penalty)``, binary targets,
    no offset) at theta = 0, from one pass over X (module docstring)."""
    p = problem
    dtype = scaling_dtype(p.X, p.sample_weight, p.l2)
    slope, loss_sum, slope_sum = zero_slopes(problem, loss)
    mean, var, xtv = feature_moments(p.X, p.sample_weight, dtype=dtype, moment=slope)
    return zero_point_from_moments(
        problem, mean, var, xtv, loss_sum, slope_sum, loss, penalty
    )


def zero_slopes(problem: Problem, loss: str = "log_loss") -> tuple[Array, ...]:
    """At logits 0: each row's slope v_i = c_i l'(y_i, 0), sum_i c_i l(y_i, 0) and
    sum_i v_i (no pass over X)."""
    p, spec = problem, get_loss(loss)
    zero = jnp.zeros_like(p.targets)
    c = jnp.ones_like(p.targets) if p.sample_weight is None else p.sample_weight
    slope = c * spec.grad(p.targets, zero)
    return slope, jnp.sum(c * spec.value(p.targets, zero)), jnp.sum(slope)


def zero_point_from_moments(
    problem: Problem, mean: Array, var: Array, xtv: Array, loss_sum: Array,
    slope_sum: Array, loss: str = "log_loss", penalty: str = "l2",
) -> tuple[Scaling, ZeroPoint]:  # fmt: skip
    """The scaling and the objective at theta = 0 from X's moments (``mean``, ``var``
    in the scaling's dtype), X^T v and :func:`zero_slopes`' sums (no pass over X)."""
    scaling = scaling_from_moments(mean, var, problem.l2)
    objective = InMemoryObjective(problem, scaling, loss, penalty)
    theta = jnp.zeros((objective.n_features + 1,), objective.dtype)
    value, grad = objective.value_and_grad_from_sums(
        theta, loss_sum, xtv.astype(objective.dtype), slope_sum
    )
    return scaling, ZeroPoint(value, grad)


def zero_point_applies(problem: Problem, mesh: Any) -> bool:
    """Whether :func:`scaling_and_zero_point` applies: binary targets on one device."""
    return mesh is None and getattr(problem.targets, "ndim", 1) == 1
