"""Certificates that no maximum-likelihood estimate exists (separation).

Complete separation is certified inside every solver's stopping rule (an evaluation's
``separated``: every example of positive weight classified right with a positive
margin). Quasi-complete separation is certified after a fit by
:func:`quasi_separation_direction`: a direction v in the Hessian's near-null space (one
of its eigenvectors, or the fit's own parameters projected onto it: with few rows that
space has several dimensions and the separating direction mixes them), along which
every example's margin is >= 0 and some are > 0 -- moving along v never
raises the loss, so the fitted probabilities of those examples go to 0 or 1 while ||w||
grows and the gradient vanishes. Never reported with a penalty.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def quasi_separation_direction(
    hess_std: np.ndarray,
    margin_range: Callable[[np.ndarray], tuple[float, float]],
    rel_eig: float = 1e-6,
    slack: float = 1e-6,
    strict: float = 1e-3,
    theta: np.ndarray | None = None,
) -> np.ndarray | None:
    """A certificate of quasi-complete separation, or None.

    Args:
      hess_std: the Hessian over [w', b'] on standardised features at the fit.
      margin_range: a function v -> (least, greatest) signed score (2y_i - 1) x~'_i . v
        over the examples of positive weight, along a direction v over [w', b']
        (unit norm, so standardised scores are O(1)); an objective's ``margin_range``.
      rel_eig: only a Hessian with lambda_min <= rel_eig * lambda_max is examined.
      slack, strict: v certifies when every weighted margin (2y - 1) x~'.v >= -slack
        and the largest is > strict.
      theta: the fitted [w', b']; its projection onto the near-null space is tried too
        (the solver moved along the separating direction, however many dimensions the
        near-null space has).

    Returns:
      the direction v (oriented so margins are >= 0) or None.
    """
    eig, vec = np.linalg.eigh(hess_std)
    if not eig[0] <= rel_eig * max(eig[-1], np.finfo(float).tiny):
        return None
    null = vec[:, eig <= rel_eig * eig[-1]]
    candidates = [null[:, k] for k in range(null.shape[1])]
    if theta is not None and null.shape[1] > 1:
        projected = null @ (null.T @ np.asarray(theta, np.float64))
        size = np.linalg.norm(projected)
        if size > 0:
            candidates.insert(0, projected / size)
    for v in candidates:
        low, high = margin_range(v)
        for sign, least, greatest in ((1.0, low, high), (-1.0, -high, -low)):
            if least >= -slack and greatest > strict:
                return sign * v
    return None
