"""Tests between models and average marginal effects of a binary fit.

* Wald: H0: beta_R = 0 for the coefficients R,  W = beta_R^T (Cov_RR)^-1 beta_R ~ chi2(|R|)
  (Cov: the fit's covariance, so it follows ``cov_type``; statsmodels'
  ``wald_test(..., scalar=True)`` with ``use_f=False``).
* Likelihood ratio: LR = 2 (llf_full - llf_reduced) ~ chi2(k_full - k_reduced), for
  nested models fitted on the same rows.
* Average marginal effects (statsmodels ``get_margeff(at="overall", method="dydx")``):
  AME_j = (1/N) sum_i c_i p_i (1 - p_i) beta_j = m0 beta_j, with the delta-method
  covariance J Cov J^T, J = d AME / d(b, w) = m0 [0, e_j] + beta_j dm0/d(b, w). m0 and
  its gradient (``jax.grad``) come from the fit (:mod:`statistics`): no data needed.

p-values: P(chi2_df > x) = Q(df/2, x/2), the regularised upper incomplete gamma.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaincc

from jaxlogloss.fitting.inference import Inference, inference_from_covariance
from jaxlogloss.precision import enable_x64


class HypothesisTest(NamedTuple):
    """A chi-squared test: the statistic, its degrees of freedom and p-value."""

    statistic: float
    df: int
    p_value: float


def chi2_sf(x: float, df: int) -> float:
    """P(chi2_df > x)."""
    if not math.isfinite(x):
        return 0.0 if x > 0 else math.nan
    with enable_x64():
        return float(gammaincc(jnp.float64(df / 2), jnp.float64(max(x, 0.0) / 2)))


def _stats(fn: str, result: Any) -> Any:
    stats = getattr(result, "statistics", None)
    if stats is None:
        raise ValueError(f"{fn}: the fit has no model statistics (statistics=None)")
    return stats


def wald_test(result: Any, names: Any) -> HypothesisTest:
    """The Wald test that the coefficients ``names`` (features or "intercept") are 0."""
    fn = "wald_test"
    if isinstance(names, str):
        names = [names]
    names = list(names)
    inf = result.inference
    unknown = [n for n in names if n not in inf.names]
    if not names or unknown:
        raise ValueError(
            f"{fn}: names must be coefficient names of the fit ({', '.join(inf.names)})"
            f", got {names!r}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{fn}: names has repeats: {names!r}")
    idx = [inf.names.index(n) for n in names]
    beta = inf.coef[idx]
    cov = inf.covariance[np.ix_(idx, idx)]
    stat = float(beta @ np.linalg.pinv(cov, hermitian=True) @ beta)  # singular: pinv
    return HypothesisTest(stat, len(idx), chi2_sf(stat, len(idx)))


def lr_test(full: Any, reduced: Any) -> HypothesisTest:
    """The likelihood-ratio test of ``reduced`` against ``full`` (nested fits).

    Raises ValueError unless both were fitted on the same rows (the same number of rows,
    total weight and weighted count of positives) and ``reduced``'s features are a
    proper subset of ``full``'s.
    """
    fn = "lr_test"
    a, b = _stats(fn, full), _stats(fn, reduced)
    if full.n_samples != reduced.n_samples:
        raise ValueError(
            f"{fn}: the models are not nested: full has {full.n_samples} rows, "
            f"reduced {reduced.n_samples}; fit both on the same rows"
        )
    for what, x, y in [
        ("total sample weight", a.nobs, b.nobs),
        ("weighted count of positives", a.positive_weight, b.positive_weight),
    ]:
        if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9):
            raise ValueError(
                f"{fn}: the models are not nested: their {what} differs ({x:g} vs "
                f"{y:g}); fit both on the same rows and weights"
            )
    extra = [n for n in reduced.feature_names if n not in full.feature_names]
    if extra or len(reduced.feature_names) >= len(full.feature_names):
        raise ValueError(
            f"{fn}: the models are not nested: reduced's features must be a proper "
            f"subset of full's; reduced has {len(reduced.feature_names)} "
            f"({', '.join(extra) or 'none'} not in full), full "
            f"{len(full.feature_names)}"
        )
    stat = 2 * (a.llf - b.llf)
    df = a.n_params - b.n_params
    return HypothesisTest(stat, df, chi2_sf(stat, df))


@dataclasses.dataclass(frozen=True)
class MarginalEffects(Inference):
    """Average marginal effects dP(y=1)/dx_j (``effect``, the same as ``coef``) with
    delta-method standard errors, z, p-values and intervals, one a feature."""

    @property
    def effect(self) -> np.ndarray:
        return self.coef

    def to_dict(self) -> dict[str, dict[str, float]]:
        """{feature: {effect, std_err, z, p_value, ci_low, ci_high}}."""
        keys = ("effect", "std_err", "z", "p_value", "ci_low", "ci_high")
        return {
            name: {k: float(getattr(self, k)[j]) for k in keys}
            for j, name in enumerate(self.names)
        }

    def summary(self) -> str:
        """A table: one row a feature."""
        width = max(12, *(len(n) for n in self.names))
        head = (
            f"{'dy/dx':<{width}} {'effect':>11} {'std err':>11} {'z':>9} {'P>|z|':>8} "
            f"{'ci low':>11} {'ci high':>11}"
        )
        rows = [
            f"{n:<{width}} {self.effect[j]:>11.4g} {self.std_err[j]:>11.4g} "
            f"{self.z[j]:>9.3f} {self.p_value[j]:>8.3f} {self.ci_low[j]:>11.4g} "
            f"{self.ci_high[j]:>11.4g}"
            for j, n in enumerate(self.names)
        ]
        return "\n".join(["Average marginal effects", head, "-" * len(head), *rows])


def marginal_effects(result: Any, confidence: float | None = None) -> MarginalEffects:
    """Average marginal effects of every feature (module docstring)."""
    fn = "marginal_effects"
    stats = _stats(fn, result)
    inf = result.inference
    level = inf.confidence if confidence is None else confidence
    if not 0 < level < 1:
        raise ValueError(f"{fn}: confidence must be in (0, 1), got {confidence!r}")
    beta = inf.coef[1:]  # intercept first in the inference
    m0, dm0 = stats.slope_mean, np.asarray(stats.slope_grad)
    d = beta.shape[0]
    jac = np.outer(beta, dm0)
    jac[:, 1:] += m0 * np.eye(d)
    effect = m0 * beta
    cov = jac @ inf.covariance @ jac.T
    inf = inference_from_covariance(tuple(result.feature_names), effect, cov, level)
    return MarginalEffects(**vars(inf))
