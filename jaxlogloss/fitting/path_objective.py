"""The smooth objective of a path: the penalty-free mean log-loss, with a cheap Hessian.

Paths and cross-validation (:mod:`jaxlogloss.fitting.path`, :mod:`jaxlogloss.fitting.cv`)
run proximal Newton on the weighted mean log-loss on one fixed scaling. Its Hessian
there is only the quadratic model's (the gradient, the line search and the KKT
stopping rule stay exact, in the problem's dtype), and the model already lags
the iterate by design (:class:`~jaxlogloss.solvers.prox_newton.ProxNewton`'s
``refresh``): so :class:`PathObjective` forms it from the centred rows rounded to
float32,

    H = sum_i c_i p_i (1 - p_i) [x~_i; 1][x~_i; 1]' / sum_i c_i,
    x~_i = (x_i - mean) / scale,

from a centred float32 copy of X (:func:`centred_float32`, half X's float64 bytes),
made once and kept by a path (:func:`centred_hessian`). A relative error of ~1e-7 in the
model changes no fixed point and no convergence rate that matters next to the lag;
CPU GEMMs in float32 ran 2-3x faster than in float64 (benchmarks/NOTES.md, issue 12
speed). Everything else is :class:`~jaxlogloss.model.objectives.InMemoryObjective`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import Evaluation, InMemoryObjective, least_margin
from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.scaling import Scaling

Array = jax.Array

REFRESH = 0.03  # a path's model Hessian is recomputed after a step that shrank KKT less


BLOCK_ROWS = 256  # rows of one block of the blocked centred copy


def blocked(d: int) -> bool:
    """Whether the centred copy of d features is kept in row blocks: for
    16 <= d + 1 <= 128 the batched block products ran 1.4-2.4x faster on this 2-core
    CPU; outside, the one flat product (blocks 3-7x slower above 128 rows)."""
    return 16 <= d + 1 <= 128


def centred_rows(xt: Array, scaling: Scaling, ones: bool = False) -> Array:
    """The (d, n) features centred and rounded to float32; with ``ones`` a last row
    of ones below them ((d + 1, n): the Gram of [x~; 1] holds the sums too)."""
    centred = (xt - scaling.mean[:, None].astype(xt.dtype)).astype(jnp.float32)
    if not ones:
        return centred
    return jnp.concatenate([centred, jnp.ones((1, xt.shape[1]), jnp.float32)])


def centred_float32(xt: Array, scaling: Scaling) -> Array:
    """The features centred and rounded to float32 (:func:`centred_rows`), made
    once and kept for the Hessians (:func:`centred_hessian`): (d, n) flat, or (when
    :func:`blocked`) (S, d + 1, B) blocks of B = :data:`BLOCK_ROWS` rows with the
    ones row, zero-padded to S B rows."""
    d, n = xt.shape
    if not blocked(d):
        return centred_rows(xt, scaling)
    n_blocks = -(-n // BLOCK_ROWS)
    rows = centred_rows(xt, scaling, ones=True)
    rows = jnp.pad(rows, ((0, 0), (0, n_blocks * BLOCK_ROWS - n)))
    return rows.reshape(d + 1, n_blocks, BLOCK_ROWS).transpose(1, 0, 2)


def centred_hessian(centred: Array, c: Array, z: Array, scaling: Scaling) -> Array:
    """The (d + 1, d + 1) Hessian over theta = [w', b'] of the weighted mean log-loss
    at logits z (module docstring) from the centred float32 features
    (:func:`centred_float32`): one (d, n) x (n, d) float32 product, or its blocks'
    products summed (5.5 ms at 100,000 x 50 against 12-13 ms flat)."""
    p = jax.nn.sigmoid(z)
    h = c * p * (1 - p)
    low = h.astype(jnp.float32)
    dtype = c.dtype
    if centred.ndim == 2:
        gram = ((centred * low) @ centred.T).astype(dtype)
        sums = (centred @ low).astype(dtype)
        return theta_hessian(gram, sums, jnp.sum(h), jnp.sum(c), scaling.scale)
    n_blocks, _, size = centred.shape
    low = jnp.pad(low, (0, n_blocks * size - low.shape[0])).reshape(n_blocks, size)
    return gram_hessian(block_gram(centred, low).astype(dtype), jnp.sum(c), scaling)


def block_gram(blocks: Array, low: Array) -> Array:
    """sum_s (B_s diag(l_s)) B_s' over the blocks (S, p, B) with weights (S, B):
    one batched float32 product."""
    dims = (((2,), (2,)), ((0,), (0,)))
    return jnp.sum(jax.lax.dot_general(blocks * low[:, None, :], blocks, dims), 0)


def gram_hessian(gram: Array, c_total: Array, scaling: Scaling) -> Array:
    """theta's Hessian from the (d + 1, d + 1) Gram of the rows [x~_i; 1] weighted
    by h_i (its corner blocks: G, S and sum h; :func:`theta_hessian`)."""
    d = gram.shape[0] - 1
    return theta_hessian(gram[:d, :d], gram[:d, d], gram[d, d], c_total, scaling.scale)


def theta_hessian(
    gram: Array, sums: Array, h_total: Array, c_total: Array, scale: Array
) -> Array:
    """The (d + 1, d + 1) Hessian over theta = [w', b'] from the centred sums
    G = sum_i h_i (x_i - m)(x_i - m)' and S = sum_i h_i (x_i - m):
    [[G / (s s'), S / s], [S' / s, sum h]] / sum c, symmetrised (float32 products
    are symmetric to rounding only)."""
    gram = gram / jnp.outer(scale, scale)
    sums = sums / scale
    top = jnp.concatenate([gram, sums[:, None]], axis=1)
    bottom = jnp.concatenate([sums, h_total[None]])[None, :]
    hess = jnp.concatenate([top, bottom], axis=0) / c_total
    return 0.5 * (hess + hess.T)


def loss_and_residual(
    z: Array, y: Array, c: Array, total: Array
) -> tuple[Array, Array]:
    """sum_i c_i (softplus(z_i) - y_i z_i) / total and r_i = c_i (sigmoid(z_i) - y_i)
    / total, from one exp(-|z|) a row (softplus(z) = max(z, 0) + log1p(e),
    sigmoid(z) = 1 / (1 + e) or e / (1 + e) by the sign of z: no overflow)."""
    e = jnp.exp(-jnp.abs(z))
    value = jnp.sum(c * (jnp.maximum(z, 0) + jnp.log1p(e) - y * z)) / total
    p = jnp.where(z >= 0, 1, e) / (1 + e)
    return value, c * (p - y) / total


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class PathObjective(InMemoryObjective):
    """The penalty-free binary log-loss on feature-major X with the float32-product
    model Hessian (module docstring; a float32 problem keeps its own Hessian), and
    value and gradient from one exp a row (:func:`loss_and_residual`) and the two
    products with X. ``centred``: the kept :func:`centred_float32` copy of X (None:
    each Hessian makes its own)."""

    centred: Any = None

    def evaluate(self, theta: Array, order: int = 1) -> Evaluation:
        if order != 1:
            return super().evaluate(theta, order)
        p = self.problem
        raw, back = jax.vjp(self.raw_params, theta)
        z = raw.w @ p.X.xt + raw.b
        c = p.sample_weight
        value, r = loss_and_residual(z, p.targets, c, jnp.sum(c))
        (grad,) = back(LinearParams(p.X.xt @ r, jnp.sum(r)))
        separated = least_margin(z, p.targets, c) > 0  # l2 is 0 here
        return Evaluation(value, grad, None, separated, z)

    def hessian(self, theta: Array, aux: Any = None) -> Array:
        p = self.problem
        if p.targets.dtype == jnp.float32:
            return super().hessian(theta, aux)
        z = self.logits(theta) if aux is None else aux
        centred = self.centred
        if centred is None:
            centred = centred_float32(p.X.xt, self.scaling)
        return centred_hessian(centred, p.sample_weight, z, self.scaling)


def penalty_free(
    problem: Problem, scaling: Scaling, centred: Array | None = None
) -> PathObjective:
    """The path's smooth objective: the weighted mean log-loss on fixed scaling
    (``problem``: feature-major X, sample weights given; ``centred``: see
    :class:`PathObjective`)."""
    if not isinstance(problem.X, FeatureMajor) or problem.sample_weight is None:
        raise TypeError("penalty_free: a feature-major X and sample weights expected")
    problem = problem._replace(l2=0.0)
    return PathObjective(problem, scaling, "log_loss", "none", centred=centred)
