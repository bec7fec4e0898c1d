"""What every solver shares: the objective it consumes, its state, one stopping rule,
one loop, and the result.

A solver (optimistix's ``init/step/terminate``, jaxopt's ``init_state/update``) is a
frozen dataclass of hyperparameters with

* ``init(objective, theta) -> state`` and ``step(objective, state) -> state``,
  where ``state`` is a NamedTuple whose field ``iterate`` is an :class:`Iterate`;

and :func:`minimise` runs it: ``objective.while_loop`` while the status is
``RUNNING`` and fewer than ``max_iter`` steps were taken. The same solver code thus runs
compiled in ``lax.while_loop`` on an in-memory (or sharded) objective, under ``vmap``
in sweeps, and as a host loop over passes of a stream.

The objective (:mod:`jaxlogloss.model.objectives`, :mod:`jaxlogloss.model.streamed`)
is anything with ``evaluate(theta, order) -> Evaluation``, ``hessian(theta, aux)``,
``while_loop(cond, body, state)`` and ``derivatives_with_value``.

Statuses (:class:`Status`, the one stopping rule :func:`advance`):

* ``converged``  -- ||grad||_inf <= tol, the gradient of the (penalised, weighted-mean)
  objective over parameters on *standardised* features (tol means the same whatever
  the units of X);
* ``max_iter``   -- the iteration (or step) budget ran out first;
* ``diverged``   -- the value or the gradient became non-finite; the last finite
  iterate is kept;
* ``separation`` -- every example of positive weight is classified right with a positive
  margin and nothing is penalised: a certificate that the loss has no minimiser.
  :func:`jaxlogloss.solvers.separation.quasi_separation_direction` certifies
  quasi-complete separation after a fit;
* ``stalled``    -- a step decreased neither the value nor the gradient norm below the
  largest of the last :data:`PROGRESS_WINDOW` iterates' (a non-monotone rule, as
  Grippo, Lampariello and Lucidi's line search: at the rounding floor of the value a
  quasi-Newton step may raise ||grad|| for a step or two on its way down), or the line
  search found no decrease: flat to rounding (tol below what the dtype resolves).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.model.objectives import Evaluation
from jaxlogloss.model.params import LinearParams

Array = jax.Array


class Status(enum.IntEnum):
    """Why a solver stopped (RUNNING while it has not)."""

    RUNNING = 0
    CONVERGED = 1
    MAX_ITER = 2
    DIVERGED = 3
    SEPARATION = 4
    STALLED = 5

    @property
    def label(self) -> str:
        """The word used in results and JSON: "converged", "max_iter", ..."""
        return self.name.lower()


STATUSES = tuple(s.label for s in Status)
RUNNING, CONVERGED, MAX_ITER, DIVERGED, SEPARATION, STALLED = Status

# default stopping tolerances on ||grad||_inf (standardised features) by dtype: what
# each precision can resolve for a mean loss of order 1
DEFAULT_TOL = {"float64": 1e-10, "float32": 1e-5}
# paths and cross-validation (every point of a grid; the CV refit keeps DEFAULT_TOL):
# a largest KKT violation of 1e-8 leaves each point's objective within about
# kkt^2 / (2 curvature), ~1e-13, of its optimum; scikit-learn's lbfgs (tol 1e-4 on an
# objective 1/alpha times ours) and glmnet (thresh 1e-7) stop far earlier
DEFAULT_PATH_TOL = {"float64": 1e-8, "float32": 1e-5}


class Objective(Protocol):
    """What solvers consume (see the module docstring)."""

    derivatives_with_value: bool

    def evaluate(self, theta: Any, order: int = 1) -> Evaluation: ...

    def hessian(self, theta: Any, aux: Any = None) -> Any: ...

    def while_loop(self, cond: Any, body: Any, state: Any) -> Any: ...


class Iterate(NamedTuple):
    """The part of every solver's state that the stopping rule reads."""

    theta: Array
    value: Array
    grad: Array
    status: Array
    n_iter: Array
    loss_history: Array  # value per iteration, index 0 = the start; NaN after the end
    grad_norm_history: Array


class SolverResult(NamedTuple):
    """A solver's answer.

    Attributes:
      params: the final parameters on the raw (user's) features.
      status: one of :data:`STATUSES` (never "running").
      n_iter: iterations taken.
      loss: the objective at ``params``.
      grad_norm: ||grad||_inf on standardised features at ``params``.
      loss_history, grad_norm_history: per iteration, index 0 = the start (length
        n_iter + 1).
    """

    params: LinearParams
    status: str
    n_iter: int
    loss: float
    grad_norm: float
    loss_history: np.ndarray
    grad_norm_history: np.ndarray

    @property
    def converged(self) -> bool:
        return self.status == "converged"


def static_field(default: Any) -> Any:
    """A dataclass field that is static under jit (a solver's integer settings)."""
    return dataclasses.field(default=default, metadata={"static": True})


