"""Certificates that no maximum-likelihood estimate exists (separation).

Complete separation is certified inside every solver's stopping rule (an evaluation's
``separated``: every example of positive weight classified right with a positive
margin). Quasi-complete separation is certified after a fit by
:func:`quasi_separation_direction`: a direction v, the Hessian's near-null eigenvector,
along which every example's margin is >= 0 and some are > 0 -- moving along v never
raises the loss, so the fitted probabilities of those examples go to 0 or 1 while ||w||
grows and the gradient vanishes. With a penalty, only where some features are left
unpenalised (factor 0): :func:`free_coordinates` are then the coordinates no penalty
reaches, and a fit whose free part alone classifies every example right (complete
separation by those features and the intercept) has no minimiser -- moving along
that part lowers the loss and leaves the penalty as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def free_coordinates(alpha: float, factor: np.ndarray | None) -> np.ndarray | None:
    """(d + 1,) the coordinates of theta = [w', b] that a penalty of strength
    ``alpha`` with per-feature ``factor`` leaves free -- the features of factor 0 and
    the intercept --, or None where there is no penalty (every coordinate is free:
    the unpenalised fit's own certificates apply) or no feature is free."""
    if alpha == 0 or factor is None:
        return None
    free = np.asarray(factor) == 0
    return np.r_[free, True] if free.any() else None


def quasi_separation_direction(
    hess_std: np.ndarray,
    margin_range: Callable[[np.ndarray], tuple[float, float]],
    rel_eig: float = 1e-6,
    slack: float = 1e-6,
    strict: float = 1e-3,
    candidates: Sequence[np.ndarray] = (),
) -> np.ndarray | None:
    """A certificate of quasi-complete separation, or None.

    The near-null space of the Hessian (eigenvalues <= rel_eig * lambda_max) holds the
    separating direction. When it has more than one dimension -- far along the
    direction every row but the boundary ones has l'' ~ 0, so the Hessian keeps the
    boundary rows' few directions only -- its first eigenvector is an arbitrary vector
    of it; the fitted theta (growing along the separating direction) projected onto it
    is tried first (``candidates``), then every near-null eigenvector.

    Args:
      hess_std: the Hessian over [w', b'] on standardised features at the fit.
      margin_range: a function v -> (least, greatest) signed score (2y_i - 1) x~'_i . v
        over the examples of positive weight, along a direction v over [w', b']
        (unit norm, so standardised scores are O(1)); an objective's ``margin_range``.
      rel_eig: only a Hessian with lambda_min <= rel_eig * lambda_max is examined.
      slack, strict: v certifies when every weighted margin (2y - 1) x~'.v >= -slack
        and the largest is > strict.
      candidates: directions over [w', b'] (e.g. the fitted theta) whose projections
        onto the near-null space are tried first.

    Returns:
      the direction v (oriented so margins are >= 0) or None.
    """
    eig, vec = np.linalg.eigh(hess_std)
    small = eig <= rel_eig * max(eig[-1], np.finfo(float).tiny)
    if not small[0]:
        return None
    null = vec[:, small]
    tries = []
    for c in candidates:
        projected = null @ (null.T @ np.asarray(c, np.float64))
        size = np.linalg.norm(projected)
        if size > 0:
            tries.append(projected / size)
    tries += list(null.T)
    for v in tries:
        low, high = margin_range(v)
        for sign, least, greatest in ((1.0, low, high), (-1.0, -high, -low)):
            if least >= -slack and greatest > strict:
                return sign * v
    return None
