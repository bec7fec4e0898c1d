"""Fit from data larger than memory: the solvers fed batch by batch from a stream.

:func:`fit_stream` fits the same model as :func:`jaxlogloss.fit` (same objective, same
standardised coordinates, same stopping rule, same inference), reading the rows from a
:class:`jaxlogloss.stream.TableStream` (CSV/Parquet file or folder, batches prefetched
by a background thread). Memory is bounded by the batch, not the data:

* ``"newton"``: every pass accumulates the loss, the gradient and the Hessian sums
  sum_i c_i l''(z_i) x~_i x~_i^T (d+1 floats and a (d+1)^2 matrix) over the batches;
  one pass per iteration when the full Newton step is taken (each halving of the step
  costs one more pass).
* ``"lbfgs"``: optax's L-BFGS direction (``scale_by_lbfgs``) with a backtracking
  Armijo line search; a pass accumulates the loss and the gradient.
* first-order optimizers (``"sgd"``, ``"adam"``, ...): one optimizer step per batch of
  ``batch_rows`` rows in stream order, epochs until ``max_iter`` steps; the full
  gradient is measured by one more pass after every epoch (history and stopping rule).

A first pass computes the feature means and scales (the standardisation) in float64.
Each batch is padded to ``batch_rows`` rows with zero weight, so every pass runs one
compiled program. With several processes (``row_range`` from
:func:`jaxlogloss.distributed.process_row_range`), each process streams its own rows
and the per-pass sums are added across processes (Newton and L-BFGS only).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.fitting.fit import (
    DEFAULT_FIRST_ORDER_STEPS,
    DEFAULT_MAX_ITER,
    FitResult,
    signed_score_range,
)
from jaxlogloss.fitting.fit import _check_number as check_number
from jaxlogloss.fitting.inference import coefficient_inference
from jaxlogloss.losses.pointwise import logit_log_loss_pointwise
from jaxlogloss.model.objective import Problem, l2_penalty, objective
from jaxlogloss.model.params import LinearParams, linear_logits
from jaxlogloss.model.scaling import Scaling, to_raw
from jaxlogloss.parallel import mesh as dist
from jaxlogloss.precision import enable_x64
from jaxlogloss.solvers import base as cv
from jaxlogloss.solvers.first_order import OPTIMIZERS, make_optimizer
from jaxlogloss.solvers.newton import hessian_sums

STREAM_SOLVERS = ("newton", "lbfgs", *(n for n in OPTIMIZERS if n != "lbfgs"))
MAX_HALVINGS = 40


class PassSums(NamedTuple):
    """What one pass over the rows adds up (float64, on the host)."""

    weight: float  # sum c
    loss: float  # sum c l
    grad: np.ndarray  # d/d[w', b'] of sum c l, (d + 1,)
    hessian: np.ndarray | None  # (d + 1, d + 1) or None
    min_margin: float  # least (2y - 1) z over rows of positive weight


def _padded(batch: Any, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xt, y, c) of a batch, padded with zero-weight rows to ``rows`` columns."""
    xt, y = batch.xt, batch.y
    c = np.ones_like(y) if batch.sample_weight is None else batch.sample_weight
    missing = rows - y.shape[0]
    if missing:
        xt = np.pad(xt, ((0, 0), (0, missing)))
        y, c = np.pad(y, (0, missing)), np.pad(c, (0, missing))
    return xt, y, c


def _flat(params: LinearParams) -> np.ndarray:
    return np.r_[np.asarray(params.w, np.float64), np.float64(params.b)]


def _unflat(v: np.ndarray, dtype: Any) -> LinearParams:
    return LinearParams(jnp.asarray(v[:-1], dtype), jnp.asarray(v[-1], dtype))


@functools.partial(jax.jit, static_argnames="hessian")
def _batch_sums(
    params_std: LinearParams,
    xt: jax.Array,
    y: jax.Array,
    c: jax.Array,
    scaling: Scaling,
    hessian: bool,
) -> tuple[jax.Array, ...]:
    def summed(p: LinearParams) -> tuple[jax.Array, jax.Array]:
        z = linear_logits(to_raw(p, scaling), FeatureMajor(xt))
        return jnp.sum(c * logit_log_loss_pointwise(y, z)), z

    (loss, z), grad = jax.value_and_grad(summed, has_aux=True)(params_std)
    g = jnp.concatenate([grad.w, grad.b[None]])
    margin = jnp.min(jnp.where(c > 0, (2 * y - 1) * z, jnp.inf))
    h = (
        hessian_sums(FeatureMajor(xt), y, c, scaling, z)
        if hessian
        else jnp.zeros((0, 0), y.dtype)
    )
    return jnp.sum(c), loss, g, h, margin


