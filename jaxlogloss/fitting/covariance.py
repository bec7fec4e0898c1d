"""Robust covariances of the coefficients: the sandwich and the cluster-robust sandwich.

With H the observed information (the Hessian of the summed loss, the "bread" that
:func:`~jaxlogloss.fitting.fit.fit` computes anyway) and s_i = c_i l'(z_i) x~_i the
score of row i (x~ = [x, 1] in the solver's coordinates, l' = p - y for the log-loss):

* ``"nonrobust"``: Cov = H^-1 (the model-based covariance);
* ``"HC0"``:       Cov = H^-1 M H^-1,  M = sum_i c_i l'(z_i)^2 x~_i x~_i^T  (White);
* ``"cluster"``:   Cov = q H^-1 M_G H^-1,  M_G = sum_g u_g u_g^T,  u_g = sum_{i in g} s_i,
  q = G / (G - 1) * (N - 1) / (N - k)  (statsmodels' default small-sample correction;
  G clusters, k = d + 1 coefficients, N the number of observations).

The meat M is one more sum over rows: a blocked, centred Gram with weights c l'^2
(the same :func:`~jaxlogloss.model.objectives.curvature_sums` that gives the Hessian),
so it runs in memory, over rows sharded on a mesh, and over a stream batch by batch.
The cluster meat needs one score sum per group id: ``jax.ops.segment_sum`` in memory
(with a mesh: on the unsharded rows that every process holds; not per process), and
on a stream one more pass adding each batch's scores into a (G, k) table by the
batch's rows' group ids (the ids are of all the stream's rows, so the tables of several
processes, each over its own row range, add up).

Sample weights c count as frequencies: a row of weight 2 is two rows, in the same
cluster. So N = sum_i c_i (= n for unit weights), and the HC0 meat adds c_i s_i s_i^T
(the squared score of a single row, c_i times), equal to the fit on the expanded data.
With an L2 penalty the bread is the penalised Hessian and the meat the loss's scores.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.data.design import FeatureMajor, row_major
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.objectives import curvature_sums, unravel
from jaxlogloss.model.params import linear_logits
from jaxlogloss.model.scaling import Scaling, to_raw
from jaxlogloss.parallel import mesh as dist

COV_TYPES = ("nonrobust", "HC0", "cluster")


class CovSpec(NamedTuple):
    """A checked covariance request: ``kind`` of :data:`COV_TYPES`, and for "cluster"
    the group index of each row (0..G-1) and G."""

    kind: str = "nonrobust"
    group_ids: np.ndarray | None = None
    n_groups: int = 0
    rows: Any = None  # a mesh fit's rows on one device, where the group ids live


def check_cov_type(
    fn: str, cov_type: Any, groups: Any, n: int | None, objective: Any = None,
    local: Any = None, process_local: bool = False,
) -> CovSpec:  # fmt: skip
    """Validate ``cov_type`` and ``groups`` (n labels of any kind, for "cluster")
    before a fit on ``objective`` (a cluster sandwich needs the rows in memory: with a
    mesh, ``local``, the whole unsharded Problem every process holds)."""
    if cov_type not in COV_TYPES:
        raise ValueError(
            f"{fn}: cov_type must be one of {', '.join(COV_TYPES)}, got {cov_type!r}"
        )
    if cov_type != "cluster":
        if groups is not None:
            raise ValueError(
                f"{fn}: groups is used with cov_type='cluster' only, got "
                f"cov_type={cov_type!r}"
            )
        return CovSpec(cov_type)
    if groups is None:
        raise ValueError(f"{fn}: cov_type='cluster' needs groups= (one label a row)")
    if hasattr(objective, "source"):  # a stream: one label for each of its rows
        n = int(objective.source.stream.n_samples)
    rows = None
    if getattr(objective, "mesh", None) is not None:
        if process_local or local is None:
            raise ValueError(
                f"{fn}: cov_type='cluster' with a mesh needs every row in each "
                "process (process_local=False): group labels are not matched across "
                "processes; use cov_type='HC0', or give every process all rows"
            )
        scaling = jax.tree.map(dist.to_host, objective.scaling)
        rows = dataclasses.replace(objective, problem=local, mesh=None, scaling=scaling)
    labels = np.asarray(groups)
    if labels.ndim != 1 or (n is not None and labels.shape[0] != n):
        raise ValueError(
            f"{fn}: groups has shape {labels.shape} but there are {n} rows; "
            f"expected shape ({n},)"
        )
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        i = int(np.argmax(~np.isfinite(labels)))
        raise ValueError(f"{fn}: groups must be finite labels, got {labels[i]} at {i}")
    try:
        _, ids = np.unique(labels, return_inverse=True)
    except TypeError as err:  # labels of kinds that do not compare (str and None)
        raise ValueError(
            f"{fn}: groups must be labels of one kind (numbers or strings): {err}"
        ) from None
    n_groups = int(ids.max()) + 1 if ids.size else 0
    if n_groups < 2:
        raise ValueError(
            f"{fn}: cov_type='cluster' needs at least 2 groups, got {n_groups}"
        )
    return CovSpec("cluster", ids.astype(np.int32), n_groups, rows)


def cluster_correction(n_groups: int, nobs: float, k: int) -> float:
    """statsmodels' small-sample factor G / (G - 1) * (N - 1) / (N - k)."""
    return n_groups / (n_groups - 1) * (nobs - 1) / (nobs - k)


def logits_of(objective: Any, theta: jax.Array) -> jax.Array:
    """z at theta of an in-memory objective (with its offset when it has one)."""
    if hasattr(objective, "offset"):
        return objective.logits(theta)
    return linear_logits(objective.raw_params(theta), objective.problem.X)


