"""What a solver returns, and how it says whether and why it stopped.

Statuses (:data:`STATUSES`):

* ``converged``  -- the stopping rule held: ||grad||_inf <= tol, with grad the gradient
  of the (penalised, weighted-mean) objective with respect to the parameters on
  *standardised* features (so tol means the same whatever the units of X);
* ``max_iter``   -- the iteration budget ran out first;
* ``diverged``   -- the loss or the gradient became non-finite; the last finite iterate
  is returned;
* ``separation`` -- the classes are (quasi-)separable and no finite maximum-likelihood
  estimate exists: the loss keeps falling while ||w|| grows. The solvers detect
  complete separation at any iterate: every example with positive weight classified
  correctly with a positive margin is a certificate that the loss has no minimiser.
  :func:`quasi_separation_direction` certifies quasi-complete separation after a fit
  (``jaxlogloss.fitting`` does this): a direction v, the Hessian's near-null eigenvector,
  along which every example's margin is >= 0 and some are > 0 -- moving along v never
  raises the loss, so the fitted probabilities of those examples go to 0 or 1 while
  ||w|| grows and the gradient vanishes. Never reported with an L2 penalty;
* ``stalled``    -- an iteration decreased neither the loss nor the gradient norm (or
  the line search failed) while the stopping rule did not hold: the loss is flat to
  rounding, usually because tol is below what the dtype can resolve.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.model.params import LinearParams

Array = jax.Array

STATUSES = ("running", "converged", "max_iter", "diverged", "separation", "stalled")
RUNNING, CONVERGED, MAX_ITER, DIVERGED, SEPARATION, STALLED = range(len(STATUSES))

# default stopping tolerances on ||grad||_inf (standardised features) by dtype: what
# each precision can resolve for a mean loss of order 1
DEFAULT_TOL = {"float64": 1e-10, "float32": 1e-5}


class SolverResult(NamedTuple):
    """A solver's answer.

    Attributes:
      params: the final parameters on the raw (user's) features.
      status: one of :data:`STATUSES` (never "running").
      n_iter: iterations taken.
      loss: the objective at ``params``.
      grad_norm: ||grad||_inf on standardised features at ``params``.
      loss_history, grad_norm_history: per iteration, index 0 = the start (length
        n_iter + 1).
    """

    params: LinearParams
    status: str
    n_iter: int
    loss: float
    grad_norm: float
    loss_history: np.ndarray
    grad_norm_history: np.ndarray

    @property
    def converged(self) -> bool:
        return self.status == "converged"


def margins(z: Array, targets: Array) -> Array:
    """Signed margin of each example: (2y - 1) z, or z_true - max_other z for softmax."""
    if z.ndim == 1:
        return (2 * targets - 1) * z
    true = jnp.sum(targets * z, axis=-1)
    other = jnp.max(jnp.where(targets > 0, -jnp.inf, z), axis=-1)
    return true - other


def complete_separation(
    z: Array, targets: Array, sample_weight: Array | None, l2: Any
) -> Array:
    """True when logits ``z`` classify every weighted example right (and no penalty)."""
    m = margins(z, targets)
    used = jnp.ones_like(m, bool) if sample_weight is None else sample_weight > 0
    return (l2 == 0) & jnp.all(jnp.where(used, m > 0, True))


def quasi_separation_direction(
    hess_std: np.ndarray,
    margin_range: Any,
    rel_eig: float = 1e-6,
    slack: float = 1e-6,
    strict: float = 1e-3,
) -> np.ndarray | None:
    """A certificate of quasi-complete separation, or None.

    Args:
      hess_std: the Hessian over [w', b'] on standardised features at the fit.
      margin_range: a function v -> (least, greatest) signed score (2y_i - 1) x~'_i . v
        over the examples of positive weight, along a direction v over [w', b']
        (unit norm, so standardised scores are O(1)).
      rel_eig: only a Hessian with lambda_min <= rel_eig * lambda_max is examined.
      slack, strict: v certifies when every weighted margin (2y - 1) x~'.v >= -slack
        and the largest is > strict.

    Returns:
      the direction v (oriented so margins are >= 0) or None.
    """
    eig, vec = np.linalg.eigh(hess_std)
    if not eig[0] <= rel_eig * max(eig[-1], np.finfo(float).tiny):
        return None
    v = vec[:, 0]
    low, high = margin_range(v)
    for sign, least, greatest in ((1.0, low, high), (-1.0, -high, -low)):
        if least >= -slack and greatest > strict:
            return sign * v
    return None


def inf_norm(tree: Any) -> Array:
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree.leaves(tree)]))


def record(history: Array, k: Array, value: Array) -> Array:
    return jax.lax.dynamic_update_index_in_dim(history, value, k, 0)


def make_result(
    params: LinearParams,
    status: Any,
    n_iter: Any,
    loss: Any,
    grad_norm: Any,
    loss_history: Any,
    grad_norm_history: Any,
) -> SolverResult:
    k = int(n_iter)
    return SolverResult(
        params=params,
        status=STATUSES[int(status)],
        n_iter=k,
        loss=float(loss),
        grad_norm=float(grad_norm),
        loss_history=np.asarray(loss_history)[: k + 1],
        grad_norm_history=np.asarray(grad_norm_history)[: k + 1],
    )
