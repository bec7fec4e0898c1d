"""Held-out scores of cross-validation and glmnet's one-standard-error rule.

Scores (:data:`SCORINGS`; rows weighted by h, the sample weights of the held-out
rows, not by class weights): ``log_loss`` and ``brier`` (lower is better), ``roc_auc``
(ties count 1/2) and ``accuracy`` (higher is better), each a function of the logits z.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

# scoring -> whether a higher score is better
SCORINGS = {"log_loss": False, "brier": False, "roc_auc": True, "accuracy": True}


def score_logits(z: Array, targets: Array, h: Array, scoring: str) -> Array:
    """The score of logits z on the rows of weight h."""
    total = jnp.sum(h)
    if scoring == "log_loss":
        return jnp.sum(h * (jax.nn.softplus(z) - targets * z)) / total
    if scoring == "brier":
        return jnp.sum(h * jnp.square(jax.nn.sigmoid(z) - targets)) / total
    if scoring == "accuracy":
        return jnp.sum(h * ((z > 0) == (targets > 0.5))) / total
    return weighted_auc(z, targets, h)


def held_out_score(
    X: Any, targets: Array, h: Array, w: Array, b: Array, scoring: str
) -> Array:
    """The score of the model (w, b) on the rows of weight h (feature-major X)."""
    return score_logits(w @ X.xt + b, targets, h, scoring)


def weighted_auc(z: Array, targets: Array, h: Array) -> Array:
    """Weighted ROC AUC: P(z_pos > z_neg) + P(tie) / 2 over rows of weight h."""
    order = jnp.argsort(z)
    zs = z[order]
    neg = (h * (1 - targets))[order]
    cum = jnp.concatenate([jnp.zeros((1,), z.dtype), jnp.cumsum(neg)])
    below = cum[jnp.searchsorted(zs, z, side="left")]
    upto = cum[jnp.searchsorted(zs, z, side="right")]
    pos = h * targets
    wins = jnp.sum(pos * (below + 0.5 * (upto - below)))
    return wins / (jnp.sum(pos) * cum[-1])


def one_se_rule(
    alphas: Any, mean: Any, se: Any, greater_is_better: bool
) -> tuple[int, int]:
    """Indices of alpha_min (the best mean; the larger alpha on a tie) and alpha_1se
    (the largest alpha whose mean is within one SE of the best: mean <= best + se_best
    when lower is better, mean >= best - se_best when higher is better)."""
    a, m, s = (np.asarray(x, np.float64) for x in (alphas, mean, se))
    sign = -1.0 if greater_is_better else 1.0
    ms = np.where(np.isfinite(m), sign * m, np.inf)  # lower is better now
    best = int(np.argmin(np.where(ms == ms.min(), -a, np.inf)))
    within = ms <= ms[best] + np.nan_to_num(s[best])
    return best, int(np.argmax(np.where(within, a, -np.inf)))
