"""The host loop's Hessians: one compiled program, or the Gram on the host's BLAS.

:func:`curvature` is the compiled program (the Gram a block of rows at a time in
XLA: any device, a mesh, a multiclass loss). Where X is in host memory on one CPU
device, :func:`host_curvature` gives the same results with the Gram by NumPy.

A host-driven Newton run (:mod:`jaxlogloss.fitting.host_loop`) and the inference
step need, at theta with the logits z kept by the last evaluation,

    H = [[G, S], [S', T]] / sum c + P''(theta),
    G = sum_i h_i x'_i x'_i',  S = sum_i h_i x'_i,  T = sum_i h_i,  h_i = c_i l''(y_i, z_i)

(x' = (x - mean) / scale; :meth:`~jaxlogloss.model.objectives.InMemoryObjective.hessian`).
Where X lives in host memory, G is formed by NumPy's symmetric rank-k update
(:func:`~jaxlogloss.data.host_gram.host_centered_gram`: half the multiply-adds of
XLA's product, 1.6-1.7x faster at 10^6 x 100 on a 2-core CPU). The per-row weights,
the penalty's Hessian and the statistics' totals come from one small compiled
program over the n logits (:func:`curvature_weights`), which also compiles faster
than the Gram's loop it replaces. The float32-products rule for a solver's model
(:class:`~jaxlogloss.fitting.model_precision.ModelPrecision`) carries over: float32
block products added to float64 sums, the inference Hessian exact; and Newton's
first model from theta = 0 (every row's weight c/4) may come from every s-th row
(:func:`sample_stride`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.data.design import host_view
from jaxlogloss.data.host_gram import host_centered_gram
from jaxlogloss.fitting.compiled import fast_compile
from jaxlogloss.fitting.statistics import logit_sums, slope_weights
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.objectives import InMemoryObjective, penalty_hessian

Array = jax.Array

# X's elements (rows x features) from which the Gram is formed on the host; 0: always
HOST_GRAM_MIN_ELEMENTS = 0

# the rows a sampled model Gram keeps, at least (and SAMPLE_ROWS_PER_FEATURE x d)
SAMPLE_MIN_ROWS = 1 << 17
SAMPLE_ROWS_PER_FEATURE = 1024


def sample_stride(n: int, d: int) -> int:
    """s for a model Gram from every s-th row
    (:func:`~jaxlogloss.data.host_gram.host_centered_gram`'s ``row_stride``): the
    largest s that keeps at least max(:data:`SAMPLE_MIN_ROWS`,
    :data:`SAMPLE_ROWS_PER_FEATURE` d) rows, whose covariance is within about
    sqrt(d / rows) <= 3% of the whole's; 1 (every row) below twice that."""
    keep = max(SAMPLE_MIN_ROWS, SAMPLE_ROWS_PER_FEATURE * d)
    return max(1, n // keep)


def uses_host_gram(objective: Any, z: Any) -> bool:
    """Whether :func:`host_curvature` applies: an in-memory binary objective on one
    device, the logits known, X of at least :data:`HOST_GRAM_MIN_ELEMENTS` elements
    in host memory. Float32 fits too: with the blocks shared among threads
    (:func:`~jaxlogloss.data.host_gram.gram_workers`) a float32 ``jl.fit`` at
    10^6 x 100 took 1.50 s against XLA's Gram's 1.76 s (L-BFGS), 2.04 s against
    3.79 s (Newton)."""
    if not isinstance(objective, InMemoryObjective) or z is None:
        return False
    if objective.n_classes is not None or objective.mesh is not None:
        return False
    X = objective.problem.X
    if X.shape[0] * X.shape[1] < HOST_GRAM_MIN_ELEMENTS:
        return False
    return host_view(X) is not None


@fast_compile
def curvature(
    objective: InMemoryObjective, theta: Array, aux: Any, with_sums: Array,
    float32_products: Array,
) -> tuple[Array, Array, Any]:  # fmt: skip
    """The Hessian of f at theta (from the logits ``aux``, formed here when None), the
    total weight, and -- where ``with_sums`` (a traced flag: one program for both) --
    the model statistics' sums from the same logits (zeros otherwise).
    ``float32_products`` (traced too): a float64 Hessian from float32 block products
    (:func:`~jaxlogloss.data.gram.centered_gram_and_moment`), for a solver's model."""
    z = objective.logits(theta) if aux is None else aux
    if objective.n_classes is not None:
        return objective.hessian(theta, z), objective.total_weight(), None
    # the sums' X^T v comes from the Hessian's pass over X (a second product of each
    # block in cache, where a pass of its own read X again: 0.05 s at 10^6 x 100)
    _, v = slope_weights(
        objective.problem.targets, objective.weights(), z, objective.loss
    )
    hessian, xtv = objective.hessian_and_moment(theta, z, v, float32_products)
    # the sums' structure is known (4 totals and a (d + 1,) gradient, cast to one
    # dtype): the zeros need no second trace of logit_sums (jax.eval_shape did one)
    dtype = z.dtype
    zeros = (*(jnp.zeros((), dtype) for _ in range(4)), jnp.zeros(theta.shape, dtype))

    def sums() -> tuple[Array, ...]:
        return tuple(s.astype(dtype) for s in logit_sums(objective, z, xtv))

    sums_or_zeros = jax.lax.cond(with_sums, sums, lambda: zeros)
    return hessian, objective.total_weight(), sums_or_zeros


@fast_compile
def curvature_weights(
    objective: InMemoryObjective, theta: Array, z: Array, with_sums: Array
) -> tuple[Array, ...]:
    """From the logits z: the Gram's weights h = c l'' and the slope's v = c dl''/dz
    (:func:`~jaxlogloss.fitting.statistics.slope_weights`), the penalty's Hessian, the
    total weight sum c (n without weights), and -- where ``with_sums`` (traced) -- the statistics'
    totals sum c, sum c l, sum c y, sum c l'', sum v (zeros otherwise). No pass over X."""
    p = objective.problem
    c = objective.weights()
    h, slope = slope_weights(p.targets, c, z, objective.loss)
    pen = penalty_hessian(
        theta, objective.penalty, p.l2, objective.scaling, objective.n_features, None
    )
    dtype = z.dtype

    def totals() -> Array:
        loss = get_loss(objective.loss).value(p.targets, z)
        parts = (c, c * loss, c * p.targets, h, slope)
        return jnp.stack([jnp.sum(a).astype(dtype) for a in parts])

    sums = jax.lax.cond(with_sums, totals, lambda: jnp.zeros(5, dtype))
    return h, slope, pen, objective.total_weight(), sums


def host_curvature(
    objective: InMemoryObjective, theta: Any, z: Any, with_sums: Any,
    float32_products: Any, row_stride: int = 1,
) -> tuple[np.ndarray, Any, tuple[Any, ...] | None]:  # fmt: skip
    """:func:`~jaxlogloss.fitting.host_loop.curvature`'s (Hessian, total weight,
    statistics' sums or None) with the Gram on the host (module docstring);
    ``row_stride`` > 1: a model's Gram from every s-th row
    (:func:`~jaxlogloss.data.host_gram.host_centered_gram`)."""
    flag = np.bool_(bool(with_sums))
    h, slope, pen, total, totals = jax.device_get(
        curvature_weights(objective, theta, z, flag)
    )
    x, feature_major = host_view(objective.problem.X)
    mean, scale = (np.asarray(a, np.float64) for a in objective.scaling)
    dtype = np.dtype(h.dtype)
    low = dtype != np.float64 or bool(float32_products)
    gram = host_centered_gram(
        x, feature_major, h, mean, scale, slope if with_sums else None,
        np.float32 if low else np.float64, row_stride=row_stride,
    )  # fmt: skip
    bordered = np.block(
        [
            [gram.gram, gram.sums[:, None]],
            [gram.sums[None, :], np.array([[gram.total]])],
        ]
    )
    hess = (bordered / float(total) + np.asarray(pen, np.float64)).astype(dtype)
    sums = None
    if with_sums:
        grad = np.concatenate([totals[4:5], gram.moment]).astype(dtype)
        sums = (*(totals[i] for i in range(4)), grad)
    return hess, total, sums
