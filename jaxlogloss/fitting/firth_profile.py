"""Profile penalised-likelihood intervals of a Firth fit (logistf's default intervals).

For coefficient j (raw features; the intercept too) the profile of Firth's penalised
log-likelihood l* (:mod:`jaxlogloss.fitting.firth`) is

    l*_j(v) = max { l*(beta) : beta_j = v },    D_j(v) = 2 (l*(beta_hat) - l*_j(v)),

and the interval is {v : D_j(v) <= chi2_1(confidence)} (Heinze & Schemper 2002). Unlike
the Wald interval beta_j -+ z se_j it follows the likelihood's asymmetry, which is large
under separation, where one end is far from the estimate.

Each l*_j(v) is a constrained maximisation over theta = P u + q (P an orthonormal basis
of the directions that keep beta_j fixed, on standardised features): Newton on u with
the Hessian P^T (d^2 l*) P by ``jax.hessian`` (Fisher's P^T I P where that is not
negative definite), step halving, compiled once per problem size. Each end is found by
bracketing from the Wald end and the Illinois (regula falsi) method on D_j(v) - chi2.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.fitting.firth import (
    MAX_HALVINGS,
    fisher_information,
    penalised_log_likelihood,
)
from jaxlogloss.fitting.fit import fit
from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.scaling import feature_scaling, raw_jacobian, to_standardized
from jaxlogloss.precision import enable_x64

Array = jax.Array
INNER_TOL = 1e-10  # ||grad_u l*||_inf / sum(c) of each constrained maximisation
ROOT_TOL = 1e-8  # |D_j(v) - chi2| at an interval end


class ProfileIntervals(NamedTuple):
    """Profile penalised-likelihood intervals, intercept first (as ``Inference``)."""

    names: tuple[str, ...]
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    confidence: float


@jax.jit
def _constrained_max(
    P: Array, q: Array, u0: Array, xs: Array, y: Array, c: Array
) -> tuple[Array, Array]:
    """max_u l*(P u + q) from u0: (the maximum, ||grad_u||_inf / sum(c))."""
    total = jnp.sum(c)

    def value(u: Array) -> Array:
        return penalised_log_likelihood(P @ u + q, xs, y, c)

    value_and_grad = jax.value_and_grad(value)

    def body(state: tuple) -> tuple:
        u, v, g, k = state
        theta = P @ u + q
        neg_h = -P.T @ jax.hessian(penalised_log_likelihood)(theta, xs, y, c) @ P
        newton = jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(neg_h), True), g)
        fisher = jnp.linalg.solve(P.T @ fisher_information(theta, xs, c) @ P, g)
        usable = jnp.all(jnp.isfinite(newton)) & (newton @ g > 0)
        step = jnp.where(usable, newton, fisher)
        step = step * jnp.minimum(1.0, 5.0 / jnp.max(jnp.abs(step)))
        slack = 64 * jnp.finfo(u.dtype).eps * (1 + jnp.abs(v))

        def halve(carry: tuple) -> tuple:
            t, h, _, _ = carry
            t = t * 0.5
            return (t, h + 1, *value_and_grad(u + t))

        def worse(carry: tuple) -> Array:
            _, h, v1, _ = carry
            return ((v1 < v - slack) | ~jnp.isfinite(v1)) & (h < MAX_HALVINGS)

        step, h, v1, g1 = lax.while_loop(
            worse, halve, (step, 0, *value_and_grad(u + step))
        )
        ok = (h < MAX_HALVINGS) & jnp.isfinite(v1)
        k = jnp.where(ok, k + 1, 100)  # no ascent left: stop
        return (jnp.where(ok, u + step, u), jnp.where(ok, v1, v),
                jnp.where(ok, g1, g), k)  # fmt: skip

    def more(state: tuple) -> Array:
        _, _, g, k = state
        return (jnp.max(jnp.abs(g)) / total > INNER_TOL) & (k < 100)

    v0, g0 = value_and_grad(u0)
    u, v, g, _ = lax.while_loop(more, body, (u0, v0, g0, 0))
    return v, jnp.max(jnp.abs(g)) / total


_value = jax.jit(penalised_log_likelihood)


def _null_basis(a: np.ndarray) -> np.ndarray:
    """An orthonormal basis (p, p - 1) of the vectors orthogonal to ``a``."""
    _, _, vt = np.linalg.svd(a[None, :])
    return vt[1:].T


def firth_profile_intervals(
    X: Any, y: Any, *, sample_weight: Any = None, feature_names: Any = None,
    confidence: float = 0.95,
) -> ProfileIntervals:  # fmt: skip
    """Profile penalised-likelihood intervals of the Firth fit of (X, y) (module
    docstring): in memory, float64, the checks of ``fit(..., method="firth")``.

    >>> x = np.r_[np.zeros(8), np.ones(4)][:, None]
    >>> y = np.r_[np.ones(5), np.zeros(3), np.ones(4)]
    >>> ci = firth_profile_intervals(x, y)
    >>> bool(ci.low[1] < ci.estimate[1] < ci.high[1])
    True
    """
    result = fit(X, y, sample_weight=sample_weight, feature_names=feature_names,
                 method="firth", confidence=confidence)  # fmt: skip
    X = np.asarray(X, np.float64)
    n, d = X.shape
    c = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    quantile = NormalDist().inv_cdf(0.5 + confidence / 2) ** 2  # chi2_1(confidence)
    with enable_x64():
        xt = jnp.asarray(X.T)
        scaling = jax.jit(feature_scaling)(FeatureMajor(xt), jnp.asarray(c))
        raw = LinearParams(jnp.asarray(result.coef), jnp.asarray(result.intercept))
        std = to_standardized(raw, scaling)
        theta_hat = np.r_[np.asarray(std.w), float(std.b)]
        mean, scale = np.asarray(scaling.mean), np.asarray(scaling.scale)
        xs = jnp.asarray(
            np.vstack([(X.T - mean[:, None]) / scale[:, None], np.ones(n)])
        )
        y_, c_ = jnp.asarray(np.asarray(y, np.float64)), jnp.asarray(c)
        top = float(_value(jnp.asarray(theta_hat), xs, y_, c_))
        A = np.asarray(raw_jacobian(scaling), np.float64)
        se = result.inference.std_err
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        bounds = {}
        for j in range(d + 1):  # raw coefficient j = A[j] . theta (j = d: intercept)
            a = A[j]
            P = jnp.asarray(_null_basis(a))
            u0 = P.T @ jnp.asarray(theta_hat)

            def deviance(
                v: float, a: np.ndarray = a, P: Array = P, u0: Array = u0
            ) -> float:
                q = jnp.asarray(a * v / (a @ a))
                best, _ = _constrained_max(P, q, u0, xs, y_, c_)
                return 2 * (top - float(best))

            est = float(a @ theta_hat)
            width = z * se[0 if j == d else j + 1]
            bounds[j] = tuple(
                _end(deviance, est, side * width, quantile) for side in (-1, 1)
            )
    order = [d, *range(d)]
    return ProfileIntervals(
        names=result.inference.names, estimate=result.inference.coef,
        low=np.array([bounds[j][0] for j in order]),
        high=np.array([bounds[j][1] for j in order]), confidence=confidence,
    )  # fmt: skip


def _end(deviance: Any, est: float, step: float, target: float) -> float:
    """The v on the side of ``step`` where deviance(v) = target: bracket from est +
    step (doubling), then Illinois iterations."""
    if not np.isfinite(step) or step == 0:
        step = np.sign(step or 1.0) * (1.0 + abs(est))
    inside, f_in = est, -target
    outside = est + step
    f_out = deviance(outside) - target
    for _ in range(60):
        if f_out >= 0:
            break
        inside, f_in = outside, f_out
        step *= 2
        outside = est + step
        f_out = deviance(outside) - target
    else:
        return float(np.sign(step) * np.inf)  # the profile never reaches the level
    side = 0
    for _ in range(100):
        v = (inside * f_out - outside * f_in) / (f_out - f_in)
        f = deviance(v) - target
        if abs(f) <= ROOT_TOL:
            return float(v)
        if f < 0:
            inside, f_in = v, f
            if side == -1:
                f_out /= 2
            side = -1
        else:
            outside, f_out = v, f
            if side == 1:
                f_in /= 2
            side = 1
    return float(v)
