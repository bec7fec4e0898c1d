"""Many training runs in one compiled call: ``jax.vmap`` over whole runs.

:func:`sweep` trains one run for every combination of the axes

* ``learning_rates`` (first-order optimizers; through ``optax.inject_hyperparams`` so
  the rate is part of each run's optimizer state),
* ``l2s`` (penalty strengths),
* ``seeds`` (each seeds the run's initial point, ``init_scale * N(0, 1)``, and its
  minibatch order),
* ``inits`` (explicit initial points stacked on axis 0),

and stacks the results. First-order runs execute the very chunk function of
:func:`jaxlogloss.training.train` under ``jax.vmap`` (so a sweep equals the same runs one
by one); ``"newton"`` and ``"lbfgs"`` vmap the solvers' ``lax.while_loop`` (the loop runs
until every run has stopped). The data are shared, not copied per run: ``X @ W`` for K
runs is one (n, d) x (d, K) product.

When the runs' working memory (about 6 arrays of n numbers per run) would exceed
``memory_budget`` bytes, the runs are processed in groups of equal size, each group one
call of the same compiled program.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.fitting.train import TRAIN_STATUSES, chunk, initial_state, objective_std
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.objective import Problem, prepare_problem
from jaxlogloss.model.objectives import InMemoryObjective, ravel
from jaxlogloss.model.params import LinearParams, init_params
from jaxlogloss.model.scaling import (
    Scaling,
    feature_moments,
    identity_scaling,
    scaling_from_moments,
    to_raw,
    to_standardized,
)
from jaxlogloss.solvers import base as cv
from jaxlogloss.solvers.base import minimise
from jaxlogloss.solvers.first_order import DEFAULT_LEARNING_RATE, OPTIMIZERS
from jaxlogloss.solvers.registry import SOLVER_CLASSES, make_solver

Array = jax.Array
SOLVER_LOOPS = tuple(SOLVER_CLASSES)


@dataclass(frozen=True)
class SweepResult:
    """Stacked results of K runs; ``settings[name][k]`` is run k's value of an axis.

    ``loss_history[k]`` holds run k's full-data objective at the start and after every
    chunk (first-order; a stopped run repeats its final value) or every iteration
    (solvers; NaN after the run stopped).
    """

    settings: dict[str, np.ndarray]
    params: LinearParams
    final_loss: np.ndarray
    grad_norm: np.ndarray
    status: np.ndarray
    n_steps: np.ndarray
    loss_history: np.ndarray

    @property
    def n_runs(self) -> int:
        return len(self.final_loss)


def _with_lr(opt_state: Any, lr: Array) -> Any:
    hyper = dict(opt_state.hyperparams)
    hyper["learning_rate"] = jnp.asarray(lr, hyper["learning_rate"].dtype)
    return opt_state._replace(hyperparams=hyper)


@functools.partial(
    jax.jit, static_argnames=("max_iter", "solver", "loss", "block_size")
)
def _solver_runs(
    params_std: LinearParams,
    problem: Problem,
    scaling: Any,
    tol: Array,
    max_iter: int,
    solver: str,
    loss: str,
    block_size: int = 8192,
) -> tuple[Any, ...]:
    """Newton or L-BFGS runs in one vmapped call (the solvers of ``fit``)."""
    axes = Problem(None, None, None, 0)
    scaling_axes = Scaling(None, 0)  # the feature means are shared by every run
    method = make_solver(solver, tol, max_iter)

    def run(p: LinearParams, pr: Problem, s: Scaling) -> tuple[Any, ...]:
        obj = InMemoryObjective(pr, s, loss, "l2", None, block_size)
        it = minimise(method, obj, ravel(p)).iterate
        return (
            obj.raw_params(it.theta), it.status, it.n_iter, it.value,
            cv.inf_norm(it.grad), it.loss_history, it.grad_norm_history,
        )  # fmt: skip

    return jax.vmap(run, in_axes=(0, axes, scaling_axes))(params_std, problem, scaling)


def sweep(
    X: Any,
    y: Any,
    *,
    loss: str = "log_loss",
    solver: str = "adam",
    learning_rates: Sequence[float | None] = (None,),
    l2s: Sequence[float] = (0.0,),
    seeds: Sequence[int] = (0,),
    inits: LinearParams | None = None,
    init_scale: float = 0.0,
    n_classes: int = 2,
    steps: int = 1000,
    batch_size: int | None = None,
    tol: float | None = None,
    sample_weight: Any = None,
    standardize: bool = True,
    chunk_size: int = 100,
    optimizer_options: dict[str, Any] | None = None,
    memory_budget: float = 2**30,
) -> SweepResult:
    """Train every combination of the axes in vmapped, compiled calls.

    Args:
      X, y, sample_weight, loss: the data and loss, as in :func:`jaxlogloss.training.train`.
      solver: a first-order optimizer name, or "newton" (log-loss only) / "lbfgs".
      learning_rates, l2s, seeds: the axes (their Cartesian product is swept).
      inits: optional stacked initial params (M, d) / (M,) -- another axis.
      init_scale: with ``inits=None``, run k starts at init_scale * N(0, 1) from its
        seed (0: all start at zero).
      steps: step budget (first-order) or max_iter (solvers).
      batch_size, tol, standardize, chunk_size, optimizer_options: as in ``train``.
      memory_budget: bytes of per-run working memory allowed at once.
    """
    fn = "sweep"
    if solver not in OPTIMIZERS and solver not in SOLVER_CLASSES:
        valid = ", ".join(
            [*SOLVER_CLASSES, *(o for o in OPTIMIZERS if o not in SOLVER_CLASSES)]
        )
        raise ValueError(f"{fn}: solver must be one of {valid}, got {solver!r}")
    spec = get_loss(loss, fn)
    if solver == "newton" and (spec.multiclass or not spec.convex):
        raise ValueError(
            f"{fn}: solver 'newton' needs a convex binary loss, got {loss!r}; use "
            "solver 'lbfgs'"
        )
    d = X.shape[1]
    template = init_params(d, n_classes, dtype=_float_dtype(X))
    params, X, targets, sw, _ = prepare_problem(
        fn, template, X, y, loss=loss, sample_weight=sample_weight
    )
    dtype = targets.dtype
    n = X.shape[0]
    for name, axis in [
        ("learning_rates", learning_rates),
        ("l2s", l2s),
        ("seeds", seeds),
    ]:
        if len(axis) == 0:
            raise ValueError(f"{fn}: {name} must not be empty")
    for l2 in l2s:
        if not (isinstance(l2, int | float) and 0 <= l2 < math.inf):
            raise ValueError(f"{fn}: every l2 must be a finite number >= 0, got {l2!r}")
    lrs = [
        DEFAULT_LEARNING_RATE.get(solver) if lr is None else lr for lr in learning_rates
    ]
    for lr in lrs:
        if solver not in SOLVER_CLASSES and not (
            isinstance(lr, int | float) and 0 < lr < math.inf
        ):
            raise ValueError(
                f"{fn}: every learning rate must be a number > 0, got {lr!r}"
            )
    n_inits = 1 if inits is None else int(inits.w.shape[0])
    grid = list(
        itertools.product(range(len(lrs)), range(len(l2s)), seeds, range(n_inits))
    )
    settings = {
        "learning_rate": np.array(
            [np.nan if lrs[i] is None else lrs[i] for i, *_ in grid]
        ),
        "l2": np.array([l2s[j] for _, j, _, _ in grid], np.float64),
        "seed": np.array([s for _, _, s, _ in grid]),
        "init": np.array([m for *_, m in grid]),
    }
    k = len(grid)
    keys = jax.vmap(jax.random.key)(jnp.asarray(settings["seed"], jnp.uint32))
    if inits is None:
        noise = jax.vmap(
            lambda key: jax.tree.map(
                lambda leaf: init_scale * jax.random.normal(key, leaf.shape, dtype),
                params,
            )
        )(keys)
        starts = noise
    else:
        idx = jnp.asarray(settings["init"])
        starts = jax.tree.map(lambda leaf: jnp.asarray(leaf, dtype)[idx], inits)
    l2_runs = jnp.asarray(settings["l2"], dtype)
    if standardize:
        # the moments once; each run's scale sqrt(var + 4 l2) from them
        mean, var = jax.jit(feature_moments)(X, sw)
        scaling = jax.vmap(scaling_from_moments, in_axes=(None, None, 0))(
            mean, var, l2_runs
        )
    else:
        one = identity_scaling(d, dtype)
        scaling = jax.tree.map(lambda x: jnp.broadcast_to(x, (k, *x.shape)), one)
    starts = jax.vmap(to_standardized)(starts, scaling)
    group = _group_size(n, k, jnp.dtype(dtype).itemsize, memory_budget, batch_size)
    parts = []
    for lo in range(0, k, group):
        sl = slice(lo, min(lo + group, k))
        pad = group - (sl.stop - sl.start)  # equal-size groups: one compiled program
        take = functools.partial(_take, sl=sl, pad=pad)
        part_problem = Problem(X, targets, sw, take(l2_runs))
        part = (
            jax.tree.map(take, starts),
            part_problem,
            jax.tree.map(take, scaling),
            take(jax.random.key_data(keys)),
            take(jnp.asarray(settings["learning_rate"], dtype)),
        )
        if solver in SOLVER_CLASSES:
            out = _run_solvers(part, solver, loss, steps, tol, dtype)
        else:
            out = _run_first_order(
                part, solver, loss, steps, tol, dtype, batch_size, chunk_size,
                optimizer_options or {}, n,
            )  # fmt: skip
        size = sl.stop - sl.start
        parts.append(jax.tree.map(functools.partial(_first_rows, size=size), out))
    params_out, status, n_steps, final_loss, grad_norm, history = jax.tree.map(
        lambda *xs: np.concatenate(xs), *parts
    )
    return SweepResult(
        settings=settings,
        params=params_out,
        final_loss=final_loss,
        grad_norm=grad_norm,
        status=status,
        n_steps=n_steps,
        loss_history=history,
    )


def _float_dtype(X: Any) -> Any:
    dt = X.xt.dtype if hasattr(X, "xt") else np.asarray(X[:0]).dtype
    return dt if jnp.issubdtype(dt, jnp.floating) else jnp.float32


def _take(x: Array, sl: slice, pad: int) -> Array:
    return _pad(x[sl], pad)


def _first_rows(x: Any, size: int) -> np.ndarray:
    return np.asarray(x)[:size]


def _pad(x: Array, pad: int) -> Array:
    if pad == 0:
        return x
    return jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)])


def _group_size(
    n: int, k: int, itemsize: int, budget: float, batch_size: int | None
) -> int:
    per_run = 6 * n * itemsize
    if batch_size is not None:
        per_run += 2 * n * 4  # the run's permutation and its gathers
    return max(1, min(k, int(budget // per_run)))


def _run_solvers(
    part: tuple[Any, ...],
    solver: str,
    loss: str,
    steps: int,
    tol: float | None,
    dtype: Any,
) -> tuple[Any, ...]:
    starts, problem, scaling, _, _ = part
    scaling = Scaling(scaling.mean[0], scaling.scale)  # equal for every run
    tol = cv.DEFAULT_TOL[str(jnp.dtype(dtype))] if tol is None else tol
    tol_arr = jnp.asarray(tol, dtype)
    # the Hessians' blocks hold runs x d x block numbers: keep them in cache (~8 MB)
    runs, d = scaling.scale.shape
    block = int(max(256, min(8192, 2**20 // max(1, runs * d))))
    params, status, k, f, gn, hist_f, _ = _solver_runs(
        starts, problem, scaling, tol_arr, steps, solver, loss, block
    )
    names = np.array(cv.STATUSES)[np.asarray(status)]
    return (
        params,
        names,
        np.asarray(k),
        np.asarray(f),
        np.asarray(gn),
        np.asarray(hist_f),
    )


def _run_first_order(
    part: tuple[Any, ...],
    solver: str,
    loss: str,
    steps: int,
    tol: float | None,
    dtype: Any,
    batch_size: int | None,
    chunk_size: int,
    options: dict[str, Any],
    n: int,
) -> tuple[Any, ...]:
    starts, problem, scaling, keys, lrs = part
    import optax

    opt = optax.inject_hyperparams(OPTIMIZERS[solver])(learning_rate=1.0, **options)
    states = jax.vmap(lambda p, key, lr: _set_lr(initial_state(p, opt, key, n), lr))(
        starts, keys, lrs
    )
    static = dict(
        optimizer=opt,
        loss=loss,
        chunk_size=chunk_size,
        batch_size=batch_size,
        metrics=(),
    )
    axes = Problem(None, None, None, 0)
    run = jax.jit(
        jax.vmap(functools.partial(chunk, **static), in_axes=(0, axes, 0, None, None))
    )
    total = jnp.int32(steps)
    tol_arr = jnp.asarray(-1.0 if tol is None else tol, dtype)
    evaluate = jax.jit(
        jax.vmap(
            lambda p, pr, s: _loss_and_grad_norm(p, pr, s, loss), in_axes=(0, axes, 0)
        )
    )
    f0, g0 = evaluate(states.params, problem, scaling)
    history, grad_norm = [np.asarray(f0)], np.asarray(g0)
    running = True
    while running:
        states, _, summary = run(states, problem, scaling, total, tol_arr)
        f = np.asarray(summary["loss"])
        grad_norm = np.asarray(summary["grad_norm"])
        status = np.asarray(states.status)
        done = np.asarray(states.step) >= steps
        history.append(f)
        running = bool(np.any((status == 0) & ~done))
        if batch_size is not None and tol is not None:
            converged = (status == 0) & (grad_norm <= tol)
            states = states._replace(status=jnp.where(converged, 1, states.status))
    status = np.asarray(states.status)
    status = np.where(status == 0, 2, status)
    names = np.array(TRAIN_STATUSES)[status]
    params = jax.vmap(to_raw)(states.params, scaling)
    return (
        params, names, np.asarray(states.step), history[-1], grad_norm,
        np.stack(history, axis=1),
    )  # fmt: skip


def _set_lr(state: Any, lr: Array) -> Any:
    return state._replace(opt_state=_with_lr(state.opt_state, lr))


def _loss_and_grad_norm(
    params_std: LinearParams, problem: Problem, scaling: Any, loss: str
) -> tuple[Array, Array]:
    value, grad = jax.value_and_grad(objective_std)(params_std, problem, scaling, loss)
    return value, cv.inf_norm(grad)
