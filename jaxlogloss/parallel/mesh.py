"""Data parallelism over devices and processes, through JAX's own runtime.

The example dimension is split over the devices of a one-axis
:class:`jax.sharding.Mesh` (axis ``"data"``); parameters are replicated. The data arrays
carry a :class:`~jax.sharding.NamedSharding` and the solvers stay plain ``jit``
programs: XLA partitions them (each device computes its rows' share of
X w, X^T r and the loss, and one all-reduce of d + 1 numbers combines the gradient).
The one loop that walks the rows block by block, the Newton Hessian
(:func:`jaxlogloss.data.gram.centered_gram`), runs under ``shard_map`` and sums its
(d, d) result with one ``psum``.

Rows are padded to a multiple of the device count with zero-weight rows (X = 0, y = 0,
weight 0), which change no sum; ``rows`` maps the true example indices to their padded
positions so minibatches visit the same examples in the same order as on one device.

Several processes (one per host, or per GPU) join with :func:`initialize`
(``jax.distributed.initialize``: gloo collectives on CPUs, NCCL on GPUs). Each process
then holds only its own rows (``process_local=True``; :func:`process_row_range` says
which), and :func:`shard_rows` assembles the global arrays with
``jax.make_array_from_process_local_data``. Process 0 alone writes results
(:func:`is_writer`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.model.objective import Problem

DATA_AXIS = "data"
ENV_COORDINATOR = "JAXLOGLOSS_COORDINATOR"
ENV_NUM_PROCESSES = "JAXLOGLOSS_NUM_PROCESSES"
ENV_PROCESS_ID = "JAXLOGLOSS_PROCESS_ID"


# ----------------------------------------------------------------------- processes


def process_settings(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, int, int] | None:
    """The (coordinator, num_processes, process_id) to join, or None for one process.

    Arguments win over the environment variables ``JAXLOGLOSS_COORDINATOR``,
    ``JAXLOGLOSS_NUM_PROCESSES`` and ``JAXLOGLOSS_PROCESS_ID``. Raises ValueError naming
    the flag (and variable) that is missing or malformed.
    """
    env = os.environ if environ is None else environ
    coordinator = coordinator or env.get(ENV_COORDINATOR) or None
    raw_n = num_processes if num_processes is not None else env.get(ENV_NUM_PROCESSES)
    raw_i = process_id if process_id is not None else env.get(ENV_PROCESS_ID)
    if coordinator is None and raw_n is None and raw_i is None:
        return None
    if coordinator is None:
        raise ValueError(
            f"--coordinator (or {ENV_COORDINATOR}) is required with --num-processes "
            "and --process-id; expected HOST:PORT, e.g. 10.0.0.1:7777"
        )
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"--coordinator (or {ENV_COORDINATOR}) must be HOST:PORT with a port in "
            f"1..65535, got {coordinator!r}"
        )
    n = _as_int(raw_n, "--num-processes", ENV_NUM_PROCESSES, 1)
    i = _as_int(raw_i, "--process-id", ENV_PROCESS_ID, 0)
    if i >= n:
        raise ValueError(
            f"--process-id (or {ENV_PROCESS_ID}) must be in 0..{n - 1} for "
            f"--num-processes {n}, got {i}"
        )
    return coordinator, n, i


def _as_int(raw: Any, flag: str, var: str, low: int) -> int:
    if raw is None:
        raise ValueError(f"{flag} (or {var}) is required with --coordinator")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(raw, bool) or value < low:
        raise ValueError(f"{flag} (or {var}) must be an integer >= {low}, got {raw!r}")
    return value


def initialize(coordinator: str, num_processes: int, process_id: int) -> None:
    """Join the job: ``jax.distributed.initialize`` (call before any JAX computation)."""
    if jax.distributed.is_initialized():
        return
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
    )


def is_writer() -> bool:
    """True in the process that writes results (process 0; the only one when alone)."""
    return jax.process_index() == 0


def process_row_range(n: int, num_processes: int, process_id: int) -> tuple[int, int]:
    """The rows [start, stop) that process ``process_id`` reads of n (an even split)."""
    per = math.ceil(n / num_processes)
    return min(n, process_id * per), min(n, (process_id + 1) * per)


# -------------------------------------------------------------------------- meshes


def data_mesh(devices: Sequence[Any] | None = None) -> Mesh:
    """A one-axis mesh ``("data",)`` over ``devices`` (default: every device of the job).

    Devices are ordered by process, so each process's devices hold consecutive rows.
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("data_mesh: devices must not be empty")
    devices.sort(key=lambda dev: (dev.process_index, dev.id))
    return Mesh(np.array(devices), (DATA_AXIS,))


def check_mesh(fn: str, mesh: Any) -> Mesh | None:
    """Validate the ``mesh`` argument of a public function (None passes)."""
    if mesh is None:
        return None
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"{fn}: mesh must be a jax.sharding.Mesh (see jaxlogloss.data_mesh) or None, "
            f"got {type(mesh).__name__}"
        )
    if DATA_AXIS not in mesh.axis_names:
        raise ValueError(
            f"{fn}: mesh must have an axis named {DATA_AXIS!r} to split the examples "
            f"over, got axes {mesh.axis_names}"
        )
    return mesh