@jax.jit
def _hc0_meat(objective: Any, theta: jax.Array) -> jax.Array:
    p, c = objective.problem, objective.weights()
    z = logits_of(objective, theta)
    grad = get_loss(objective.loss).grad

    def squared_score(y: jax.Array, zz: jax.Array) -> jax.Array:
        return jnp.square(grad(y, zz))

    return curvature_sums(
        p.X, p.targets, c, objective.scaling, z, squared_score,
        objective.block_size, objective.mesh,
    )  # fmt: skip


@functools.partial(jax.jit, static_argnames="n_groups")
def _cluster_meat(
    objective: Any, theta: jax.Array, group_ids: jax.Array, n_groups: int
) -> jax.Array:
    p, c = objective.problem, objective.weights()
    z = logits_of(objective, theta)
    u = c * get_loss(objective.loss).grad(p.targets, z)  # (n,)
    xt = p.X.xt if isinstance(p.X, FeatureMajor) else row_major(p.X).T  # (d, n)
    scores = row_scores(xt, u, objective.scaling)
    sums = jax.ops.segment_sum(scores, group_ids, num_segments=n_groups)
    return sums.T @ sums


def row_scores(xt: jax.Array, u: jax.Array, scaling: Scaling) -> jax.Array:
    """(n, d + 1) scores u_i [x~_i, 1] of rows ``xt`` (d, n) with l'-weights ``u``."""
    xs = (xt - scaling.mean[:, None]) / scaling.scale[:, None]
    return jnp.concatenate([xs * u, u[None, :]], axis=0).T


def in_memory_meat(objective: Any, theta: Any, spec: CovSpec) -> np.ndarray:
    """M (HC0) or M_G (cluster, uncorrected) over theta for an in-memory objective."""
    theta = jnp.asarray(theta, objective.dtype)
    if spec.kind == "HC0":
        meat = _hc0_meat(objective, theta)
    else:
        ids = jnp.asarray(spec.group_ids)
        meat = _cluster_meat(objective, theta, ids, spec.n_groups)
    return np.asarray(jax.device_get(meat), np.float64)


@functools.partial(jax.jit, static_argnames=("loss", "scores"))
def _batch_meat(
    theta: jax.Array, xt: jax.Array, y: jax.Array, c: jax.Array, scaling: Scaling,
    loss: str, scores: bool = False,
) -> jax.Array:  # fmt: skip
    """A batch's HC0 meat (k, k), or with ``scores`` its rows' scores (n, k)."""
    d = xt.shape[0]
    z = linear_logits(to_raw(unravel(theta, d, None), scaling), FeatureMajor(xt))
    grad = get_loss(loss).grad
    if scores:
        return row_scores(xt, c * grad(y, z), scaling)

    def squared_score(yy: jax.Array, zz: jax.Array) -> jax.Array:
        return jnp.square(grad(yy, zz))

    return curvature_sums(FeatureMajor(xt), y, c, scaling, z, squared_score)


def streamed_meat(objective: Any, theta: Any) -> np.ndarray:
    """The HC0 meat over a stream: one more pass, float64 sums over the batches (and
    over the processes, through the objective's ``gather``)."""
    theta = jnp.asarray(theta, objective.dtype)
    p = theta.shape[0]
    meat = np.zeros((p, p))
    for xt, y, c in objective.source.batches():
        meat += np.asarray(
            _batch_meat(theta, xt, y, c, objective.scaling, objective.loss), np.float64
        )
    return objective.gather(meat.ravel()).sum(axis=0).reshape(p, p)


def streamed_cluster_meat(objective: Any, theta: Any, spec: CovSpec) -> np.ndarray:
    """The cluster meat M_G (uncorrected) over a stream: one more pass adding every
    batch's scores into the (G, k) table of group sums u_g by its rows' group ids
    (padding rows, of weight 0, add nothing); the tables of the processes are summed
    through the objective's ``gather``."""
    theta = jnp.asarray(theta, objective.dtype)
    k = theta.shape[0]
    src = objective.source
    sums = np.zeros((spec.n_groups, k))
    at = src.start
    for xt, y, c in src.batches():
        real = min(xt.shape[1], src.stop - at)  # rows of this batch before padding
        scores = np.asarray(
            _batch_meat(theta, xt, y, c, objective.scaling, objective.loss, True),
            np.float64,
        )[:real]
        ids = spec.group_ids[at : at + real]
        for j in range(k):
            sums[:, j] += np.bincount(ids, scores[:, j], minlength=spec.n_groups)
        at += real
    sums = objective.gather(sums.ravel()).sum(axis=0).reshape(spec.n_groups, k)
    return sums.T @ sums


def robust_meat(objective: Any, theta: Any, spec: CovSpec, nobs: float) -> Any:
    """The meat of the requested sandwich over theta, corrected; None for nonrobust
    (``spec`` from :func:`check_cov_type` with this objective)."""
    if spec.kind == "nonrobust":
        return None
    if hasattr(objective, "source"):  # a stream: one more pass
        if spec.kind == "HC0":
            return streamed_meat(objective, theta)
        meat = streamed_cluster_meat(objective, theta, spec)
    else:
        rows = objective if spec.rows is None else spec.rows  # mesh: unsharded rows
        meat = in_memory_meat(rows, theta, spec)
    if spec.kind == "cluster":
        meat = meat * cluster_correction(spec.n_groups, nobs, meat.shape[0])
    return meat
