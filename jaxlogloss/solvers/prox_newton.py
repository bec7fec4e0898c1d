"""Proximal Newton for the L1 / elastic-net penalised loss (glmnet's and skglm's scheme).

Minimises F(theta) = S(theta) + sum_j lam_j |theta_j| (:mod:`jaxlogloss.solvers.kkt`:
S the loss plus the ridge part, lam the L1 weights in standardised coordinates; the
intercept free). Each outer iteration

1. forms the quadratic model of S at theta from a Hessian H and the gradient g: for a
   stream the exact Hessian, summed in the same pass as the value and gradient; in
   memory the exact one (a blocked Gram of X from the kept logits) when ``refresh`` is
   0, else the last one kept while each step shrinks the KKT violation at least by
   the factor ``refresh`` (a chord / quasi-Newton model: along a path the previous
   alpha's Hessian, under cross-validation the all-rows run's; the gradient stays
   exact, so the fixed point and the stopping rule are those of F);
2. minimises  g.d + d'Hd/2 + sum_j lam_j |theta_j + d_j|  exactly by the feature-sign
   active-set method from theta's support, one masked Cholesky solve a step
   (:func:`~jaxlogloss.solvers.quadratic_l1.active_set_solve`; with no L1 part, one
   Newton solve), and where that fails by cyclic coordinate descent with
   soft-thresholding (glmnet's) until max_j H_jj |du_j| <= max(tol / 10,
   v min(v, 1) / 10) (v: the current violation) or ``max_sweeps``;
3. backtracks from t = 1 on F with the proximal Armijo rule
   F(theta + t d) <= F(theta) + c1 t Delta, Delta = g.d + R(theta + d) - R(theta) < 0
   (Tseng & Yun 2009; :func:`~jaxlogloss.solvers.linesearch.backtracking` run on F).
   A unit step keeps the exact zeros of the model's minimiser.

Stopping rule (:func:`~jaxlogloss.solvers.kkt.kkt_violation`): the KKT conditions,
|g_j| <= lam_j where theta_j = 0, g_j + lam_j sign(theta_j) = 0 where it is not (g = 0
on the intercept), the largest violation <= tol on standardised features. Statuses as
:mod:`jaxlogloss.solvers.base`: converged, max_iter, diverged, stalled (no decrease:
the rounding floor), separation (nothing penalised and the classes separable).

:func:`prox_newton_solve` is pure: jit it, vmap it over alpha, l1_ratio,
penalty_factor or the objective's sample weights (cross-validation folds as 0/1
weights), or scan it over an alpha grid with warm starts. On a stream the same code
runs as a host loop (one pass per evaluation; the Hessian comes with each pass).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.model.objectives import Evaluation
from jaxlogloss.solvers.base import (
    RUNNING,
    Iterate,
    advance,
    finished,
    minimise,
    start,
    static_field,
    where_tree,
)
from jaxlogloss.solvers.kkt import (
    compose,
    composite,
    kkt_violations,
    raw_kkt_violation,
)
from jaxlogloss.solvers.linesearch import backtracking
from jaxlogloss.solvers.newton import stepped
from jaxlogloss.solvers.quadratic_l1 import model_minimiser

Array = jax.Array


class ProxNewtonResult(NamedTuple):
    """theta (p,), n_iter, status (a :class:`~jaxlogloss.solvers.base.Status` int),
    value (F at theta), kkt (the largest KKT violation on the raw coefficients), grad
    (S's gradient at theta), hessian (the model Hessian of the penalty-free loss
    used last, in memory: a warm start for the next solve; else None) and aux (the
    objective's by-product at theta: in memory the logits)."""

    theta: Array
    n_iter: Array
    status: Array
    value: Array
    kkt: Array
    grad: Array | None = None
    hessian: Array | None = None
    aux: Any = None


class ProximalState(NamedTuple):
    """The iterate, whose ``grad`` holds the per-coordinate KKT violations (so the one
    stopping rule of :mod:`jaxlogloss.solvers.base` reads ||v||_inf <= tol), the
    gradient ``grad`` of the smooth part S, and what the next step reuses (a stream's
    Hessian of S, or the logits); ``model``: in memory, the Hessian of the
    penalty-free loss the quadratic model uses (refreshed by the ``refresh`` rule)."""

    iterate: Iterate
    grad: Array
    hessian: Array | None
    aux: Any
    model: Array | None = None


@jax.jit
def with_violations(ev: Evaluation, theta: Array, lam: Array) -> Evaluation:
    """``ev`` with its gradient replaced by the KKT violations at theta (the measure
    the stopping rule reads)."""
    return ev._replace(grad=kkt_violations(theta, ev.grad, lam))


def when(pred: Array, compute: Any, default: Any) -> Any:
    """``compute()`` where ``pred``, else ``default``: a while loop of at most one
    trip. Unlike ``lax.cond`` (a select of both branches under ``vmap``), a batch of
    runs computes nothing unless one of them needs it."""

    def body(carry: tuple[Array, Any]) -> tuple[Array, Any]:
        return jnp.zeros_like(carry[0]), compute()

    return jax.lax.while_loop(lambda c: c[0], body, (pred, default))[1]


@jax.jit
def secant_update(model: Array, step: Array, change: Array) -> Array:
    """BFGS: H + y y' / y's - H s s' H / s'Hs (s the step, y the loss gradient's
    change), skipped unless y's / s'Hs lies in [1/5, 5] (the curvature along s
    near the model's) and |y| is well above the gradient's rounding."""
    hs = model @ step
    shs = step @ hs
    ys = change @ step
    big = jnp.max(jnp.abs(change)) > 1e-2 * jnp.sqrt(jnp.finfo(model.dtype).eps)
    ok = big & (shs > 0) & (ys > 0.2 * shs) & (ys < 5 * shs)
    safe_shs = jnp.where(ok, shs, 1)
    safe_ys = jnp.where(ok, ys, 1)
    new = model + jnp.outer(change, change) / safe_ys - jnp.outer(hs, hs) / safe_shs
    return jnp.where(ok, new, model)


@functools.partial(jax.jit, static_argnames="max_sweeps")
def newton_direction(
    hess: Array,
    grad: Array,
    theta: Array,
    lam: Array,
    viol: Array,
    tol: Any,
    status: Array,
    max_sweeps: int = 200,
) -> tuple[Array, Array, Array]:
    """The minimiser of the quadratic model (module docstring, step 2): the direction
    d, Delta = g.d + R(theta + d) - R(theta), and whether to search along it."""
    running = status == RUNNING
    inner_tol = jnp.maximum(0.1 * tol, 0.1 * viol * jnp.minimum(viol, 1.0))
    u = model_minimiser(hess, grad, theta, lam, inner_tol, running, max_sweeps)
    direction = u - theta
    # term by term: near the solution Delta ~ v^2 is far below the rounding of
    # l1_part(u) - l1_part(theta), and a wrong sign would stop the run short of tol
    decrease = jnp.sum(grad * direction + lam * (jnp.abs(u) - jnp.abs(theta)))
    usable = jnp.all(jnp.isfinite(direction)) & (decrease < 0)
    return direction, decrease, usable & running


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ProxNewton:
    """Hyperparameters: ``tol`` on the KKT violation, the elastic net (``alpha``,
    ``l1_ratio``, ``penalty_factor``: traced), ``max_iter`` outer steps,
    ``max_sweeps`` of the fallback coordinate descent per step, ``max_halvings``
    trials; in memory, ``hessian``: a (p, p) Hessian of the penalty-free loss to
    start the model from (None: the exact one at the start), and ``refresh``: the
    model keeps its Hessian while each step shrinks the KKT violation at least by
    that factor, else recomputes it at the iterate (0: every step, the exact proximal
    Newton; a path passes its rule and the previous alpha's Hessian); ``start``: the
    penalty-free objective's evaluation at the start (value, gradient, logits) where
    the caller has it (a path: the previous alpha's solution), saving one pass;
    ``secant``: update the kept model after every step by BFGS on the loss's
    gradient change (:func:`secant_update`), so that it learns the curvature along
    the steps and the lagging model converges superlinearly; ``refresh_after``: the
    first steps that the rule ignores (a warm start's first step is long, and its
    contraction measures the problem's curvature change more than the model)."""

    tol: Any
    max_iter: int = static_field(100)
    alpha: Any = 0.0
    l1_ratio: Any = 1.0
    penalty_factor: Any = None
    max_sweeps: int = static_field(200)
    max_halvings: int = static_field(40)
    refresh: Any = 0.0
    hessian: Any = None
    start: Any = None
    secant: bool = static_field(False)
    refresh_after: int = static_field(0)

    def problem(self, objective: Any) -> Any:
        """The composite F of ``objective`` (:mod:`jaxlogloss.solvers.kkt`)."""
        return composite(objective, self.alpha, self.l1_ratio, self.penalty_factor)

    def _order(self, objective: Any) -> int:
        return 2 if objective.derivatives_with_value else 1

    def init(self, objective: Any, theta: Array) -> ProximalState:
        f = self.problem(objective)
        order = self._order(objective)
        if self.start is None or order == 2:
            ev = f.evaluate(theta, order)
        else:
            ev = compose(self.start, theta, f.weights)
        checked = with_violations(ev, theta, f.weights.lam)
        it = start(theta, checked, self.tol, self.max_iter)
        model = self.hessian
        if order == 1 and model is None:
            p = theta.shape[0]
            model = when(
                it.status == RUNNING,
                lambda: f.smooth.hessian(theta, ev.aux),
                jnp.zeros((p, p), ev.value.dtype),
            )
        return ProximalState(it, ev.grad, ev.hessian, ev.aux, model)

    def _model(self, f: Any, state: ProximalState) -> Array:
        """The loss Hessian for this step: the state's, or the exact one at the
        iterate where the last step shrank the violation by less than ``refresh``."""
        it = state.iterate
        k = it.n_iter
        history = it.grad_norm_history
        last = history[jnp.maximum(k - 1, 0)]
        slow = (k > self.refresh_after) & (history[k] > self.refresh * last)
        return when(
            slow & (it.status == RUNNING),
            lambda: f.smooth.hessian(it.theta, state.aux),
            state.model,
        )

    def step(self, objective: Any, state: ProximalState) -> ProximalState:
        f = self.problem(objective)
        it, lam = state.iterate, f.weights.lam
        order = self._order(objective)
        if order == 2:  # a stream: the Hessian of S came with the last pass
            model, hess = None, state.hessian
        else:
            model = self._model(f, state)
            hess = model + jnp.diag(f.weights.mu)
        viol = it.grad_norm_history[it.n_iter]
        direction, decrease, search = newton_direction(
            hess, state.grad, it.theta, lam, viol, self.tol, it.status,
            self.max_sweeps,
        )  # fmt: skip
        ls = backtracking(
            f, it.theta, it.value, decrease, direction, order, self.max_halvings, search
        )
        theta = stepped(ls.accepted, it.theta, ls.step_size, direction)
        ev = ls.evaluation
        checked = with_violations(ev, theta, lam)
        iterate, kept = advance(it, theta, checked, self.tol, ls.accepted)
        grad, hess_new, aux = where_tree(
            kept, (ev.grad, ev.hessian, ev.aux), (state.grad, state.hessian, state.aux)
        )
        if model is not None and self.secant:
            step = theta - it.theta  # 0 where not kept: no update
            change = grad - state.grad - f.weights.mu * step  # of the loss's gradient
            model = secant_update(model, step, change)
        return ProximalState(iterate, grad, hess_new, aux, model)


def proximal_result(solver: Any, objective: Any, state: Any) -> ProxNewtonResult:
    """The result of a proximal run's final state (the raw KKT violation from its
    smooth gradient)."""
    it = finished(state.iterate)
    lam = solver.problem(objective).weights.lam
    kkt = raw_kkt_violation(
        it.theta, state.grad, lam, objective.scaling, objective.n_features,
        objective.n_classes,
    )  # fmt: skip
    return ProxNewtonResult(
        it.theta, it.n_iter, it.status, it.value, kkt, state.grad,
        getattr(state, "model", None), getattr(state, "aux", None),
    )  # fmt: skip


def solve_with(
    cls: Any, objective: Any, theta0: Array, tol: Any, max_iter: int, options: dict
) -> ProxNewtonResult:
    """Run proximal solver class ``cls`` (its elastic net in ``options``) from theta0."""
    solver = cls(jnp.asarray(tol, objective.dtype), max_iter, **options)
    return proximal_result(solver, objective, minimise(solver, objective, theta0))


def prox_newton_solve(
    objective: Any,
    theta0: Array,
    *,
    alpha: Any,
    l1_ratio: Any = 1.0,
    penalty_factor: Any = None,
    tol: Any = 1e-10,
    max_iter: int = 100,
    hessian: Any = None,
    refresh: Any = 0.0,
    start: Any = None,
    secant: bool = False,
    refresh_after: int = 0,
) -> ProxNewtonResult:
    """Minimise mean_c loss + alpha sum_j f_j (r |w_j| + (1 - r)/2 w_j^2) on raw w.

    Args:
      objective: an ``InMemoryObjective`` (or a streamed one); theta in its
        standardised coordinates. Its own penalty is ignored (``unpenalised()``).
      theta0: the start (p,), e.g. the previous solution along a path (warm start).
      alpha, l1_ratio: the penalty strength >= 0 and r in [0, 1] (traced scalars).
      penalty_factor: per-feature f_j >= 0, (d,) (None: ones); 0 leaves w_j free.
      tol: the largest KKT violation allowed (standardised features).
      max_iter: outer iterations (static).
      hessian, refresh, refresh_after, start, secant: the model's Hessian reuse, the
        evaluation at theta0 and the secant updates (:class:`ProxNewton`; in memory).

    Returns:
      :class:`ProxNewtonResult`; pure, so ``jax.jit``/``jax.vmap``/``lax.scan`` apply.

    >>> import numpy as np, jax.numpy as jnp
    >>> from jaxlogloss.model.objective import Problem
    >>> from jaxlogloss.model.objectives import InMemoryObjective
    >>> from jaxlogloss.model.scaling import feature_scaling
    >>> X = jnp.asarray(np.random.default_rng(0).normal(size=(50, 3)), jnp.float32)
    >>> y = (X[:, 0] > 0).astype(jnp.float32)
    >>> obj = InMemoryObjective(Problem(X, y), feature_scaling(X), penalty="none")
    >>> res = prox_newton_solve(obj, jnp.zeros(4), alpha=0.05, tol=1e-5)
    >>> int(res.status), bool(res.theta[1] == 0)
    (1, True)
    """
    options = dict(
        alpha=alpha, l1_ratio=l1_ratio, penalty_factor=penalty_factor,
        hessian=hessian, refresh=refresh, start=start, secant=secant,
        refresh_after=refresh_after,
    )  # fmt: skip
    return solve_with(ProxNewton, objective, theta0, tol, max_iter, options)