class _Source:
    """The rows this process streams: padded batches of a fixed size."""

    def __init__(self, stream: Any, start: int, stop: int, rows: int) -> None:
        self.stream, self.start, self.stop, self.rows = stream, start, stop, rows
        self.passes = 0

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        self.passes += 1
        for batch in self.stream.batches(self.start, self.stop, batch_rows=self.rows):
            yield _padded(batch, self.rows)


def _scaling_pass(source: _Source, l2: float, dtype: Any) -> Scaling:
    """Weighted means and scales sqrt(var + 4 l2), as feature_scaling, in one pass.

    Float64 sums of x - shift and its square (shift: the first batch's mean), turned
    into this process's (weight, mean, sum of squared deviations) and combined over the
    processes with the parallel-variance formula (Chan et al.), no cancellation.
    """
    shift = None
    s0 = 0.0
    s1 = s2 = None
    for xt, _, c in source.batches():
        xt = np.asarray(xt, np.float64)
        if shift is None:
            w = c.sum()
            shift = (xt @ c) / w if w > 0 else np.zeros(xt.shape[0])
            s1 = np.zeros_like(shift)
            s2 = np.zeros_like(shift)
        centred = xt - shift[:, None]
        s0 += float(c.sum())
        s1 += centred @ c
        s2 += np.square(centred) @ c
    d = len(shift)
    if s0 > 0:
        mean_p = shift + s1 / s0
        m2_p = np.maximum(s2 - np.square(s1) / s0, 0.0)
    else:
        mean_p, m2_p = np.zeros(d), np.zeros(d)
    parts = dist.gather_rows(np.r_[s0, mean_p, m2_p])
    weights, means, m2s = parts[:, 0], parts[:, 1 : d + 1], parts[:, d + 1 :]
    total = weights.sum()
    mean = weights @ means / total
    m2 = m2s.sum(axis=0) + weights @ np.square(means - mean)
    var = m2 / total
    scale = np.sqrt(var + 4 * l2)
    tiny = np.finfo(dtype).eps * np.maximum(1.0, np.abs(mean))
    scale = np.where(scale > tiny, scale, 1.0)
    return Scaling(jnp.asarray(mean, dtype), jnp.asarray(scale, dtype))


def _pass(
    source: _Source, params_std: LinearParams, scaling: Scaling, hessian: bool
) -> PassSums:
    d1 = params_std.w.shape[0] + 1
    weight = loss = 0.0
    grad = np.zeros(d1)
    hess = np.zeros((d1, d1)) if hessian else None
    margin = np.inf
    for xt, y, c in source.batches():
        w_b, l_b, g_b, h_b, m_b = _batch_sums(params_std, xt, y, c, scaling, hessian)
        weight += float(w_b)
        loss += float(l_b)
        grad += np.asarray(g_b, np.float64)
        if hessian:
            hess += np.asarray(h_b, np.float64)
        margin = min(margin, float(m_b))
    flat = np.r_[weight, loss, grad, hess.ravel() if hessian else []]
    flat = dist.gather_rows(flat).sum(axis=0)
    margin = float(dist.gather_rows(np.r_[margin]).min())
    weight, loss, grad = flat[0], flat[1], flat[2 : 2 + d1]
    hess = flat[2 + d1 :].reshape(d1, d1) if hessian else None
    return PassSums(weight, loss, grad, hess, margin)


@functools.partial(jax.jit, static_argnames="hessian")
def _penalty(
    flat: jax.Array, scaling: Scaling, l2: jax.Array, hessian: bool
) -> tuple[jax.Array, ...]:
    """l2_penalty of the raw weights over [w', b']: value, gradient (and Hessian)."""

    def pen(v: jax.Array) -> jax.Array:
        return l2_penalty(to_raw(LinearParams(v[:-1], v[-1]), scaling), l2)

    value, grad = jax.value_and_grad(pen)(flat)
    return value, grad, (jax.hessian(pen)(flat) if hessian else grad[:0])


