"""Model statistics of a binary fit: log-likelihoods, AIC, BIC, McFadden's R^2.

With c_i the sample weights (frequencies) and N = sum_i c_i (= n for unit weights):

    llf    = sum_i c_i [y_i log p_i + (1 - y_i) log(1 - p_i)]   (a SUM, as statsmodels)
    llnull = the same for the intercept-only model (with the offset, when there is one)
    aic    = -2 llf + 2 k,       bic = -2 llf + k log N,      k = d + 1
    pseudo_r2 = 1 - llf / llnull                               (McFadden)

These equal statsmodels' ``Logit`` (and ``GLM(..., freq_weights=c)``'s llf). Without an
offset the null model has p = sum c y / N in closed form; with one, its intercept
solves sum_i c_i (y_i - sigma(b + o_i)) = 0 (a few 1-D Newton steps).

The same pass gives what average marginal effects need (:mod:`model_tests`): the mean
slope m0 = sum_i c_i p_i (1 - p_i) / N and its gradient over (b, w) (``jax.grad``),
so ``FitResult.marginal_effects()`` needs no data. For a penalised fit llf is the
log-likelihood at the penalised estimate (the penalty is not in it).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.data.design import Design, FeatureMajor, rmatvec
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.params import LinearParams, linear_logits


@dataclasses.dataclass(frozen=True)
class ModelStatistics:
    """The fit's likelihood statistics (module docstring) and the AME ingredients.

    ``slope_grad`` is d m0 / d(b, w), intercept first, on the raw coefficients.
    """

    llf: float
    llnull: float
    nobs: float
    n_params: int
    cov_type: str = "nonrobust"
    n_groups: int | None = None
    offset: bool = False
    dtype: str = "float64"
    slope_mean: float = math.nan
    slope_grad: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    positive_weight: float = math.nan  # sum c y: tells two fits on other rows apart

    @property
    def aic(self) -> float:
        return -2 * self.llf + 2 * self.n_params

    @property
    def bic(self) -> float:
        return -2 * self.llf + self.n_params * math.log(self.nobs)

    @property
    def pseudo_r2(self) -> float:
        if self.llnull == 0:
            return math.nan
        return 1 - self.llf / self.llnull


def slope_weights(
    y: jax.Array, c: jax.Array, z: jax.Array, loss: str
) -> tuple[jax.Array, jax.Array]:
    """c l''(z) and v = c dl''/dz: the mean slope's terms and its gradient's weights
    (the gradient over w is X^T v)."""
    spec = get_loss(loss)
    curv, dcurv = jax.jvp(lambda t: spec.curvature(y, t), (z,), (jnp.ones_like(z),))
    return c * curv, c * dcurv


def sums_from_logits(
    X: Design, y: jax.Array, c: jax.Array, z: jax.Array, loss: str, xtv: Any = None
) -> tuple[jax.Array, ...]:
    """sum c, sum c l, sum c y, sum c l'' and its gradient over (b, w), from the logits
    z (offset included): the mean slope's gradient is one X^T v (``xtv`` where the
    caller had it from another pass over X: :func:`slope_weights`' v), no second pass."""
    spec = get_loss(loss)
    curv, v = slope_weights(y, c, z, loss)
    xtv = rmatvec(X, v) if xtv is None else xtv
    grad = jnp.concatenate([jnp.sum(v)[None], xtv])
    return (
        jnp.sum(c), jnp.sum(c * spec.value(y, z)), jnp.sum(c * y), jnp.sum(curv),
        grad,
    )  # fmt: skip


def _sums(
    X: Design, y: jax.Array, c: jax.Array, offset: Any, w: jax.Array, b: jax.Array,
    loss: str,
) -> tuple[jax.Array, ...]:  # fmt: skip
    """:func:`sums_from_logits` at the raw parameters (w, b)."""
    z = linear_logits(LinearParams(w, b), X) + offset
    return sums_from_logits(X, y, c, z, loss)


_sums_jit = jax.jit(_sums, static_argnames="loss")


