"""The training loop: optax optimizers, compiled once, run in host-side chunks.

:func:`train` runs ``steps`` optimizer steps of the penalised weighted mean loss. The
steps run inside ``lax.scan`` in chunks of ``chunk_size`` (one compiled program for every
chunk, the last one included: steps past the budget are masked no-ops). Between chunks,
on the host, it

* records the full-data loss, the gradient's inf-norm and the chosen metrics
  (``history``) and hands them to a writer (JSONL, progress bar, ...);
* stops on a non-finite loss (status ``diverged``; the parameters are the last finite
  ones and the history so far is kept) or when the stopping rule holds (``converged``);
* writes a checkpoint, from which an interrupted run resumes exactly.

Full batch (``batch_size=None``): every step uses all data, and the stopping rule
||grad||_inf <= tol is checked at every step. Minibatch: each epoch visits the examples
in a fresh random order drawn from the PRNG key (``n // batch_size`` batches, the last
partial batch dropped), and the rule is checked on the full gradient between chunks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.fitting import checkpoint as ckpt
from jaxlogloss.fitting.writers import MultiWriter, NullWriter, ProgressWriter, Writer
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.metrics import BINARY_METRICS
from jaxlogloss.model.objective import Problem, objective, prepare_problem
from jaxlogloss.model.params import LinearParams, linear_logits
from jaxlogloss.model.scaling import (
    Scaling,
    feature_scaling,
    identity_scaling,
    to_raw,
    to_standardized,
)
from jaxlogloss.parallel import mesh as dist
from jaxlogloss.solvers import base as cv
from jaxlogloss.solvers.first_order import first_order_update, make_optimizer

if TYPE_CHECKING:
    import optax

Array = jax.Array

# the statuses a training run can end with (the solvers' words and codes)
TRAIN_STATUSES = cv.STATUSES[: cv.DIVERGED + 1]
_RUNNING, _CONVERGED, _MAX_STEPS, _DIVERGED = (
    cv.RUNNING, cv.CONVERGED, cv.MAX_ITER, cv.DIVERGED,
)  # fmt: skip


class TrainState(NamedTuple):
    """Everything a chunk carries: a pytree, saved whole in checkpoints."""

    params: LinearParams
    opt_state: Any
    key: Array  # raw key data (jax.random.key_data)
    perm: Array
    step: Array
    status: Array


class TrainResult(NamedTuple):
    """Final params, why training stopped, steps taken, and the per-chunk history.

    ``history`` maps "step", "loss" (full data), "grad_norm" (inf-norm, full data) and
    each metric name to a 1-D array with one entry per recorded chunk (entry 0 is the
    starting point). ``step_losses`` holds the loss of every step (the batch loss for
    minibatches).
    """

    params: LinearParams
    status: str
    n_steps: int
    history: dict[str, np.ndarray]
    step_losses: np.ndarray

    @property
    def converged(self) -> bool:
        return self.status == "converged"


def epoch_permutation(key_data: Array, epoch: Array, n: int) -> Array:
    """The order in which epoch ``epoch`` visits the n examples (from raw key data)."""
    key = jax.random.fold_in(jax.random.wrap_key_data(key_data), epoch)
    return jax.random.permutation(key, n)


def _batch(problem: Problem, idx: Array) -> Problem:
    X = problem.X
    Xb = FeatureMajor(X.xt[:, idx]) if isinstance(X, FeatureMajor) else X[idx]
    sw = None if problem.sample_weight is None else problem.sample_weight[idx]
    return Problem(Xb, problem.targets[idx], sw, problem.l2)


def objective_std(
    params_std: LinearParams, problem: Problem, scaling: Scaling, loss: str
) -> Array:
    """The penalised mean loss at parameters on standardised features."""
    return objective(to_raw(params_std, scaling), *problem, loss)


def _evaluate(
    params_std: LinearParams,
    problem: Problem,
    scaling: Scaling,
    loss: str,
    metrics: tuple[str, ...],
) -> dict[str, Array]:
    value, grad = jax.value_and_grad(objective_std)(params_std, problem, scaling, loss)
    out = {"loss": value, "grad_norm": cv.inf_norm(grad)}
    if metrics:
        z = linear_logits(to_raw(params_std, scaling), problem.X)
        y, sw = problem.targets, problem.sample_weight
        if get_loss(loss).multiclass:
            labels = jnp.argmax(y, axis=-1)
            hit = (jnp.argmax(z, axis=-1) == labels).astype(z.dtype)
            c = jnp.ones_like(hit) if sw is None else sw
            scores = {"accuracy": jnp.sum(c * hit) / jnp.sum(c)}
            out.update({name: scores[name] for name in metrics})
        else:
            p = jax.nn.sigmoid(z)
            out.update({name: BINARY_METRICS[name](y, p, sw) for name in metrics})
    return out


def chunk(
    state: TrainState,
    problem: Problem,
    scaling: Scaling,
    total_steps: Array,
    tol: Array,
    *,
    optimizer: optax.GradientTransformationExtraArgs,
    loss: str,
    chunk_size: int,
    batch_size: int | None,
    metrics: tuple[str, ...],
    rows: Array | None = None,
) -> tuple[TrainState, tuple[Array, Array], dict[str, Array]]:
    """``chunk_size`` optimizer steps in ``lax.scan`` (no checks), then a summary.

    Pure: ``jax.jit`` it for one run, ``jax.jit(jax.vmap(...))`` for a sweep. Steps past
    ``total_steps`` or after the run stopped are masked no-ops. Returns the new state,
    (per-step loss, per-step active flag) and the full-data summary at the end.
    ``rows``: positions of the true examples in a padded, sharded problem
    (:func:`jaxlogloss.distributed.shard_problem`); minibatches draw from them.
    """
    n = problem.targets.shape[0] if rows is None else rows.shape[0]
    full_batch = batch_size is None
    per_epoch = 1 if full_batch else n // batch_size

    def step_fn(state: TrainState, _: Any) -> tuple[TrainState, Array]:
        active = (state.status == _RUNNING) & (state.step < total_steps)
        if full_batch:
            data, perm = problem, state.perm
        else:
            pos = state.step % per_epoch
            perm = jax.lax.cond(
                pos == 0,
                lambda: epoch_permutation(state.key, state.step // per_epoch, n),
                lambda: state.perm,
            )
            idx = jax.lax.dynamic_slice(perm, (pos * batch_size,), (batch_size,))
            data = _batch(problem, idx if rows is None else rows[idx])

        def f(p: LinearParams) -> Array:
            return objective_std(p, data, scaling, loss)

        new_params, opt_state, value, grads = first_order_update(
            state.params, state.opt_state, f, optimizer
        )
        finite = jnp.isfinite(value) & jnp.isfinite(cv.inf_norm(new_params))
        converged = full_batch & (cv.inf_norm(grads) <= tol)
        take = active & finite & ~converged

        def pick(new: Any, old: Any) -> Any:
            return jax.tree.map(lambda a, b: jnp.where(take, a, b), new, old)

        status = jnp.where(
            active,
            jnp.select([~finite, converged], [_DIVERGED, _CONVERGED], _RUNNING),
            state.status,
        )
        new_state = TrainState(
            params=pick(new_params, state.params),
            opt_state=pick(opt_state, state.opt_state),
            key=state.key,
            perm=perm,
            step=state.step + take.astype(state.step.dtype),
            status=status,
        )
        return new_state, (value, active)

    state, (values, active) = jax.lax.scan(step_fn, state, None, length=chunk_size)
    summary = _evaluate(state.params, problem, scaling, loss, metrics)
    return state, (values, active), summary


CHUNK_STATIC = ("optimizer", "loss", "chunk_size", "batch_size", "metrics")
_run_chunk = jax.jit(chunk, static_argnames=CHUNK_STATIC)


def initial_state(
    params: LinearParams, optimizer: optax.GradientTransformation, key: Array, n: int
) -> TrainState:
    """The state before step 0 (``key``: raw key data or a typed key)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(
            key
        )  # raw uint32 data: checkpoints store plain arrays
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        key=key,
        perm=jnp.arange(n, dtype=jnp.int32),
        step=jnp.int32(0),
        status=jnp.int32(_RUNNING),
    )


