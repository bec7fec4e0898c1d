"""The cross-validation runs' model Hessians from the folds' Grams.

Every run m of :mod:`jaxlogloss.fitting.cv_lockstep` (all rows, then each fold left
out) needs the Hessian of its weighted log-loss over theta = [w * scale, b + w.mean],

    H_m = sum_{k in m} Gram_k(h) / sum_{k in m} T_k,
    Gram_k(h) = sum_{i in fold k} c_i h_i [x~_i; 1][x~_i; 1]',  T_k = sum_{i in k} c_i,

(x~ the centred features, divided by the scale afterwards; h_i = p_i (1 - p_i) at
some logits). The folds' rows are gathered once, centred and rounded to float32
(:func:`fold_layout`); one pass of float32 block products over them gives every
fold's Gram at one set of logits (:func:`fold_grams`, :func:`curvature_grams`), and
the M runs' Hessians are sums of those (:func:`runs_from_grams`): exact for the start
with zero slopes (:func:`start_hessians`), exact for run 0 and close for the folds at
run 0's logits (:func:`shared_hessians`), and exact for a fold at its own logits
(:func:`own_hessians`, one Gram's work a run).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.fitting import path_objective
from jaxlogloss.model.scaling import Scaling

Array = jax.Array


@jax.jit
def fold_blocks(xt: Array, scaling: Scaling, rows: Array) -> Array:
    """Each fold's rows ``rows[k]`` (padded) of the features, centred and rounded to
    float32 with a last row of ones
    (:func:`~jaxlogloss.fitting.path_objective.centred_rows`): (folds, width // B, d + 1, B) blocks of B =
    :data:`~jaxlogloss.fitting.path_objective.BLOCK_ROWS` rows where the copy is
    :func:`~jaxlogloss.fitting.path_objective.blocked`, else (folds, 1, d + 1,
    width). Its own program: fused with the products of :func:`fold_grams`, XLA's
    layout made them 3x slower."""
    d = xt.shape[0]
    folds, width = rows.shape
    size = path_objective.BLOCK_ROWS if path_objective.blocked(d) else width
    rows_1 = path_objective.centred_rows(xt, scaling, ones=True)
    gathered = jnp.take(rows_1, rows.reshape(-1), axis=1)  # (d + 1, folds width)
    blocks = gathered.reshape(d + 1, folds, width // size, size)
    return blocks.transpose(1, 2, 0, 3)


@jax.jit
def fold_grams(blocks: Array, c: Array) -> Array:
    """(folds, d + 1, d + 1) each fold's Gram sum_{i in k} c_i [x~_i; 1][x~_i; 1]'
    (float32 products, :func:`~jaxlogloss.fitting.path_objective.block_gram`) from
    its blocks of :func:`fold_blocks` (``c`` 0 on the padding): all folds together
    one Gram's work."""
    low = c.astype(jnp.float32).reshape(blocks.shape[0], blocks.shape[1], -1)
    return jax.vmap(path_objective.block_gram)(blocks, low)


class FoldGrams(NamedTuple):
    """The folds' rows as float32 blocks (:func:`fold_blocks`), their indices and
    weights (``rows``, ``c``: (folds, width), padded to whole blocks with weight 0)."""

    blocks: Array
    rows: Array
    c: Array
    totals: np.ndarray


def fold_layout(
    xt: Array, rows: np.ndarray, c: np.ndarray, scaling: Scaling
) -> FoldGrams:
    """:class:`FoldGrams` of the folds' rows ``rows`` and weights ``c``
    (:func:`~jaxlogloss.fitting.cv_lockstep.held_out_rows`)."""
    if path_objective.blocked(xt.shape[0]):  # whole blocks: padding rows weigh 0
        pad = -rows.shape[1] % path_objective.BLOCK_ROWS
        rows, c = np.pad(rows, ((0, 0), (0, pad))), np.pad(c, ((0, 0), (0, pad)))
    rows_d, c = jnp.asarray(rows), np.asarray(c, np.float64)
    blocks = fold_blocks(xt, scaling, rows_d)
    return FoldGrams(blocks, rows_d, jnp.asarray(c, xt.dtype), c.sum(axis=1))


def runs_from_grams(grams: np.ndarray, totals: np.ndarray, scaling: Scaling) -> Any:
    """(M, d+1, d+1) the runs' Hessians over theta from the folds' weighted Grams
    (folds, d+1, d+1) of [x~; 1] and the folds' total weights: run 0 holds every
    fold, run m >= 1 all but fold m - 1, H_m = sum_{k in m} Gram_k / sum_{k in m} T_k
    (as :func:`~jaxlogloss.fitting.path_objective.gram_hessian`)."""
    folds = grams.shape[0]
    member = np.ones((folds + 1, folds)) - np.eye(folds + 1, folds, -1)
    scale_1 = np.r_[np.asarray(scaling.scale, np.float64), 1.0]
    out = np.tensordot(member, grams, 1) / (member @ totals)[:, None, None]
    out /= np.outer(scale_1, scale_1)
    return 0.5 * (out + np.swapaxes(out, 1, 2))


def start_hessians(layout: FoldGrams, scaling: Scaling, theta0: np.ndarray) -> Any:
    """(M, d+1, d+1) every run's exact Hessian at a start with zero slopes, from the
    folds' Grams (:func:`fold_grams` on ``layout``, :func:`fold_layout`). There every
    row of run m has p = p_m, so H_m = p_m (1 - p_m) sum_{k in m} Gram_k /
    sum_{k in m} T_k (:func:`runs_from_grams`), T_k = sum_{i in k} c_i: one Gram's
    work instead of M."""
    folds, d = layout.rows.shape[0], layout.blocks.shape[2] - 1
    if np.any(theta0[:, :d] != 0) or theta0.shape[0] != folds + 1:
        raise ValueError("start_hessians: theta0 must have zero slopes, one run a fold")
    grams = np.asarray(fold_grams(layout.blocks, layout.c), np.float64)
    h = 1 / (1 + np.exp(-theta0[:, d]))
    h *= 1 - h
    return runs_from_grams(grams, layout.totals, scaling) * h[:, None, None]


@jax.jit
def curvature_grams(blocks: Array, rows: Array, c: Array, z0: Array) -> Array:
    """(folds, d+1, d+1) the folds' Grams (:func:`fold_grams` of a
    :class:`FoldGrams`' blocks, rows and weights) weighted by c_i p_i (1 - p_i) at
    the all-rows run's logits z0 (n,)."""
    p = jax.nn.sigmoid(jnp.take(z0, rows))
    return fold_grams(blocks, c * p * (1 - p))


def shared_hessians(layout: FoldGrams, z0: Array, scaling: Scaling) -> Any:
    """(M, d+1, d+1) every run's Hessian with every row at the all-rows run's logits:
    exact for run 0, a fold's to its small logit offsets: one Gram's work."""
    grams = curvature_grams(layout.blocks, layout.rows, layout.c, z0)
    grams = np.asarray(grams, np.float64)
    return runs_from_grams(grams, layout.totals, scaling)


def own_hessians(
    hess: np.ndarray, layout: FoldGrams, z: Array, scaling: Scaling, own: np.ndarray
) -> np.ndarray:
    """``hess`` (M, d+1, d+1) with the runs flagged in ``own`` replaced by their exact
    Hessian at their own logits z[m] (z: (M, n)), one Gram's work each: for a fold
    whose logits are far from the all-rows run's (few rows)."""
    for m in np.flatnonzero(own):
        grams = curvature_grams(layout.blocks, layout.rows, layout.c, z[m])
        grams = np.asarray(grams, np.float64)
        hess[m] = runs_from_grams(grams, layout.totals, scaling)[m]
    return hess
