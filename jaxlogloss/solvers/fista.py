"""FISTA: accelerated proximal gradient for the L1 / elastic-net penalised loss.

The first-order proximal method, for data where even the p x p Hessian of proximal
Newton is too much (wide X) or where each pass is costly but cheap per feature. It
minimises the same F = S + sum_j lam_j |theta_j| as
:mod:`jaxlogloss.solvers.prox_newton` (:mod:`jaxlogloss.solvers.kkt`) with, each step
(Beck & Teboulle 2009, with O'Donoghue & Candes' restart),

1. a proximal gradient step from the extrapolated point y with step 1/L,
   x = S_{lam/L}(y - grad S(y) / L), L doubled until
   S(x) <= S(y) + g.(x - y) + L/2 ||x - y||^2 (backtracking; L never shrinks);
2. a restart when F(x) > F(x_prev): the step is redone from x_prev (a plain proximal
   gradient step, which decreases F) and the momentum reset, so F never increases;
3. momentum t' = (1 + sqrt(1 + 4 t^2)) / 2, y = x + ((t - 1) / t') (x - x_prev).

Exact zeros come from the soft-thresholding. The stopping rule is the KKT one of
proximal Newton (:class:`~jaxlogloss.solvers.prox_newton.ProximalState`: the iterate's
``grad`` holds the violations), read by :func:`~jaxlogloss.solvers.base.advance`. In
memory every evaluation is a compiled pass (sharded rows included); on a stream each
is a pass over the batches: each step costs two passes or more (x, then y).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.model.objectives import Evaluation
from jaxlogloss.solvers.base import (
    RUNNING,
    STALLED,
    Iterate,
    advance,
    start,
    static_field,
    where_tree,
)
from jaxlogloss.solvers.kkt import composite, l1_part, soft_threshold
from jaxlogloss.solvers.prox_newton import (
    ProxNewtonResult,
    solve_with,
    with_violations,
)

Array = jax.Array


class FistaState(NamedTuple):
    """The iterate x (``grad``: KKT violations), S's gradient at x, the extrapolated
    point y with its evaluation, the momentum t and the step constant L."""

    iterate: Iterate
    grad: Array
    y: Array
    y_eval: Evaluation
    momentum: Array
    lipschitz: Array


@jax.jit
def prox_point(base: Array, grad: Array, lam: Array, lipschitz: Array) -> Array:
    """S_{lam/L}(base - grad / L)."""
    return soft_threshold(base - grad / lipschitz, lam / lipschitz)


@jax.jit
def sufficient(
    ev: Evaluation, x: Array, base: Array, base_ev: Evaluation, lam: Array, L: Array
) -> Array:
    """S(x) <= S(base) + g.(x - base) + L/2 ||x - base||^2 (+ rounding slack)."""
    s_x = ev.value - l1_part(x, lam)
    s_b = base_ev.value - l1_part(base, lam)
    step = x - base
    bound = s_b + base_ev.grad @ step + 0.5 * L * (step @ step)
    slack = 4 * jnp.finfo(s_b.dtype).eps * jnp.abs(s_b)
    return jnp.isfinite(ev.value) & (s_x <= bound + slack)


def prox_gradient_step(
    f: Any,
    base: Array,
    base_ev: Evaluation,
    lipschitz: Array,
    active: Array,
    max_doublings: int,
    template: Evaluation,
) -> tuple[Array, Evaluation, Array, Array]:
    """A backtracked proximal gradient step from ``base`` (nothing when not active):
    the point, its evaluation (``template``, an evaluation of the same structure, when
    none ran), L, and whether the decrease condition held."""
    lam = f.weights.lam

    def cond(carry: Any) -> Array:
        i, _, _, _, ok = carry
        return active & ~ok & (i < max_doublings)

    def body(carry: Any) -> Any:
        i, L, _, _, _ = carry
        L = jnp.where(i > 0, 2 * L, L)
        x = prox_point(base, base_ev.grad, lam, L)
        ev = f.evaluate(x, 1)
        return i + 1, L, x, ev, sufficient(ev, x, base, base_ev, lam, L)

    carry = (jnp.int32(0), lipschitz, base, template, jnp.asarray(False))
    _, L, x, ev, ok = f.while_loop(cond, body, carry)
    return x, ev, L, ok & active


@jax.jit
def momentum_point(
    x: Array, x_prev: Array, t: Array, restart: Array
) -> tuple[Array, Array]:
    """The next extrapolated point and momentum (t reset to 1 after a restart)."""
    t = jnp.where(restart, jnp.ones_like(t), t)
    t_next = 0.5 * (1 + jnp.sqrt(1 + 4 * t * t))
    return x + ((t - 1) / t_next) * (x - x_prev), t_next


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class FISTA:
    """Hyperparameters: ``tol`` on the KKT violation, the elastic net (``alpha``,
    ``l1_ratio``, ``penalty_factor``), ``max_iter`` steps, ``max_doublings`` of L."""

    tol: Any
    max_iter: int = static_field(10000)
    alpha: Any = 0.0
    l1_ratio: Any = 1.0
    penalty_factor: Any = None
    max_doublings: int = static_field(60)

    def problem(self, objective: Any) -> Any:
        return composite(objective, self.alpha, self.l1_ratio, self.penalty_factor)

    def init(self, objective: Any, theta: Array) -> FistaState:
        f = self.problem(objective)
        ev = f.evaluate(theta, 1)
        it = start(theta, with_violations(ev, theta, f.weights.lam), self.tol,
                   self.max_iter)  # fmt: skip
        # standardised features: the log-loss's curvature is at most ~1/4 a direction
        lipschitz = 0.25 + jnp.max(f.weights.mu)
        one = jnp.ones((), ev.value.dtype)
        return FistaState(it, ev.grad, theta, ev, one, lipschitz.astype(one.dtype))

    def step(self, objective: Any, state: FistaState) -> FistaState:
        f = self.problem(objective)
        it, lam = state.iterate, f.weights.lam
        running = it.status == RUNNING
        x, ev, L, ok = prox_gradient_step(
            f, state.y, state.y_eval, state.lipschitz, running, self.max_doublings,
            state.y_eval,
        )  # fmt: skip
        restart = ok & (ev.value > it.value)
        here = Evaluation(it.value, state.grad, None, jnp.asarray(False))
        x2, ev2, L, ok2 = prox_gradient_step(
            f, it.theta, here, L, restart, self.max_doublings, ev
        )
        x, ev, ok = where_tree(restart, (x2, ev2, ok2), (x, ev, ok))
        iterate, kept = advance(it, x, with_violations(ev, x, lam), self.tol, ok)
        # a step that met the decrease condition is no stall, even where F is flat
        # to rounding (FISTA's violation need not fall every step): only a failed
        # backtracking stops it
        stalled = (iterate.status == STALLED) & ok
        iterate = iterate._replace(status=jnp.where(stalled, RUNNING, iterate.status))
        grad = jnp.where(kept, ev.grad, state.grad)
        y, t = momentum_point(iterate.theta, it.theta, state.momentum, restart | ~kept)
        y_eval = f.evaluate(y, 1)
        return FistaState(iterate, grad, y, y_eval, t, L)


def fista_solve(
    objective: Any,
    theta0: Array,
    *,
    alpha: Any,
    l1_ratio: Any = 1.0,
    penalty_factor: Any = None,
    tol: Any = 1e-8,
    max_iter: int = 10000,
) -> ProxNewtonResult:
    """:func:`~jaxlogloss.solvers.prox_newton.prox_newton_solve`'s problem by FISTA
    (same arguments and result; pure, jit- and vmap-compatible)."""
    options = dict(alpha=alpha, l1_ratio=l1_ratio, penalty_factor=penalty_factor)
    return solve_with(FISTA, objective, theta0, tol, max_iter, options)
