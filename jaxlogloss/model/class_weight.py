"""Class weights: per-row multipliers of the sample weights, as scikit-learn's.

* ``"balanced"`` -- row i of class k gets n / (K n_k) (n rows, K classes present, n_k
  rows of class k; counted unweighted, as scikit-learn's ``class_weight="balanced"``);
* a mapping ``{label: weight}`` -- each row gets its label's weight (labels not in the
  mapping get 1, as in scikit-learn); weights are finite and >= 0;
* ``None`` -- all ones.

The fit multiplies them into any ``sample_weight``: c_i = sample_weight_i * cw(y_i).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def per_class_weights(
    classes: Any, counts: Any, class_weight: Any, fn: str = "class_weights"
) -> np.ndarray:
    """The weight of each class from the labels present (``classes``) and their row
    counts: n / (K n_k) for "balanced", the mapping's value (1 if absent) otherwise."""
    classes = list(classes)
    counts = np.asarray(counts, np.float64)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"{fn}: class_weight must be 'balanced', a mapping label -> weight or "
                f"None, got {class_weight!r}"
            )
        return counts.sum() / (len(classes) * counts)
    if not isinstance(class_weight, Mapping):
        raise TypeError(
            f"{fn}: class_weight must be 'balanced', a mapping label -> weight or "
            f"None, got {type(class_weight).__name__}"
        )
    out = np.ones(len(classes))
    for label, weight in class_weight.items():
        ok = isinstance(weight, int | float | np.number) and not isinstance(
            weight, bool
        )
        if not ok or not math.isfinite(float(weight)) or float(weight) < 0:
            raise ValueError(
                f"{fn}: class_weight[{label!r}] must be a finite number >= 0, got "
                f"{weight!r}"
            )
        key = label.item() if isinstance(label, np.generic) else label
        if key not in classes:
            known = ", ".join(repr(c) for c in classes)
            raise ValueError(
                f"{fn}: class_weight has label {label!r}, which is not among the "
                f"labels of y ({known})"
            )
        out[classes.index(key)] = float(weight)
    return out


def class_weights(y: Any, class_weight: Any, fn: str = "class_weights") -> np.ndarray:
    """Per-row multipliers (float64, shape (n,)) for labels ``y`` (see the module
    docstring); a ValueError/TypeError naming ``fn`` for a bad ``class_weight``.

    >>> class_weights([0, 0, 0, 1], "balanced").tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    >>> class_weights([0, 1, 1], {1: 3.0}).tolist()
    [1.0, 3.0, 3.0]
    """
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(
            f"{fn}: class weights need labels of shape (n,), got {labels.shape}"
        )
    if class_weight is None:
        return np.ones(labels.shape[0])
    classes, inverse, counts = np.unique(
        labels, return_inverse=True, return_counts=True
    )
    per_class = per_class_weights(classes.tolist(), counts, class_weight, fn)
    return per_class[inverse]
