"""The host loop's evaluation in parts, one thread a core, on a row-major X.

:func:`~jaxlogloss.fitting.host_loop.evaluate` makes one blocked pass over X
(:func:`~jaxlogloss.data.design.blocked_value_grad`: z_b = X_b w + b, then
r_b, then X_b^T r_b while the block is in cache). On a row-major X (C-ordered,
held in place or not) XLA:CPU ran that loop at one core's speed while keeping two
busy. Where such an X is large and in host memory, the pass's blocks are split
here into W contiguous ranges, one a core: W threads each call the compiled
:func:`pass_part` on their own range -- XLA's CPU client runs calls from different
threads at once -- and one small program adds the parts' sums and logits and maps
them to f, df/dtheta and the separation certificate (:func:`combine_parts`), as
:func:`~jaxlogloss.fitting.host_loop.evaluate` returns them. The sums are the same
as one pass's up to the order of their additions.

Measured on a 2-core CPU, 10^6 x 100 float32, interleaved (``benchmarks/NOTES.md``):
row-major, one program 101-113 ms, two parts 53-79 ms; a feature-major X (float32
held, float64 computed) keeps its one program, 39-41 ms against two parts' 51-58 ms.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxlogloss.data.design import block_layout, by_feature, host_view
from jaxlogloss.data.host import parallel_workers, run_parallel
from jaxlogloss.fitting.compiled import fast_compile
from jaxlogloss.model.objectives import InMemoryObjective

Array = jax.Array

# X's elements (rows x features) from which the pass is split; None: never
PARTS_MIN_ELEMENTS: int | None = 1 << 22
MAX_PARTS: int | None = None  # at most this many parts (None: one a core)


def pass_parts(objective: Any, theta: Any) -> int:
    """How many parts :func:`evaluate_in_parts` makes of ``objective``'s pass at
    theta (1: none, the single compiled evaluation): a plain in-memory binary
    objective whose evaluation is the blocked pass, on one device, a row-major X of
    at least :data:`PARTS_MIN_ELEMENTS` elements in host memory, two blocks a part
    or more."""
    limit = PARTS_MIN_ELEMENTS
    if limit is None or type(objective) is not InMemoryObjective:
        return 1
    if objective.mesh is not None or not objective.uses_blocked_pass(theta):
        return 1
    X = objective.problem.X
    n, d = X.shape
    if n * d < limit or by_feature(X) or host_view(X) is None:
        return 1
    _, n_blocks = block_layout(n, objective.block_size)
    parts = parallel_workers(n_blocks // 2)
    return parts if MAX_PARTS is None else max(1, min(parts, MAX_PARTS))


@fast_compile(static_argnames=("count",))
def pass_part(
    objective: InMemoryObjective, theta: Array, first: Array, count: int
) -> tuple[Array, Array, Array, Array]:
    """Blocks first .. first + count - 1 of the pass: the raw sums and the logits
    on their rows (:meth:`~jaxlogloss.model.objectives.InMemoryObjective.pass_part`)."""
    return objective.pass_part(theta, (first, count))


@fast_compile
def combine_parts(
    objective: InMemoryObjective, theta: Array, parts: tuple[Any, ...]
) -> tuple[Array, Array, Array, Array]:
    """f, df/dtheta, the separation certificate and the logits from the parts' raw
    sums (added in the parts' order) and logits (each zero off its own rows)."""
    loss_sum, grad_w, grad_b, z = parts[0]
    for more in parts[1:]:
        loss_sum, grad_w = loss_sum + more[0], grad_w + more[1]
        grad_b, z = grad_b + more[2], z + more[3]
    f, g = objective.value_and_grad_from_sums(theta, loss_sum, grad_w, grad_b)
    return f, g, objective.separated(z), z


def evaluate_in_parts(
    objective: InMemoryObjective, theta: Any, parts: int
) -> tuple[Array, Array, Array, Array]:
    """:func:`~jaxlogloss.fitting.host_loop.evaluate`'s (f, df/dtheta, separated, z)
    from ``parts`` parts of the pass, each on a thread of the process's pool."""
    _, n_blocks = block_layout(objective.problem.X.shape[0], objective.block_size)
    count = -(-n_blocks // parts)
    results: list[Any] = [None] * parts

    def run(w: int) -> None:
        part = pass_part(objective, theta, np.int32(w * count), count)
        results[w] = jax.block_until_ready(part)

    run_parallel(run, parts)
    return combine_parts(objective, theta, tuple(results))