def _freeze(options: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((options or {}).items()))


def _named_optimizer(
    name: str,
    learning_rate: float | None,
    schedule: str | None,
    schedule_options: dict[str, Any] | None,
    options: dict[str, Any] | None,
) -> optax.GradientTransformationExtraArgs:
    """The optimizer for these settings, the same object for the same settings, so a
    second ``train`` call reuses the compiled chunk (the optimizer is a static argument)."""
    try:
        return _optimizer_cache(
            name, learning_rate, schedule, _freeze(schedule_options), _freeze(options)
        )
    except TypeError:  # unhashable option values: build a fresh one
        return make_optimizer(
            name, learning_rate, schedule=schedule,
            schedule_options=schedule_options, **(options or {}),
        )  # fmt: skip


@functools.lru_cache(maxsize=64)
def _optimizer_cache(
    name: str,
    learning_rate: float | None,
    schedule: str | None,
    schedule_options: tuple[tuple[str, Any], ...],
    options: tuple[tuple[str, Any], ...],
) -> optax.GradientTransformationExtraArgs:
    return make_optimizer(
        name, learning_rate, schedule=schedule,
        schedule_options=dict(schedule_options), **dict(options),
    )  # fmt: skip


def _fingerprint(**settings: Any) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def train(
    params: Any,
    X: Any,
    y: Any,
    *,
    loss: str = "log_loss",
    optimizer: str | optax.GradientTransformation = "adam",
    learning_rate: float | None = None,
    optimizer_options: dict[str, Any] | None = None,
    schedule: str | None = None,
    schedule_options: dict[str, Any] | None = None,
    steps: int = 1000,
    batch_size: int | None = None,
    tol: float | None = None,
    sample_weight: Any = None,
    l2: float = 0.0,
    key: Array | None = None,
    standardize: bool = False,
    chunk_size: int = 100,
    metrics: Sequence[str] = (),
    writer: Writer | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    soft_labels: bool = False,
    mesh: Mesh | None = None,
    process_local: bool = False,
) -> TrainResult:
    """Train the linear model with an optax optimizer (see the module docstring).

    Args:
      params: initial LinearParams; X, y, sample_weight, l2, loss, soft_labels: as in
        :func:`jaxlogloss.linear_loss` (X may be a FeatureMajor view).
      optimizer: a name from :data:`jaxlogloss.optimizers.OPTIMIZERS` or an optax
        transformation; learning_rate, optimizer_options, schedule, schedule_options are
        passed to :func:`jaxlogloss.optimizers.make_optimizer` with a name.
      steps: the step budget (>= 1). batch_size: None for full batch, else 1..n.
      tol: stop when ||grad||_inf <= tol (None: run the whole budget).
      key: PRNG key for the minibatch order (default ``jax.random.key(0)``).
      standardize: optimise over parameters on standardised features (see
        :mod:`jaxlogloss.scaling`; no copy of X) and map the result back; the
        gradient norm of the stopping rule is then taken in those coordinates.
      chunk_size: steps per compiled chunk; history, writer and checkpoint act between.
      metrics: names recorded per chunk: "log_loss", "accuracy", "roc_auc", "brier",
        "ece" (softmax: "accuracy").
      writer: receives ``write_scalars(step, history row)`` per chunk.
      progress: also show a rich progress bar (steps done, time left, latest loss).
      checkpoint: a file path; written atomically after every chunk and, when it
        exists for the same settings, resumed from. With several processes only
        process 0 writes and reads it, and hands the resumed state to the others.
      mesh: split the rows over the "data" axis of this mesh, parameters replicated
        (:mod:`jaxlogloss.distributed`); the result equals the one-device run to
        rounding, minibatches included (the same examples in the same order).
      process_local: with a mesh over several processes, X, y and sample_weight hold
        only this process's rows (in process order); training is over all of them.

    Returns:
      a :class:`TrainResult`.
    """
    fn = "train"
    params, X, targets, sw, l2 = prepare_problem(
        fn, params, X, y, loss=loss, sample_weight=sample_weight, l2=l2,
        soft_labels=soft_labels,
    )  # fmt: skip
    n = X.shape[0]
    mesh = dist.check_mesh(fn, mesh)
    _check_int(fn, "steps", steps, 1)
    _check_int(fn, "chunk_size", chunk_size, 1)
    if batch_size is not None:
        _check_int(fn, "batch_size", batch_size, 1)
        if batch_size > n:
            raise ValueError(
                f"{fn}: batch_size must be at most n = {n}, got {batch_size}"
            )
    if tol is not None and not (isinstance(tol, int | float) and tol >= 0):
        raise ValueError(f"{fn}: tol must be a number >= 0 or None, got {tol!r}")
    metrics = tuple(metrics)
    allowed = ("accuracy",) if get_loss(loss).multiclass else tuple(BINARY_METRICS)
    for name in metrics:
        if name not in allowed:
            raise ValueError(
                f"{fn}: unknown metric {name!r} for loss {loss!r}; expected one of "
                f"{', '.join(allowed)}"
            )
    if isinstance(optimizer, str):
        opt_name = optimizer
        opt = _named_optimizer(
            optimizer, learning_rate, schedule, schedule_options, optimizer_options
        )
    else:
        import optax

        opt_name, opt = repr(optimizer), optimizer
        if not isinstance(opt, optax.GradientTransformationExtraArgs):
            opt = optax.with_extra_args_support(opt)
    key = jax.random.key(0) if key is None else key
    problem = Problem(X, targets, sw, l2)
    rows = None
    if mesh is not None:
        problem, rows, n = dist.shard_problem(
            problem, mesh, process_local=process_local
        )
        X, sw = problem.X, problem.sample_weight
    dtype = targets.dtype
    if standardize:
        scaling = jax.jit(feature_scaling)(X, sw, l2)
    else:
        scaling = identity_scaling(X.shape[1], dtype)
    params = to_standardized(params, scaling)
    state = initial_state(params, opt, key, n)
    stats0 = jax.jit(_evaluate, static_argnames=("loss", "metrics"))(
        params, problem, scaling, loss=loss, metrics=metrics
    )
    history: dict[str, list[float]] = {"step": [0]}
    history.update({k: [float(v)] for k, v in stats0.items()})
    step_losses: list[np.ndarray] = []
    meta = dict(
        fingerprint=_fingerprint(
            optimizer=opt_name, learning_rate=learning_rate,
            options=optimizer_options, schedule=schedule,
            schedule_options=schedule_options, steps=steps, batch_size=batch_size,
            tol=tol, l2=float(l2), loss=loss, chunk_size=chunk_size, n=n,
            d=X.shape[1], metrics=metrics, dtype=str(dtype), standardize=standardize,
        ),
    )  # fmt: skip
    if checkpoint is not None and mesh is not None and jax.process_count() > 1:
        # process 0 decides and hands its checkpoint's state to every process, so all
        # resume at the same step (no shared file system needed); the history before
        # the resumed step is process 0's alone
        found = dist.broadcast_from_writer(np.bool_(os.path.exists(checkpoint)))
        if bool(found):
            if dist.is_writer():
                state, history, step_losses = _resume(fn, checkpoint, state, meta)
            state = jax.tree.map(jnp.asarray, dist.broadcast_from_writer(state))
    elif checkpoint is not None and os.path.exists(checkpoint):
        state, history, step_losses = _resume(fn, checkpoint, state, meta)
    writer = writer or NullWriter()
    if progress:
        writer = MultiWriter([writer, ProgressWriter(steps, f"{opt_name} {loss}")])
    total = jnp.int32(steps)
    tol_arr = jnp.asarray(-1.0 if tol is None else tol, dtype)
    try:
        while int(state.status) == _RUNNING and int(state.step) < steps:
            state, (values, active), stats = _run_chunk(
                state, problem, scaling, total, tol_arr, optimizer=opt, loss=loss,
                chunk_size=chunk_size, batch_size=batch_size, metrics=metrics,
                rows=rows,
            )  # fmt: skip
            step_losses.append(dist.to_host(values)[dist.to_host(active)])
            row = {k: float(v) for k, v in stats.items()}
            history["step"].append(int(state.step))
            for k, v in row.items():
                history[k].append(v)
            writer.write_scalars(int(state.step), row)
            if not np.isfinite(row["loss"]):
                state = state._replace(status=jnp.int32(_DIVERGED))
            elif batch_size is not None and tol is not None and row["grad_norm"] <= tol:
                state = state._replace(status=jnp.int32(_CONVERGED))
            if checkpoint is not None:  # process 0 alone writes (checkpoint.py)
                ckpt.save(checkpoint, (state, history, step_losses), meta)
    finally:
        writer.close()
    status = int(state.status)
    if status == _RUNNING:
        status = _MAX_STEPS
    params = to_raw(state.params, scaling)
    if mesh is not None:  # replicated over the mesh: hand back ordinary arrays
        params = jax.tree.map(lambda a: jnp.asarray(dist.to_host(a)), params)
    return TrainResult(
        params=params,
        status=TRAIN_STATUSES[status],
        n_steps=int(state.step),
        history={k: np.asarray(v) for k, v in history.items()},
        step_losses=np.concatenate(step_losses) if step_losses else np.zeros(0, dtype),
    )


def _resume(
    fn: str, path: Any, template: TrainState, meta: dict[str, Any]
) -> tuple[TrainState, dict[str, list[float]], list[np.ndarray]]:
    (state, history, step_losses), saved = ckpt.load(path)
    if saved.get("fingerprint") != meta["fingerprint"]:
        raise ValueError(
            f"{fn}: checkpoint {str(path)!r} belongs to a run with other settings; "
            "delete it or use another path"
        )
    leaves, treedef = jax.tree.flatten(template)
    loaded = jax.tree.leaves(state)
    state = jax.tree.unflatten(
        treedef,
        [jnp.asarray(x, dtype=t.dtype) for x, t in zip(loaded, leaves, strict=True)],
    )
    return state, history, list(step_losses)


def _check_int(fn: str, name: str, value: Any, low: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < low
    ):
        raise ValueError(f"{fn}: {name} must be an integer >= {low}, got {value!r}")