class _Objective:
    """f(p) = sum c l / sum c + (l2/2)||w||^2 and its derivatives from a pass."""

    def __init__(self, source: _Source, scaling: Scaling, l2: float, dtype: Any):
        self.source, self.scaling, self.l2, self.dtype = source, scaling, l2, dtype

    def __call__(
        self, flat: np.ndarray, hessian: bool = False
    ) -> tuple[float, np.ndarray, np.ndarray | None, PassSums]:
        sums = _pass(self.source, _unflat(flat, self.dtype), self.scaling, hessian)
        pen_f, pen_g, pen_h = (
            np.asarray(x, np.float64)
            for x in _penalty(
                jnp.asarray(flat, self.dtype), self.scaling,
                jnp.asarray(self.l2, self.dtype), hessian,
            )
        )  # fmt: skip
        f = sums.loss / sums.weight + float(pen_f)
        g = sums.grad / sums.weight + pen_g
        h = sums.hessian / sums.weight + pen_h if hessian else None
        return f, g, h, sums


class _Descent(NamedTuple):
    """Where a solver stopped, with the last pass's numbers (h: None without one)."""

    flat: np.ndarray
    status: str
    n_iter: int
    history: list[float]
    f: float
    g: np.ndarray
    h: np.ndarray | None
    sums: PassSums


def _descend(
    obj: _Objective,
    flat: np.ndarray,
    tol: float,
    max_iter: int,
    direction: Callable[[np.ndarray, np.ndarray, Any], np.ndarray | None],
    hessian: bool,
) -> _Descent:
    """Line-search descent over passes: at each iterate ``direction(flat, g, h)``
    (None: no usable direction), then step halving until Armijo holds (with a few ulps
    of slack at the rounding floor); one pass per trial point."""
    f, g, h, sums = obj(flat, hessian)
    history = [f]
    eps = np.finfo(obj.dtype).eps
    status, k = _status(f, g, sums, 0.0, tol, True), 0
    while status == "running" and k < max_iter:
        k += 1
        step = direction(flat, g, h)
        slope = np.nan if step is None else float(g @ step)  # nan < 0 is False
        accepted = False
        for i in range(MAX_HALVINGS if slope < 0 else 0):
            t = 0.5**i
            f_new, g_new, h_new, sums_new = obj(flat + t * step, hessian)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * t * slope + 4 * eps * abs(f):
                accepted = True
                break
        if not accepted:
            status = "stalled"
            break
        progress = f_new < f or np.max(np.abs(g_new)) < np.max(np.abs(g))
        flat, f, g, h, sums = flat + t * step, f_new, g_new, h_new, sums_new
        history.append(f)
        status = _status(f, g, sums, obj.l2, tol, progress)
    if status == "running":
        status = "max_iter"
    return _Descent(flat, status, k, history, f, g, h, sums)


def _newton(obj: _Objective, flat: np.ndarray, tol: float, max_iter: int) -> _Descent:
    eps = np.finfo(obj.dtype).eps

    def direction(flat: np.ndarray, g: np.ndarray, h: np.ndarray) -> np.ndarray | None:
        damped = h + 10 * eps * np.max(np.diag(h)) * np.eye(len(g))
        try:
            return -np.linalg.solve(damped, g)
        except np.linalg.LinAlgError:
            return None

    return _descend(obj, flat, tol, max_iter, direction, hessian=True)


def _status(
    f: float, g: np.ndarray, sums: PassSums, l2: float, tol: float, progress: bool
) -> str:
    if not (np.isfinite(f) and np.all(np.isfinite(g))):
        return "diverged"
    if np.max(np.abs(g)) <= tol:
        return "converged"
    if l2 == 0 and sums.min_margin > 0:
        return "separation"
    if not progress:
        return "stalled"
    return "running"


@functools.lru_cache(maxsize=4)
def _lbfgs_direction(memory_size: int) -> Any:
    """optax's L-BFGS two-loop direction -H g (no line search), update compiled."""
    opt = optax.chain(optax.scale_by_lbfgs(memory_size=memory_size), optax.scale(-1.0))
    return optax.GradientTransformation(opt.init, jax.jit(opt.update))


