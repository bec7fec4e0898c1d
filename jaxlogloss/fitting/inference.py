"""Standard errors, z statistics, p-values and confidence intervals at the optimum.

The covariance of the maximum-likelihood estimate is the inverse of the Hessian of the
*summed* negative log-likelihood, sum_i c_i l_i (+ sum(c) (alpha/2) ||w||^2 with a
penalty), evaluated at the optimum -- the observed information, as statsmodels' Logit
reports. Weights c count as frequencies (statsmodels ``GLM(freq_weights=c)``).

The Hessian is formed on standardised features (the objective's ``hessian``),
inverted there (well conditioned whatever the units of X) and mapped to the raw
coefficients: with theta_raw = A theta_std, Cov_raw = A Cov_std A^T.

    z_j = beta_j / se_j,   p_j = 2 Phi(-|z_j|),   CI = beta_j -+ Phi^-1(1 - a/2) se_j
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.scaling import Scaling, raw_jacobian


@dataclass(frozen=True)
class Inference:
    """Per-coefficient statistics, intercept first: ``names[0] == "intercept"``."""

    names: tuple[str, ...]
    coef: np.ndarray
    std_err: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    covariance: np.ndarray
    confidence: float


def _invert(hess: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric PSD matrix; pseudo-inverse when it is singular."""
    try:
        chol = np.linalg.cholesky(hess)
        inv_chol = np.linalg.inv(chol)
        cov = inv_chol.T @ inv_chol
        if np.all(np.isfinite(cov)):
            return cov
    except np.linalg.LinAlgError:
        pass
    return np.linalg.pinv(hess, hermitian=True)


def coefficient_inference(
    params: LinearParams,
    information: Any,
    scaling: Scaling,
    feature_names: tuple[str, ...],
    confidence: float = 0.95,
    meat: Any = None,
) -> Inference:
    """Statistics of binary log-loss coefficients ``params`` (raw scale) at the optimum.

    ``information`` is the Hessian of the summed penalised loss over the standardised
    parameters at ``params`` (the observed information). With ``meat`` (the sum of
    score outer products over the same parameters, :mod:`covariance`) the covariance
    is the sandwich H^-1 M H^-1 instead of H^-1.
    """
    cov_std = _invert(np.asarray(information, np.float64))
    if meat is not None:
        cov_std = cov_std @ np.asarray(meat, np.float64) @ cov_std
    A = np.asarray(raw_jacobian(scaling), np.float64)
    cov = A @ cov_std @ A.T
    order = np.r_[len(feature_names), np.arange(len(feature_names))]  # intercept first
    cov = cov[np.ix_(order, order)]
    coef = np.r_[float(params.b), np.asarray(params.w, np.float64)]
    names = ("intercept", *feature_names)
    return inference_from_covariance(names, coef, cov, confidence)


def inference_from_covariance(
    names: tuple[str, ...], coef: Any, cov: Any, confidence: float = 0.95
) -> Inference:
    """The statistics of estimates ``coef`` named ``names`` with covariance ``cov``."""
    coef, cov = np.asarray(coef, np.float64), np.asarray(cov, np.float64)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, coef / se, np.inf * np.sign(coef))
    z = np.nan_to_num(z, nan=0.0)
    normal = NormalDist()
    p = np.array([2 * normal.cdf(-abs(v)) if np.isfinite(v) else 0.0 for v in z])
    q = normal.inv_cdf(0.5 + confidence / 2)
    return Inference(
        names=tuple(names),
        coef=coef,
        std_err=se,
        z=z,
        p_value=p,
        ci_low=coef - q * se,
        ci_high=coef + q * se,
        covariance=cov,
        confidence=confidence,
    )


def unreported_inference(
    params: LinearParams, feature_names: tuple[str, ...], confidence: float = 0.95
) -> Inference:
    """The coefficients with no standard errors (NaN statistics): an L1/elastic-net
    fit, whose Hessian does not give the estimate's sampling distribution."""
    coef = np.r_[float(params.b), np.asarray(params.w, np.float64)]
    nan = np.full_like(coef, np.nan)
    return Inference(
        names=("intercept", *feature_names), coef=coef, std_err=nan, z=nan,
        p_value=nan, ci_low=nan, ci_high=nan,
        covariance=np.full((coef.size, coef.size), np.nan), confidence=confidence,
    )  # fmt: skip