def row_spec(ndim: int, row_axis: int = 0) -> P:
    """The PartitionSpec splitting axis ``row_axis`` of an ``ndim`` array over "data"."""
    spec: list[Any] = [None] * ndim
    spec[row_axis] = DATA_AXIS
    return P(*spec)


def multi_process(mesh: Mesh) -> bool:
    return len({dev.process_index for dev in mesh.devices.flat}) > 1


def to_host(x: Any) -> np.ndarray:
    """A replicated (or fully addressable) array as NumPy, in any process."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return np.asarray(x.addressable_data(0))
    return np.asarray(x)


# -------------------------------------------------------------------------- arrays


class ShardedRows(NamedTuple):
    """The padded, sharded problem; positions of the true rows in it; the true n."""

    problem: Problem
    rows: jax.Array
    n: int


def _row_counts(mesh: Mesh, n_local: int, process_local: bool) -> list[int]:
    if not (process_local and multi_process(mesh)):
        return [n_local]
    return [int(c) for c in gather_rows(np.r_[n_local]).reshape(-1)]


def shard_problem(
    problem: Problem, mesh: Mesh, *, process_local: bool = False
) -> ShardedRows:
    """Pad the rows of ``problem`` to a multiple of the devices and shard them.

    ``process_local=False``: every process holds all n rows (each keeps its share).
    ``process_local=True``: each process holds only its own rows, in process order
    (:func:`process_row_range`); the global problem is their concatenation.
    Weights become explicit (ones), padding rows get weight 0.
    """
    X, targets, sw, l2 = problem
    xt_like = X.xt if isinstance(X, FeatureMajor) else X
    row_axis = 1 if isinstance(X, FeatureMajor) else 0
    n_local = int(targets.shape[0])
    counts = _row_counts(mesh, n_local, process_local)
    n_devices = mesh.devices.size
    n_processes = len(counts)
    if n_processes > 1:
        local_devices = n_devices // n_processes
        block = local_devices * math.ceil(max(counts) / local_devices)
        n_pad = block * n_processes
        starts = [p * block for p in range(n_processes)]
    else:
        n_pad = n_devices * math.ceil(n_local / n_devices)
        block, starts = n_pad, [0]
    weights = np.ones(n_local, targets.dtype) if sw is None else sw

    def place(a: Any, axis: int) -> jax.Array:
        sharding = NamedSharding(mesh, row_spec(np.ndim(a), axis))
        shape = list(np.shape(a))
        shape[axis] = n_pad
        if n_processes > 1:
            local = _pad(np.asarray(a), axis, block)
            return jax.make_array_from_process_local_data(sharding, local, tuple(shape))
        host = np.asarray(a)
        return jax.make_array_from_callback(
            tuple(shape),
            sharding,
            lambda index: _padded_slice(host, axis, index, n_pad),
        )

    xt = place(xt_like, row_axis)
    design = FeatureMajor(xt) if isinstance(X, FeatureMajor) else xt
    sharded = Problem(design, place(targets, 0), place(weights, 0), l2)
    rows = np.concatenate(
        [s + np.arange(c, dtype=np.int32) for s, c in zip(starts, counts, strict=True)]
    )
    rows = jax.device_put(rows, NamedSharding(mesh, P()))
    return ShardedRows(sharded, rows, int(sum(counts)))


def _pad(a: np.ndarray, axis: int, size: int) -> np.ndarray:
    missing = size - a.shape[axis]
    if missing == 0:
        return a
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, missing)
    return np.pad(a, widths)


def _padded_slice(
    a: np.ndarray, axis: int, index: tuple[slice, ...], size: int
) -> np.ndarray:
    """``a`` zero-padded to ``size`` along ``axis``, sliced by ``index``, without
    padding all of ``a``."""
    start, stop, _ = index[axis].indices(size)
    n = a.shape[axis]
    inner = list(index)
    inner[axis] = slice(min(start, n), min(stop, n))
    part = a[tuple(inner)]
    return _pad(part, axis, stop - start)


# ------------------------------------------------------------------ coordination


def gather_rows(values: np.ndarray) -> np.ndarray:
    """Every process's vector ``values`` (same length everywhere), one row each, in
    process order (one row when alone). Sum or reduce the rows as needed."""
    values = np.asarray(values)
    if jax.process_count() == 1:
        return values[None, :]
    from jax.experimental import multihost_utils

    gathered = multihost_utils.process_allgather(values)
    return np.asarray(gathered).reshape(jax.process_count(), -1)


def broadcast_from_writer(tree: Any) -> Any:
    """Process 0's value of ``tree`` (same structure and shapes everywhere) in every
    process, as NumPy leaves; the tree itself when alone."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    out = multihost_utils.broadcast_one_to_all(tree)
    return jax.tree.map(np.asarray, out)
