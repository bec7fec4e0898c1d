"""The in-memory objective with an offset: a known term o_i added to each logit.

    f(theta) = sum_i c_i l(y_i, x_i w + b + o_i) / sum_i c_i + P(w; alpha)

the model of statsmodels' ``GLM(y, X, family=Binomial(), offset=o)`` (an exposure
``log t`` for rates, a fixed prior logit, the logits of another model). The offset is a
column whose coefficient is fixed at 1: the gradient and Hessian over theta keep their
form, with z = X w + b + o in l'(z) and l''(z).

:class:`OffsetObjective` is :class:`~jaxlogloss.model.objectives.InMemoryObjective` with
one more leaf, ``offset`` (n,), and the same interface, so every solver runs on it
unchanged. Evaluations use autodiff (the fused one-pass value and gradient of the plain
objective has no offset); the Hessian is the same blocked, centred Gram sum.

The separation certificate looks at the *linear* part x w + b: when every weighted row
has (2y - 1)(x w + b) > 0, scaling (w, b) up drives the loss to 0 whatever the offset,
so no minimiser exists; positive margins of z that rely on the offset prove nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxlogloss.losses.pointwise import reduce_loss
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.objectives import Evaluation, InMemoryObjective, least_margin
from jaxlogloss.model.params import linear_logits
from jaxlogloss.model.penalties import get_penalty

Array = jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class OffsetObjective(InMemoryObjective):
    """f(theta) with a known offset added to every logit (module docstring)."""

    offset: Any = None

    def logits(self, theta: Array) -> Array:
        """z = X w + b + o on the raw parameters of theta."""
        return linear_logits(self.raw_params(theta), self.problem.X) + self.offset

    def _value_and_logits(self, theta: Array) -> tuple[Array, Array]:
        z, p = self.logits(theta), self.problem
        pen = get_penalty(self.penalty).value(self.raw_params(theta).w, p.l2)
        return reduce_loss(
            get_loss(self.loss).value(p.targets, z), p.sample_weight
        ) + pen, z

    def _separated(self, z: Array) -> Array:
        p = self.problem
        linear = z - self.offset
        return (p.l2 == 0) & (least_margin(linear, p.targets, p.sample_weight) > 0)

    def evaluate(self, theta: Array, order: int = 1) -> Evaluation:
        if order == 0:
            f, z = self._value_and_logits(theta)
            return Evaluation(f, None, None, self._separated(z), z)
        (f, z), g = jax.value_and_grad(self._value_and_logits, has_aux=True)(theta)
        h = self.hessian(theta, z) if order >= 2 else None
        return Evaluation(f, g, h, self._separated(z), z)

    def hessian(self, theta: Array, aux: Any = None) -> Array:
        """X~^T diag(c l''(z)) X~ / sum c + the penalty's Hessian, z with the offset
        (the plain objective's Hessian at these logits)."""
        return super().hessian(theta, self.logits(theta) if aux is None else aux)


def with_offset(
    fn: str, objective: Any, offset: Any, compiled_solver: bool = True
) -> OffsetObjective:
    """``objective`` with ``offset`` (n,) finite numbers added to its logits.

    In memory on one device, with the solvers that take an objective (newton, lbfgs):
    a stream has no offset column, the sharded and first-order paths no offset term.
    """
    if not isinstance(objective, InMemoryObjective):
        raise ValueError(
            f"{fn}: offset needs the data in memory (a stream has no offset column); "
            "read the data with read_table"
        )
    if objective.mesh is not None:
        raise ValueError(
            f"{fn}: offset is not available with mesh= (the offset is not sharded "
            "with the rows); fit without mesh"
        )
    if not compiled_solver:
        raise ValueError(
            f"{fn}: offset needs solver newton, lbfgs or auto (first-order training "
            "has no offset term)"
        )
    n = int(objective.problem.targets.shape[0])
    try:
        o = jnp.asarray(offset, objective.dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{fn}: offset must be an array of {n} numbers, got {offset!r:.60}"
        ) from err
    if o.shape != (n,):
        raise ValueError(
            f"{fn}: offset has shape {tuple(o.shape)} but there are {n} rows; "
            f"expected shape ({n},)"
        )
    if not bool(jnp.all(jnp.isfinite(o))):
        i = int(jnp.argmax(~jnp.isfinite(o)))
        raise ValueError(f"{fn}: offset must be finite, got {float(o[i])} at row {i}")
    fields = {f.name: getattr(objective, f.name) for f in dataclasses.fields(objective)}
    return OffsetObjective(**fields, offset=o)
