"""The objective over a stream of record batches: data larger than memory.

The same f(theta) as :class:`jaxlogloss.model.objectives.InMemoryObjective` (same loss,
penalty, standardised coordinates), but each evaluation is one *pass*: the batches of a
:class:`jaxlogloss.data.stream.TableStream` are read in turn (prefetched by its thread)
and each adds its sums -- sum c, sum c l, the gradient of sum c l and, for a Hessian,
sum c l'' x~ x~^T -- in float64 on the host, so memory follows the batch, not the data.
Every batch is padded to ``batch_rows`` rows of weight 0: one compiled program a pass.

A pass costs a read of the data, so ``derivatives_with_value`` is True: solvers ask for
the gradient (and Hessian) with every trial value. Loops run on the host
(``while_loop`` is a Python loop). With several processes, each streams its own rows
and ``gather`` (stacking a vector from every process) adds the sums of the job.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.class_weight import per_class_weights
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import (
    Evaluation,
    curvature_sums,
    penalty_hessian,
    signed_score_range,
    unravel,
)
from jaxlogloss.model.params import LinearParams, linear_logits
from jaxlogloss.model.penalties import get_penalty
from jaxlogloss.model.scaling import Scaling, constant_floor, to_raw

Gather = Callable[[np.ndarray], np.ndarray]


def local_only(values: np.ndarray) -> np.ndarray:
    """The one-process ``gather``: this process's vector as the only row."""
    return np.asarray(values)[None]