def logit_sums(objective: Any, z: jax.Array, xtv: Any = None) -> tuple[jax.Array, ...]:
    """:func:`sums_from_logits` of an in-memory objective from the logits an evaluation
    kept (pure: jitted with the inference Hessian, :func:`jaxlogloss.fitting.fit`)."""
    p = objective.problem
    return sums_from_logits(p.X, p.targets, objective.weights(), z, objective.loss, xtv)


@jax.jit
def _null_intercept_llf(
    y: jax.Array, c: jax.Array, offset: jax.Array, b0: jax.Array
) -> jax.Array:
    """The log-likelihood of the intercept-only model with an offset (1-D Newton)."""

    def step(_: Any, b: jax.Array) -> jax.Array:
        p = jax.nn.sigmoid(b + offset)
        g = jnp.sum(c * (y - p))
        h = jnp.sum(c * p * (1 - p))
        return b + jnp.clip(g / jnp.maximum(h, 1e-300), -4.0, 4.0)

    b = jax.lax.fori_loop(0, 60, step, b0)
    return -jnp.sum(c * get_loss("log_loss").value(y, b + offset))


def null_llf(total: float, positive: float) -> float:
    """llnull without an offset: N [ybar log ybar + (1 - ybar) log(1 - ybar)]."""
    ybar = positive / total
    return sum(
        total * q * math.log(q) for q in (ybar, 1 - ybar) if q > 0
    )  # 0 log 0 = 0


def _statistics(
    totals: tuple[float, ...], grad: np.ndarray, llnull: float, d: int, **info: Any
) -> ModelStatistics:
    total, loss_sum, positive, m0 = totals
    return ModelStatistics(
        llf=-loss_sum, llnull=llnull, nobs=total, n_params=d + 1,
        slope_mean=m0 / total, slope_grad=grad / total, positive_weight=positive,
        **info,
    )  # fmt: skip


def model_statistics(
    objective: Any, theta: Any, sums: Any = None, **info: Any
) -> ModelStatistics:
    """The statistics at theta of an in-memory (one device or sharded) or streamed
    binary objective: one pass over the rows, or none when ``sums`` (from
    :func:`logit_sums`) are given. ``info``: ModelStatistics' descriptive fields
    (cov_type, n_groups, dtype)."""
    d = objective.n_features
    if sums is not None and getattr(objective, "offset", None) is None:
        totals = tuple(float(jax.device_get(v)) for v in sums[:4])
        grad = np.asarray(jax.device_get(sums[4]), np.float64)
        llnull = null_llf(totals[0], totals[2])
        return _statistics(totals, grad, llnull, d, offset=False, **info)
    raw = objective.raw_params(jnp.asarray(theta, objective.dtype))
    if hasattr(objective, "source"):  # a stream: add the batches' sums
        acc = np.zeros(4 + d + 1)
        for xt, y, c in objective.source.batches():
            out = _sums_jit(
                FeatureMajor(jnp.asarray(xt)), jnp.asarray(y), jnp.asarray(c), 0.0,
                raw.w, raw.b, objective.loss,
            )  # fmt: skip
            acc += np.r_[[float(v) for v in out[:4]], np.asarray(out[4], np.float64)]
        acc = objective.gather(acc).sum(axis=0)
        totals, grad = tuple(acc[:4]), acc[4:]
        return _statistics(totals, grad, null_llf(acc[0], acc[2]), d, **info)
    p, c = objective.problem, objective.weights()
    offset = getattr(objective, "offset", None)
    out = _sums_jit(
        p.X, p.targets, c, 0.0 if offset is None else offset, raw.w, raw.b,
        objective.loss,
    )  # fmt: skip
    totals = tuple(float(jax.device_get(v)) for v in out[:4])
    grad = np.asarray(jax.device_get(out[4]), np.float64)
    if offset is None:
        llnull = null_llf(totals[0], totals[2])
    elif totals[2] in (0.0, totals[0]):
        llnull = 0.0  # one class only: the null model's intercept runs to infinity
    else:
        ybar = totals[2] / totals[0]
        b0 = jnp.asarray(math.log(ybar / (1 - ybar)), objective.dtype) - jnp.mean(
            offset
        )
        llnull = float(_null_intercept_llf(p.targets, c, offset, b0))
    return _statistics(totals, grad, llnull, d, offset=offset is not None, **info)
