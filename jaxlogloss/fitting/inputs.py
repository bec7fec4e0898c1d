"""The design matrix a fit reads: its layout and the dtype it is held in.

**Layout.** The objective-based solvers (Newton, L-BFGS, the proximal ones) read an
(n, d) array as it is: each evaluation makes one pass over blocks of rows
(:func:`~jaxlogloss.data.design.blocked_value_grad`), measured as fast as a
feature-major X. So a C-contiguous NumPy X is shared with XLA without a copy when it
is 64-byte aligned (as :func:`jaxlogloss.read_table` and
:func:`jaxlogloss.data.host.aligned_empty` allocate). ``jl.fit`` on one device reads a
large one that is not (NumPy puts it 16 bytes into a page) where it lies too, as a
:class:`~jaxlogloss.data.design.RowsAtOffset` over its own memory, and a large
F-ordered one as a :class:`~jaxlogloss.data.design.ColumnsAtOffset`
(:func:`~jaxlogloss.data.host.in_place_design`: no copy, no second X in memory; X must
not change during the fit, as with ``torch.from_numpy``). Anything else is copied
once into huge-page memory (:func:`jaxlogloss.data.host.to_jax`: 0.05-0.4 s for
400 MB, mostly the fresh pages' faults, where ``jnp.asarray`` takes 0.6 s).
First-order steps use autodiff's two passes, faster on a
:class:`~jaxlogloss.data.design.FeatureMajor` X: for them an (n, d) X is transposed once
on the device.

**Dtype policy** (:func:`storage_dtype`). A fit computes in its ``dtype`` (float64 by
default: statsmodels-grade answers). X is *held* in that dtype too, except that a
float32 X fitted in float64 by an objective-based solver stays float32: every block is
widened to float64 in cache, and the logits, sums, gradient, parameters and Hessian are
float64. The answer is then the float64 fit of the float32 values exactly (the same
arithmetic), a float32 file is not doubled in memory, and each pass reads half the
bytes. ``dtype="float32"`` computes in float32 (faster, ~1e-4 relative).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss import _validation as v
from jaxlogloss.data.design import Design, FeatureMajor
from jaxlogloss.data.host import in_place_design, shareable, to_jax


def storage_dtype(source: Any, dtype: str, objective_based: bool = True) -> str:
    """The dtype a fit holds X in: ``dtype``, or float32 for a float32 ``source``
    fitted in float64 by an objective-based solver (the module docstring)."""
    if objective_based and dtype == "float64" and np.dtype(source) == np.float32:
        return "float32"
    return dtype


def as_design(
    fn: str, X: Any, dtype: str, *, objective_based: bool = True, in_place: bool = False
) -> Design:
    """X (an (n, d) array or a FeatureMajor view) in the layout and dtype the fit's
    compiled functions read, with as few copies as possible (module docstring).

    ``in_place``: the caller reads X only in blocked passes, so a large C- or F-ordered
    NumPy X already in the storage dtype may be read where it lies
    (:func:`~jaxlogloss.data.host.in_place_design`) instead of copied."""
    if isinstance(X, FeatureMajor):
        xt = X.xt
        store = storage_dtype(xt.dtype, dtype, objective_based)
        if not (isinstance(xt, jax.Array) and xt.dtype == store):
            xt = to_jax(np.asarray(xt), store)
        return FeatureMajor(xt)
    if isinstance(X, jax.Array):
        arr = X
    else:
        arr = v.as_array(fn, "X", X) if not isinstance(X, np.ndarray) else X
    if arr.ndim != 2:
        raise ValueError(
            f"{fn}: X must be an (n, d) matrix, got shape {tuple(arr.shape)}"
        )
    if not np.issubdtype(np.dtype(arr.dtype), np.floating):
        raise TypeError(f"{fn}: X must have a floating dtype, got {arr.dtype}")
    if not objective_based:  # a NumPy X: one tiled host copy (3x XLA's transpose)
        if isinstance(arr, jax.Array):
            return FeatureMajor(_transpose_to(arr, dtype))
        return FeatureMajor(to_jax(np.asarray(arr).T, dtype))
    store = storage_dtype(arr.dtype, dtype)
    if isinstance(arr, jax.Array):
        return arr if arr.dtype == store else arr.astype(store)
    arr = np.asarray(arr)
    if in_place and arr.dtype == store and not shareable(arr, store):
        view = in_place_design(arr)
        if view is not None:
            return view
    return to_jax(arr, store)


@functools.partial(jax.jit, static_argnames="dtype")
def _transpose_to(X: Any, dtype: str) -> jax.Array:
    return jnp.transpose(X).astype(dtype)