def padded(
    batch: Any, rows: int, class_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xt, y, c) of a batch, padded with zero-weight rows to ``rows`` columns
    (``class_weight``: the weights (w_0, w_1) of labels 0 and 1, multiplied into c)."""
    xt, y = batch.xt, batch.y
    c = np.ones_like(y) if batch.sample_weight is None else batch.sample_weight
    if class_weight is not None:
        c = c * np.where(y == 1, class_weight[1], class_weight[0]).astype(y.dtype)
    missing = rows - y.shape[0]
    if missing:
        xt = np.pad(xt, ((0, 0), (0, missing)))
        y, c = np.pad(y, (0, missing)), np.pad(c, (0, missing))
    return xt, y, c


class BatchSource:
    """The rows [start, stop) of a stream as padded batches of ``rows`` rows."""

    def __init__(self, stream: Any, start: int, stop: int, rows: int) -> None:
        self.stream, self.start, self.stop, self.rows = stream, start, stop, rows
        self.passes = 0
        self.class_weight: tuple[float, float] | None = None  # of labels 0 and 1

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        self.passes += 1
        for batch in self.stream.batches(self.start, self.stop, batch_rows=self.rows):
            yield padded(batch, self.rows, self.class_weight)


def stream_class_weights(
    fn: str, source: BatchSource, class_weight: Any, gather: Gather = local_only
) -> tuple[float, float]:
    """The class weights (w_0, w_1) of a stream's 0/1 labels: one pass counting them
    (summed over the processes) for "balanced", none for a mapping."""
    counts = np.zeros(2)
    if isinstance(class_weight, str):
        src = source.stream.batches(source.start, source.stop, batch_rows=source.rows)
        for batch in src:
            ones = float(np.sum(batch.y == 1))
            counts += (batch.y.shape[0] - ones, ones)
        counts = gather(counts).sum(axis=0)
    else:
        counts += 1  # a mapping needs no counts
    present = [k for k in (0, 1) if counts[k] > 0]
    weights = per_class_weights(present, counts[present], class_weight, fn)
    out = dict(zip(present, weights.tolist(), strict=True))
    return out.get(0, 1.0), out.get(1, 1.0)


def stream_scaling(
    source: BatchSource, alpha: float, dtype: Any, gather: Gather = local_only
) -> Scaling:
    """Weighted means and scales sqrt(var + 4 alpha), as ``feature_scaling``, in one pass.

    Float64 sums of x - shift and its square (shift: the first batch's mean), turned
    into this process's (weight, mean, sum of squared deviations) and combined over the
    processes with the parallel-variance formula (Chan et al.), no cancellation.
    """
    shift = s1 = s2 = None
    s0 = 0.0
    for xt, _, c in source.batches():
        xt = np.asarray(xt, np.float64)
        if shift is None:
            w = c.sum()
            shift = (xt @ c) / w if w > 0 else np.zeros(xt.shape[0])
            s1, s2 = np.zeros_like(shift), np.zeros_like(shift)
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
    parts = gather(np.r_[s0, mean_p, m2_p])
    weights, means, m2s = parts[:, 0], parts[:, 1 : d + 1], parts[:, d + 1 :]
    total = weights.sum()
    mean = weights @ means / total
    m2 = m2s.sum(axis=0) + weights @ np.square(means - mean)
    scale = np.sqrt(m2 / total + 4 * alpha)
    scale = np.where(scale > constant_floor(mean, dtype), scale, 1.0)
    return Scaling(jnp.asarray(mean, dtype), jnp.asarray(scale, dtype))


@functools.partial(jax.jit, static_argnames=("order", "loss"))
def _batch_sums(
    theta: jax.Array,
    xt: jax.Array,
    y: jax.Array,
    c: jax.Array,
    scaling: Scaling,
    order: int,
    loss: str,
) -> tuple[jax.Array, ...]:
    spec = get_loss(loss)
    d = xt.shape[0]

    def summed(t: jax.Array) -> tuple[jax.Array, jax.Array]:
        z = linear_logits(to_raw(unravel(t, d, None), scaling), FeatureMajor(xt))
        return jnp.sum(c * spec.value(y, z)), z

    if order == 0:
        value, z = summed(theta)
        grad = jnp.zeros((0,), y.dtype)
    else:
        (value, z), grad = jax.value_and_grad(summed, has_aux=True)(theta)
    hess = (
        curvature_sums(FeatureMajor(xt), y, c, scaling, z, spec.curvature)
        if order >= 2
        else jnp.zeros((0,), y.dtype)
    )
    margin = jnp.min(jnp.where(c > 0, (2 * y - 1) * z, jnp.inf))
    return jnp.sum(c), value, grad, hess, margin


@functools.partial(jax.jit, static_argnames=("order", "penalty", "d"))
def _penalty_parts(
    theta: jax.Array,
    scaling: Scaling,
    alpha: jax.Array,
    order: int,
    penalty: str,
    d: int,
) -> tuple[jax.Array, ...]:
    def pen(t: jax.Array) -> jax.Array:
        return get_penalty(penalty).value(to_raw(unravel(t, d, None), scaling).w, alpha)

    value, grad = jax.value_and_grad(pen)(theta)
    hess = (
        penalty_hessian(theta, penalty, alpha, scaling, d, None)
        if order >= 2
        else grad[:0]
    )
    return value, grad, hess


class StreamedObjective:
    """f(theta) summed over passes of a :class:`BatchSource` (binary losses)."""

    derivatives_with_value = True

    def __init__(
        self,
        source: BatchSource,
        scaling: Scaling,
        alpha: float,
        dtype: Any,
        loss: str = "log_loss",
        penalty: str = "l2",
        gather: Gather = local_only,
    ) -> None:
        self.source, self.scaling, self.alpha = source, scaling, float(alpha)
        self.dtype, self.loss, self.penalty, self.gather = dtype, loss, penalty, gather
        self.n_features = int(scaling.mean.shape[0])
        self.n_classes = None
        self.weight = np.nan  # sum c over the job, known after the first pass

    def params_std(self, theta: Any) -> LinearParams:
        return unravel(jnp.asarray(theta, self.dtype), self.n_features, None)

    def unpenalised(self) -> StreamedObjective:
        """The objective with no penalty (itself when it has none): what a proximal
        solver adds its own penalty to."""
        if self.penalty == "none" and self.alpha == 0:
            return self
        return StreamedObjective(
            self.source, self.scaling, 0.0, self.dtype, self.loss, "none", self.gather
        )

    def raw_params(self, theta: Any) -> LinearParams:
        return to_raw(self.params_std(theta), self.scaling)

    def total_weight(self) -> float:
        return self.weight

    def evaluate(self, theta: Any, order: int = 1) -> Evaluation:
        theta = jnp.asarray(theta, self.dtype)
        p = theta.shape[0]
        weight = loss = 0.0
        grad = np.zeros(p if order >= 1 else 0)
        hess = np.zeros((p, p) if order >= 2 else (0,))
        margin = np.inf
        for xt, y, c in self.source.batches():
            w_b, l_b, g_b, h_b, m_b = _batch_sums(
                theta, xt, y, c, self.scaling, order, self.loss
            )
            weight += float(w_b)
            loss += float(l_b)
            grad += np.asarray(g_b, np.float64)
            hess += np.asarray(h_b, np.float64)
            margin = min(margin, float(m_b))
        flat = self.gather(np.r_[weight, loss, grad, hess.ravel()]).sum(axis=0)
        margin = float(self.gather(np.r_[margin]).min())
        weight, loss = flat[0], flat[1]
        self.weight = weight
        pen_v, pen_g, pen_h = (
            np.asarray(x, np.float64)
            for x in _penalty_parts(
                theta, self.scaling, jnp.asarray(self.alpha, self.dtype), order,
                self.penalty, self.n_features,
            )
        )  # fmt: skip
        value = loss / weight + float(pen_v)
        g = flat[2 : 2 + grad.size] / weight + pen_g if order >= 1 else None
        h = flat[2 + grad.size :].reshape(p, p) / weight + pen_h if order >= 2 else None
        separated = (self.alpha == 0) and margin > 0
        value, g, h = (
            None if a is None else jnp.asarray(a, self.dtype) for a in (value, g, h)
        )
        return Evaluation(value, g, h, jnp.bool_(separated))

    def hessian(self, theta: Any, aux: Any = None) -> jax.Array:
        return self.evaluate(theta, 2).hessian

    @staticmethod
    def while_loop(cond: Any, body: Any, state: Any) -> Any:
        while bool(cond(state)):
            state = body(state)
        return state

    def margin_range(self, direction: Any) -> tuple[float, float]:
        """Least and greatest signed score along v over every weighted row of the job."""
        v = self.params_std(direction)
        low, high = np.inf, -np.inf
        for xt, y, c in self.source.batches():
            batch = Problem(FeatureMajor(xt), y, c, 0.0)
            lo, hi = _score_range(v, batch, self.scaling)
            low, high = min(low, float(lo)), max(high, float(hi))
        ends = self.gather(np.r_[low, -high]).min(axis=0)
        return float(ends[0]), -float(ends[1])


_score_range = jax.jit(signed_score_range)