def _lbfgs(
    obj: _Objective, flat: np.ndarray, tol: float, max_iter: int, memory_size: int = 10
) -> _Descent:
    opt = _lbfgs_direction(memory_size)
    with enable_x64(True):
        state = [opt.init(jnp.asarray(flat, jnp.float64))]

    def direction(flat: np.ndarray, g: np.ndarray, _: Any) -> np.ndarray:
        with enable_x64(True):
            p = jnp.asarray(flat, jnp.float64)
            step, state[0] = opt.update(jnp.asarray(g, jnp.float64), state[0], p)
            step = np.asarray(step, np.float64)
            if not float(g @ step) < 0:  # not a descent direction: restart
                state[0] = opt.init(p)
                step = -g
        return step

    return _descend(obj, flat, tol, max_iter, direction, hessian=False)


@functools.partial(jax.jit, static_argnames="optimizer")
def _first_order_step(
    params_std: LinearParams,
    opt_state: Any,
    xt: jax.Array,
    y: jax.Array,
    c: jax.Array,
    scaling: Scaling,
    l2: jax.Array,
    optimizer: Any,
) -> tuple[LinearParams, Any, jax.Array]:
    def f(p: LinearParams) -> jax.Array:  # the batch's weighted mean + the penalty
        return objective(to_raw(p, scaling), FeatureMajor(xt), y, c, l2)

    value, grads = jax.value_and_grad(f)(params_std)
    updates, opt_state = optimizer.update(grads, opt_state, params_std)
    return optax.apply_updates(params_std, updates), opt_state, value


def _first_order(
    obj: _Objective,
    flat: np.ndarray,
    tol: float,
    max_iter: int,
    solver: str,
    learning_rate: float | None,
) -> _Descent:
    optimizer = make_optimizer(solver, learning_rate)
    dtype = obj.dtype
    params = _unflat(flat, dtype)
    opt_state = optimizer.init(params)
    l2 = jnp.asarray(obj.l2, dtype)
    f, g, _, sums = obj(flat)
    history: list[float] = []
    status = _status(f, g, sums, 0.0, tol, True)
    k = 0
    while status == "running" and k < max_iter:
        for xt, y, c in obj.source.batches():
            if k >= max_iter:
                break
            params, opt_state, value = _first_order_step(
                params, opt_state, xt, y, c, obj.scaling, l2, optimizer
            )
            history.append(float(value))
            k += 1
        flat = _flat(params)
        f, g, _, sums = obj(flat)
        status = _status(f, g, sums, 0.0, tol, True)
    if status == "running":
        status = "max_steps"
    return _Descent(flat, status, k, history, f, g, None, sums)