def inf_norm(tree: Any) -> Array:
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree.leaves(tree)]))


def record(history: Array, k: Array, value: Array) -> Array:
    return jax.lax.dynamic_update_index_in_dim(history, value, k, 0)


@jax.jit
def where_tree(take: Array, new: Any, old: Any) -> Any:
    """``new`` where ``take`` else ``old``, leaf by leaf."""
    return jax.tree.map(lambda a, b: jnp.where(take, a, b), new, old)


# The small pure pieces below are jitted: inlined under an outer jit (a compiled run),
# and one small program each when a host loop drives a solver (a stream, or
# jaxlogloss.fitting.host_loop) instead of many eager ops, each compiled on first use.
@functools.partial(jax.jit, static_argnums=3)
def start(theta: Array, ev: Evaluation, tol: Any, max_iter: int) -> Iterate:
    """The iterate at the starting point (converged or diverged already, or running)."""
    gn = inf_norm(ev.grad)
    dtype = ev.value.dtype
    finite = jnp.isfinite(ev.value) & jnp.isfinite(gn)
    status = jnp.where(gn <= tol, CONVERGED, RUNNING)
    status = jnp.where(finite, status, DIVERGED).astype(jnp.int32)
    empty = jnp.full((max_iter + 1,), jnp.nan, dtype)
    return Iterate(
        theta, ev.value, ev.grad, status, jnp.int32(0),
        record(empty, 0, ev.value), record(empty, 0, gn),
    )  # fmt: skip


PROGRESS_WINDOW = 5  # iterates whose largest gradient norm a step must go below


def recent_grad_norm(it: Iterate) -> Array:
    """The largest ||grad||_inf of the last :data:`PROGRESS_WINDOW` iterates (the
    current one included) from the iterate's history."""
    hist = it.grad_norm_history
    idx = jnp.arange(hist.shape[0])
    recent = (idx <= it.n_iter) & (idx > it.n_iter - PROGRESS_WINDOW)
    return jnp.max(jnp.where(recent, hist, -jnp.inf))


@jax.jit
def advance(
    it: Iterate, theta: Array, ev: Evaluation, tol: Any, accepted: Array
) -> tuple[Iterate, Array]:
    """The one stopping rule: the next iterate from a step's evaluation at ``theta``.

    Returns the iterate and whether the step was kept (finite and accepted); a step
    that is not kept leaves the previous point in place.
    """
    gn = inf_norm(ev.grad)
    finite = jnp.isfinite(ev.value) & jnp.isfinite(gn)
    progress = (ev.value < it.value) | (gn < recent_grad_norm(it))
    status = jnp.select(
        [~finite, gn <= tol, ev.separated, ~accepted | ~progress],
        [DIVERGED, CONVERGED, SEPARATION, STALLED],
        RUNNING,
    ).astype(jnp.int32)
    keep = finite & accepted
    theta, value, grad = where_tree(keep, (theta, ev.value, ev.grad), it[:3])
    k = it.n_iter + 1
    nxt = Iterate(
        theta, value, grad, status, k,
        record(it.loss_history, k, value), record(it.grad_norm_history, k, inf_norm(grad)),
    )  # fmt: skip
    return nxt, keep


def minimise(solver: Any, objective: Objective, theta: Any) -> Any:
    """Run ``solver`` on ``objective`` from ``theta``; the final state (status never
    RUNNING: a run still going when the budget ends is MAX_ITER)."""

    def cond(state: Any) -> Array:
        return running(state.iterate, solver.max_iter)

    def body(state: Any) -> Any:
        return solver.step(objective, state)

    state = objective.while_loop(cond, body, solver.init(objective, theta))
    return state._replace(iterate=finished(state.iterate))


@functools.partial(jax.jit, static_argnums=1)
def running(it: Iterate, max_iter: int) -> Array:
    """Whether a run goes on: status RUNNING and fewer than ``max_iter`` steps."""
    return (it.status == RUNNING) & (it.n_iter < max_iter)


@jax.jit
def finished(it: Iterate) -> Iterate:
    """The iterate at the end of a run: still RUNNING means the budget ran out."""
    return it._replace(status=jnp.where(it.status == RUNNING, MAX_ITER, it.status))


def solver_result(objective: Any, iterate: Iterate) -> SolverResult:
    """An iterate (on the host) as a :class:`SolverResult` (raw parameters)."""
    k = int(iterate.n_iter)
    return SolverResult(
        params=objective.raw_params(iterate.theta),
        status=STATUSES[int(iterate.status)],
        n_iter=k,
        loss=float(iterate.value),
        grad_norm=float(inf_norm(iterate.grad)),
        loss_history=np.asarray(iterate.loss_history)[: k + 1],
        grad_norm_history=np.asarray(iterate.grad_norm_history)[: k + 1],
    )
