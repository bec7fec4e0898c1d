"""The composite objective of the proximal solvers and its optimality (KKT) conditions.

The proximal solvers (:mod:`jaxlogloss.solvers.prox_newton`,
:mod:`jaxlogloss.solvers.fista`) minimise

    F(theta) = L(theta) + alpha sum_j f_j (r |w_j| + (1 - r)/2 w_j^2),   w = w(theta)

with L the penalty-free mean loss of an objective (its ``unpenalised()``) and the
elastic net on the RAW weights (r = ``l1_ratio``, f = ``penalty_factor``; the intercept
never penalised). The solvers work on theta, the parameters on standardised features:
w_j = theta_j / s_j (s the objective's scaling), so in theta the penalty is separable
with per-coordinate weights

    lam_j = alpha r f_j / s_j          (the L1 part, |theta_j|),
    mu_j  = alpha (1 - r) f_j / s_j^2  (the ridge part, theta_j^2 / 2),

and 0 on the intercept(s). The smooth part is S = L + sum_j mu_j theta_j^2 / 2.

KKT conditions (the stopping rule): theta minimises F iff, with g = grad S(theta),

    g_j + lam_j sign(theta_j) = 0   where theta_j != 0,
    |g_j| <= lam_j                  where theta_j == 0,

and g = 0 on the intercept. The violation of coordinate j is the distance of -g_j to
the subdifferential lam_j d|theta_j|; the solvers stop when the largest is <= tol (on
standardised features: tol means the same whatever the units of X). On the raw scale
the conditions read the same with the raw gradient dF/dw_j = s_j g_j + m_j g_b (m the
feature means) and alpha r f_j in place of lam_j: :func:`raw_kkt_violation` reports
that one (``FitResult.kkt_violation``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.model.objectives import Evaluation, unravel
from jaxlogloss.model.scaling import Scaling

Array = jax.Array


class PenaltyWeights(NamedTuple):
    """Per-coordinate weights of the penalty in theta: ``lam`` (L1), ``mu`` (ridge)."""

    lam: Array
    mu: Array


def per_coordinate(per_feature: Array, n_classes: int | None) -> Array:
    """A (d,) per-feature vector laid out over theta = [w.ravel(), b] (0 on b)."""
    if n_classes is None:
        return jnp.concatenate([per_feature, jnp.zeros((1,), per_feature.dtype)])
    w_part = jnp.repeat(per_feature, n_classes)
    return jnp.concatenate([w_part, jnp.zeros((n_classes,), per_feature.dtype)])


def penalty_weights(
    scaling: Scaling,
    alpha: Any,
    l1_ratio: Any,
    penalty_factor: Any,
    n_classes: int | None = None,
) -> PenaltyWeights:
    """lam_j = alpha r f_j / s_j and mu_j = alpha (1 - r) f_j / s_j^2 over theta."""
    s = scaling.scale
    f = jnp.ones_like(s) if penalty_factor is None else jnp.asarray(penalty_factor)
    f = f.astype(s.dtype)
    lam = alpha * l1_ratio * f / s
    mu = alpha * (1 - l1_ratio) * f / jnp.square(s)
    return PenaltyWeights(per_coordinate(lam, n_classes), per_coordinate(mu, n_classes))


def l1_part(theta: Array, lam: Array) -> Array:
    """sum_j lam_j |theta_j|: the non-smooth part of F."""
    return jnp.sum(lam * jnp.abs(theta))


def soft_threshold(x: Array, t: Array) -> Array:
    """sign(x) max(|x| - t, 0): the proximal map of t |.| (exact, positive zeros)."""
    return jnp.where(jnp.abs(x) > t, x - jnp.sign(x) * t, jnp.zeros_like(x))


def kkt_violations(theta: Array, grad: Array, lam: Array) -> Array:
    """Per coordinate: |g_j + lam_j sign(theta_j)| where theta_j != 0, else
    max(|g_j| - lam_j, 0) (``grad`` the gradient of the smooth part S)."""
    at_zero = jnp.maximum(jnp.abs(grad) - lam, 0)
    off_zero = jnp.abs(grad + lam * jnp.sign(theta))
    return jnp.where(theta == 0, at_zero, off_zero)


def kkt_violation(theta: Array, grad: Array, lam: Array) -> Array:
    """The largest KKT violation on standardised features (the stopping measure)."""
    return jnp.max(kkt_violations(theta, grad, lam))


def raw_kkt_violation(
    theta: Array, grad: Array, lam: Array, scaling: Scaling, d: int, k: int | None
) -> Array:
    """The largest KKT violation on the raw coefficients (w, b) (see the docstring)."""
    g = unravel(grad, d, k)
    t = unravel(theta, d, k)
    lam_w = unravel(lam, d, k).w
    s = scaling.scale if k is None else scaling.scale[:, None]
    m = scaling.mean if k is None else scaling.mean[:, None]
    g_raw = s * g.w + m * g.b  # dF/dw = s g_w' + m g_b' (theta_b = b + m . w)
    w_viol = kkt_violations(t.w, g_raw, s * lam_w)
    return jnp.maximum(jnp.max(w_viol), jnp.max(jnp.abs(g.b)))


@jax.jit
def compose(ev: Evaluation, theta: Array, weights: PenaltyWeights) -> Evaluation:
    """An evaluation of L as one of F: value F, gradient and Hessian of S."""
    lam, mu = weights
    value = ev.value + 0.5 * jnp.sum(mu * jnp.square(theta)) + l1_part(theta, lam)
    grad = None if ev.grad is None else ev.grad + mu * theta
    hess = None if ev.hessian is None else ev.hessian + jnp.diag(mu)
    free = jnp.all(lam == 0) & jnp.all(mu == 0)
    return Evaluation(value, grad, hess, ev.separated & free, ev.aux)


@jax.jit
def _add_ridge(hess: Array, mu: Array) -> Array:
    return hess + jnp.diag(mu)


@dataclasses.dataclass(frozen=True)
class Composite:
    """F as an objective: ``evaluate`` gives F's value with S's gradient and Hessian,
    so the line search of :mod:`jaxlogloss.solvers.linesearch` runs on F unchanged;
    ``smooth`` is the penalty-free objective, ``weights`` the penalty in theta."""

    smooth: Any
    weights: PenaltyWeights

    @property
    def derivatives_with_value(self) -> bool:
        return self.smooth.derivatives_with_value

    def evaluate(self, theta: Array, order: int = 1) -> Evaluation:
        return compose(self.smooth.evaluate(theta, order), theta, self.weights)

    def hessian(self, theta: Array, aux: Any = None) -> Array:
        return _add_ridge(self.smooth.hessian(theta, aux), self.weights.mu)

    def while_loop(self, cond: Any, body: Any, state: Any) -> Any:
        return self.smooth.while_loop(cond, body, state)


def composite(
    objective: Any, alpha: Any, l1_ratio: Any, penalty_factor: Any
) -> Composite:
    """F of ``objective`` (its own penalty dropped) with this elastic net."""
    weights = penalty_weights(
        objective.scaling, alpha, l1_ratio, penalty_factor, objective.n_classes
    )
    return Composite(objective.unpenalised(), weights)
