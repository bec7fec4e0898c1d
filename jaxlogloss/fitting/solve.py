"""One compiled solver run on an in-memory problem, by solver name.

``solve("newton", problem, scaling, params_std, tol, max_iter)`` builds the in-memory
objective (:class:`jaxlogloss.model.objectives.InMemoryObjective`) and runs
:func:`jaxlogloss.solvers.base.minimise` under ``jit``: what the experiment runner calls.
:func:`run_solver` is ``fit``'s run on any objective kind, by solver name: Newton and
L-BFGS in memory on one device driven from the host around one compiled evaluation
(:mod:`jaxlogloss.fitting.host_loop`: a first call compiles in a fraction of the time),
compiled whole on a mesh or for other solvers, a host loop on a stream, optax's
first-order steps, or a proximal solver (:mod:`jaxlogloss.fitting.penalised`) for L1 /
elastic net.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.fitting.host_loop import minimise_host, use_host_loop
from jaxlogloss.fitting.penalised import PenaltySpec, run_proximal
from jaxlogloss.fitting.stream_steps import first_order_passes
from jaxlogloss.fitting.train import train
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import InMemoryObjective, ravel
from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.scaling import Scaling, to_raw, to_standardized
from jaxlogloss.model.streamed import StreamedObjective
from jaxlogloss.model.zero_point import ZeroPoint
from jaxlogloss.parallel import mesh as dist
from jaxlogloss.solvers.base import STATUSES, SolverResult, minimise, solver_result
from jaxlogloss.solvers.registry import SOLVER_CLASSES, make_solver


@jax.jit
def minimise_compiled(
    solver: Any, objective: InMemoryObjective, theta: jax.Array
) -> Any:
    """:func:`~jaxlogloss.solvers.base.minimise` compiled (solver and objective are
    pytrees: tolerance, data, penalty and scaling are traced, the rest static)."""
    return minimise(solver, objective, theta)


class EndPoint(NamedTuple):
    """What a solver's final state holds at its theta (None: nothing)."""

    hessian: Any = None  # the objective's Hessian (Newton on a stream)
    aux: Any = None  # the logits an in-memory evaluation kept


class Outcome(NamedTuple):
    """A run's final theta, status, iterations, value, ||g||_inf (the KKT violation
    for a proximal solver), value history, :class:`EndPoint`, and the raw-scale KKT
    violation (None but for a proximal solver)."""

    theta: Any
    status: str
    n_iter: int
    value: float
    grad_norm: float
    history: np.ndarray
    kept: EndPoint
    kkt: float | None = None


def run_solver(
    objective: Any, solver: str, tol: float, max_iter: int, learning_rate: Any,
    mesh: Any, local: Problem | None, process_local: bool,
    penalty: PenaltySpec | None = None, start: np.ndarray | None = None,
    at_zero: ZeroPoint | None = None,
) -> Outcome:  # fmt: skip
    """Run ``solver`` on ``objective`` from ``start`` (theta on standardised
    features; None: 0) (``penalty``: the elastic net a proximal solver adds to the
    penalty-free objective; ``at_zero``: the objective at theta = 0 where the scaling's
    pass gave it, a host loop's first point from 0)."""
    if penalty is not None:
        run = run_proximal(
            objective, solver, penalty, tol, max_iter, dist.to_host, start
        )
        return Outcome(
            run.theta, run.status, run.n_iter, run.value, run.violation, run.history,
            EndPoint(run.hessian, run.aux), run.kkt,
        )  # fmt: skip
    p = objective.n_features + 1
    if start is None:
        start = np.zeros((p,), objective.dtype)
    theta0 = jax.device_put(np.asarray(start, objective.dtype))  # no XLA program
    if solver in SOLVER_CLASSES:
        tol_arr = jax.device_put(np.asarray(tol, objective.dtype))  # no XLA program
        method = make_solver(solver, tol_arr, max_iter)
        in_memory = isinstance(objective, InMemoryObjective)
        run = minimise_compiled if in_memory else minimise
        if use_host_loop(objective, method):  # one compiled evaluation, a host loop
            state = minimise_host(method, objective, start, at_zero)
        else:
            state = run(method, objective, theta0)
        it = jax.tree.map(dist.to_host, state.iterate)
        k = int(it.n_iter)
        # what the final state holds at theta: Newton's Hessian on a stream, the
        # logits in memory (the inference Hessian then needs no pass to form them)
        kept = EndPoint(getattr(state, "hessian", None), getattr(state, "aux", None))
        return Outcome(
            it.theta, STATUSES[int(it.status)], k, float(it.value),
            float(np.max(np.abs(it.grad))), np.asarray(it.loss_history)[: k + 1], kept,
        )  # fmt: skip
    if isinstance(objective, StreamedObjective):
        out = first_order_passes(
            objective, theta0, tol, max_iter, solver, learning_rate
        )
        return Outcome(*out, EndPoint())
    problem = objective.problem if mesh is None else local
    # train takes raw parameters (it standardises them itself): mapped on the host
    host_scaling = Scaling(*(dist.to_host(a) for a in objective.scaling))
    params0 = to_raw(LinearParams(start[:-1], start[-1]), host_scaling)
    result = train(
        params0, problem.X, problem.targets, sample_weight=problem.sample_weight,
        l2=problem.l2, optimizer=solver, learning_rate=learning_rate, steps=max_iter,
        tol=tol, standardize=True, chunk_size=min(max_iter, 500), mesh=mesh,
        process_local=process_local,
    )  # fmt: skip
    hist = result.history
    theta = ravel(to_standardized(result.params, objective.scaling))
    return Outcome(
        dist.to_host(theta), result.status, result.n_steps, float(hist["loss"][-1]),
        float(hist["grad_norm"][-1]), result.step_losses, EndPoint(),
    )  # fmt: skip


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


def start_theta(fn: str, init: Any, objective: Any) -> np.ndarray | None:
    """``init`` = (coef, intercept) on the raw features as the solver's theta on
    standardised ones, theta_w = s w, theta_b = b + m . w (None: start from 0)."""
    if init is None:
        return None
    d = objective.n_features
    if not isinstance(init, tuple | list) or len(init) != 2:
        raise TypeError(f"{fn}: init must be a (coef, intercept) pair, got {init!r}")
    coef = np.asarray(init[0], np.float64)
    intercept = np.asarray(init[1], np.float64)
    if coef.shape != (d,) or intercept.shape != ():
        raise ValueError(
            f"{fn}: init must be (coef of shape ({d},), a scalar intercept), got "
            f"shapes {coef.shape} and {intercept.shape}"
        )
    if not (np.isfinite(coef).all() and np.isfinite(intercept)):
        raise ValueError(f"{fn}: init must be finite")
    host = Scaling(*(np.asarray(a, np.float64) for a in objective.scaling))
    std = to_standardized(LinearParams(coef, intercept), host)  # NumPy: no program
    return np.append(std.w, std.b).astype(objective.dtype)