def fit_stream(
    stream: Any,
    *,
    solver: str = "newton",
    l2: float = 0.0,
    max_iter: int | None = None,
    tol: float | None = None,
    learning_rate: float | None = None,
    confidence: float = 0.95,
    batch_rows: int | None = None,
    row_range: tuple[int, int] | None = None,
    log: Callable[[str], None] | None = None,
) -> FitResult:
    """Fit a binary logistic regression from a :class:`~jaxlogloss.stream.TableStream`.

    Args:
      stream: from :func:`jaxlogloss.stream.open_stream` (its dtype is the fit's).
      solver, l2, max_iter, tol, learning_rate, confidence: as in
        :func:`jaxlogloss.fit` (first-order solvers: max_iter counts optimizer steps,
        one per batch).
      batch_rows: rows per batch (default: the stream's); bounds the memory.
      row_range: the rows [start, stop) this process reads when several processes
        share the fit (each must pass its own; the sums are added across them).
      log: called with one line per pass summary (e.g. ``print``), or None.

    Returns:
      a :class:`jaxlogloss.FitResult` (``loss_history``: the objective per iteration;
      per step for first-order solvers).
    """
    fn = "fit_stream"
    if solver not in STREAM_SOLVERS:
        raise ValueError(
            f"{fn}: solver must be one of {', '.join(STREAM_SOLVERS)}, got {solver!r}"
        )
    dtype = np.dtype(stream.dtype)
    l2 = check_number(fn, "l2", l2, 0.0, strict=False)
    tol = (
        cv.DEFAULT_TOL[dtype.name]
        if tol is None
        else check_number(fn, "tol", tol, 0, True)
    )
    if not 0 < confidence < 1:
        raise ValueError(f"{fn}: confidence must be in (0, 1), got {confidence!r}")
    if max_iter is None:
        max_iter = DEFAULT_MAX_ITER.get(solver, DEFAULT_FIRST_ORDER_STEPS)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"{fn}: max_iter must be an integer >= 1, got {max_iter!r}")
    rows = stream.batch_rows if batch_rows is None else batch_rows
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"{fn}: batch_rows must be an integer >= 1, got {rows!r}")
    start, stop = (0, stream.n_samples) if row_range is None else row_range
    if not 0 <= start <= stop <= stream.n_samples:
        raise ValueError(
            f"{fn}: row_range must satisfy 0 <= start <= stop <= {stream.n_samples}, "
            f"got {row_range!r}"
        )
    if jax.process_count() > 1 and solver not in ("newton", "lbfgs"):
        raise ValueError(
            f"{fn}: with several processes stream with solver newton or lbfgs, got "
            f"{solver!r} (a first-order step would need an all-reduce per batch)"
        )
    source = _Source(stream, start, stop, rows)
    with enable_x64(dtype == np.float64):
        began = time.perf_counter()
        scaling = _scaling_pass(source, l2, dtype)
        obj = _Objective(source, scaling, l2, dtype)
        flat0 = np.zeros(stream.n_features + 1)
        if solver == "newton":
            end = _newton(obj, flat0, tol, max_iter)
        elif solver == "lbfgs":
            end = _lbfgs(obj, flat0, tol, max_iter)
        else:
            end = _first_order(obj, flat0, tol, max_iter, solver, learning_rate)
        seconds = time.perf_counter() - began
        flat, status, k, hist, f, g, h, sums = end
        if h is None:  # Newton's last pass already holds the Hessian at the optimum
            f, g, h, sums = obj(flat, hessian=True)
        information = h * sums.weight
        if l2 == 0 and status != "separation":
            direction = cv.quasi_separation_direction(
                information, lambda v: _margin_range(source, v, scaling, dtype)
            )
            if direction is not None:
                status = "separation"
        params_std = _unflat(flat, dtype)
        params = to_raw(params_std, scaling)
        inference = coefficient_inference(
            params, information, scaling, tuple(stream.feature_names), confidence
        )
    if log is not None:
        log(
            f"{solver}: {source.passes} passes over {stop - start} rows in {seconds:.2f} s"
        )
    warnings = []
    if status != "converged":
        warnings.append(
            f"{solver} (streaming) stopped with status {status!r} before ||grad||_inf "
            "<= tol"
            + (
                "; the classes are (quasi-)separable, add an L2 penalty (--l2)"
                if status == "separation"
                else ""
            )
        )
    n_samples = int(dist.gather_rows(np.r_[stop - start]).sum())
    return FitResult(
        feature_names=tuple(stream.feature_names),
        intercept=float(params.b),
        coef=np.asarray(params.w, np.float64),
        inference=inference,
        log_loss=sums.loss / sums.weight,
        objective=f,
        n_iter=k,
        status=status,
        solver=solver,
        l2=l2,
        tol=float(tol),
        grad_norm=float(np.max(np.abs(g))),
        n_samples=n_samples,
        seconds=seconds,
        loss_history=np.asarray(hist),
        warnings=tuple(warnings),
    )


def _margin_range(
    source: _Source, v: np.ndarray, scaling: Scaling, dtype: Any
) -> tuple[float, float]:
    """Least and greatest signed score along v over every weighted row of the job."""
    direction = _unflat(v, dtype)
    low, high = np.inf, -np.inf
    for xt, y, c in source.batches():
        batch = Problem(FeatureMajor(xt), y, c, 0.0)
        lo, hi = signed_score_range(direction, batch, scaling)
        low, high = min(low, float(lo)), max(high, float(hi))
    ends = dist.gather_rows(np.r_[low, -high]).min(axis=0)
    return float(ends[0]), -float(ends[1])
