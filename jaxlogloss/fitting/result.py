"""What a fit returns: :class:`FitResult`, its table, its JSON, and its warnings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxlogloss.fitting import model_tests
from jaxlogloss.fitting.inference import Inference
from jaxlogloss.fitting.statistics import ModelStatistics
from jaxlogloss.model.params import LinearParams


@dataclass(frozen=True)
class FitResult:
    """A fitted binary logistic regression.

    ``log_loss`` is the (weighted) mean log-loss over the rows, without the penalty;
    ``objective`` adds it: alpha sum_j f_j (r |w_j| + (1 - r)/2 w_j^2) with ``penalty``
    ("none", "l2", "l1", "elasticnet"), ``alpha``, ``l1_ratio`` r and
    ``penalty_factor`` f (None: ones); ``l2`` is its ridge part alpha (1 - r).
    ``kkt_violation`` is the largest violation of the optimality (KKT) conditions on
    the raw coefficients for a proximal solver (None otherwise); ``inference_note``
    says what the standard errors mean, or why they are not reported (NaN) for an
    L1/elastic-net fit. ``status`` is one of
    :data:`jaxlogloss.solvers.base.STATUSES` ("converged", "max_iter", "diverged",
    "separation", "stalled"; first-order solvers: the first three).
    ``statistics`` holds llf, llnull, ... (properties ``llf``, ``aic``, ...);
    ``codebook`` how a table's columns became the features (for ``save``/predict).
    """

    feature_names: tuple[str, ...]
    intercept: float
    coef: np.ndarray
    inference: Inference
    log_loss: float
    objective: float
    n_iter: int
    status: str
    solver: str
    l2: float
    tol: float
    grad_norm: float
    n_samples: int
    seconds: float
    loss_history: np.ndarray
    warnings: tuple[str, ...] = field(default_factory=tuple)
    penalty: str = "none"
    alpha: float = 0.0
    l1_ratio: float = 0.0
    kkt_violation: float | None = None
    penalty_factor: np.ndarray | None = None
    inference_note: str | None = None
    statistics: ModelStatistics | None = None  # llf, llnull, ... (statistics.py)
    codebook: Any = None  # how a table's columns became the features (codebook.py)
    method: str = "ml"

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def params(self) -> LinearParams:
        return LinearParams(jnp.asarray(self.coef), jnp.asarray(self.intercept))

    def _stat(self, name: str) -> float:
        return math.nan if self.statistics is None else getattr(self.statistics, name)

    llf = property(lambda self: self._stat("llf"), doc="log-likelihood (a sum)")
    llnull = property(lambda self: self._stat("llnull"), doc="intercept-only llf")
    aic = property(lambda self: self._stat("aic"), doc="-2 llf + 2 k")
    bic = property(lambda self: self._stat("bic"), doc="-2 llf + k log N")
    pseudo_r2 = property(lambda self: self._stat("pseudo_r2"), doc="McFadden's R^2")

    @property
    def cov_type(self) -> str:
        return "nonrobust" if self.statistics is None else self.statistics.cov_type

    def wald_test(self, names: Any) -> model_tests.HypothesisTest:
        """Wald chi-squared test that the coefficients ``names`` are all 0."""
        return model_tests.wald_test(self, names)

    def marginal_effects(
        self, confidence: float | None = None
    ) -> model_tests.MarginalEffects:
        """Average marginal effects dP/dx_j with delta-method standard errors."""
        return model_tests.marginal_effects(self, confidence)

    def save(self, path: Any) -> None:
        """Write the model as one JSON document (:func:`jaxlogloss.load_model`)."""
        from jaxlogloss.fitting.persist import save_model

        save_model(self, path)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (non-finite numbers become None)."""
        inf = self.inference

        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        def by_name(values: np.ndarray) -> dict[str, float | None]:
            return {name: num(x) for name, x in zip(inf.names, values, strict=True)}

        return {
            "intercept": num(self.intercept),
            "coef": {
                n: num(c) for n, c in zip(self.feature_names, self.coef, strict=True)
            },
            "std_err": by_name(inf.std_err),
            "z": by_name(inf.z),
            "p_value": by_name(inf.p_value),
            "ci_low": by_name(inf.ci_low),
            "ci_high": by_name(inf.ci_high),
            "confidence": inf.confidence,
            "log_loss": num(self.log_loss),
            "objective": num(self.objective),
            "n_iter": self.n_iter,
            "converged": self.converged,
            "status": self.status,
            "solver": self.solver,
            "l2": self.l2,
            "tol": self.tol,
            "grad_norm": num(self.grad_norm),
            "n_samples": self.n_samples,
            "seconds": self.seconds,
            "warnings": list(self.warnings),
            "penalty": self.penalty,
            "alpha": self.alpha,
            "l1_ratio": self.l1_ratio,
            "penalty_factor": None
            if self.penalty_factor is None
            else dict(
                zip(self.feature_names, map(float, self.penalty_factor), strict=True)
            ),
            "kkt_violation": None
            if self.kkt_violation is None
            else num(self.kkt_violation),
            "inference_note": self.inference_note,
            "llf": num(self.llf),
            "llnull": num(self.llnull),
            "aic": num(self.aic),
            "bic": num(self.bic),
            "pseudo_r2": num(self.pseudo_r2),
            "cov_type": self.cov_type,
            "method": self.method,
        }

    def _penalty_words(self) -> str:
        """'maximum likelihood' or the penalty, e.g. 'L1 penalty, alpha=0.01'."""
        if self.method == "firth":
            return "Firth's penalised likelihood"
        if self.penalty == "none" or self.alpha == 0:
            return "maximum likelihood"
        words = {"l2": "L2", "l1": "L1", "elasticnet": "elastic net"}[self.penalty]
        ratio = f", l1_ratio={self.l1_ratio:g}" if self.penalty == "elasticnet" else ""
        factors = ", penalty factors" if self.penalty_factor is not None else ""
        return f"{words} penalty, alpha={self.alpha:g}{ratio}{factors}"

    def summary(self) -> str:
        """A statsmodels-like coefficient table with the fit's diagnostics."""
        inf = self.inference
        level = f"{inf.confidence:.3f}".rstrip("0").rstrip(".")
        lo_name = f"[{(1 - inf.confidence) / 2:.3f}"
        hi_name = f"{1 - (1 - inf.confidence) / 2:.3f}]"
        width = max(12, *(len(n) for n in inf.names))
        head = (
            f"{'':<{width}} {'coef':>11} {'std err':>11} {'z':>9} {'P>|z|':>8} "
            f"{lo_name:>11} {hi_name:>11}"
        )
        rule = "=" * len(head)
        measure = "||grad||_inf" if self.kkt_violation is None else "KKT violation"
        lines = [
            "Logistic regression (" + self._penalty_words() + ")",
            rule,
            f"solver: {self.solver}   status: {self.status}   iterations: "
            f"{self.n_iter}   {measure}: {self.grad_norm:.2e} (tol {self.tol:g})",
            f"rows: {self.n_samples}   log-loss: {self.log_loss:.10g}   "
            f"-log-likelihood: {self.log_loss * self.n_samples:.6g}   "
            f"time: {self.seconds:.3f} s   CI level: {level}",
            f"llf: {self.llf:.6g}   llnull: {self.llnull:.6g}   pseudo R2: "
            f"{self.pseudo_r2:.4f}   AIC: {self.aic:.6g}   BIC: {self.bic:.6g}   "
            f"covariance: {self.cov_type}",
            rule,
            head,
            "-" * len(head),
        ]
        if np.all(np.isnan(inf.std_err)):  # not reported: the coefficients alone
            head = f"{'':<{width}} {'coef':>11}"
            lines[-2:] = [head, "-" * len(head)]
        for i, name in enumerate(inf.names):
            row = f"{name:<{width}} {inf.coef[i]:>11.4g}"
            if not np.all(np.isnan(inf.std_err)):
                row += (
                    f" {inf.std_err[i]:>11.4g} {inf.z[i]:>9.3f} {inf.p_value[i]:>8.3f}"
                    f" {inf.ci_low[i]:>11.4g} {inf.ci_high[i]:>11.4g}"
                )
            lines.append(row)
        lines.append(rule)
        if self.inference_note:
            lines.append(f"Note: {self.inference_note}")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def fit_warnings(
    status: str,
    solver: str,
    max_iter: int,
    n_samples: int,
    separation_counts: tuple[int, int] | None = None,
    free_features: bool = False,
) -> tuple[str, ...]:
    """The warnings of a fit that did not converge, each saying what to do
    (``free_features``: a penalty leaves some features unpenalised, factor 0)."""
    if status == "separation":
        counts = ""
        if separation_counts is not None:
            right, saturated = separation_counts
            counts = (
                f": {right} of {n_samples} rows are classified correctly and "
                f"{saturated} have fitted probabilities within 1e-6 of 0 or 1"
            )
        if free_features:
            return (
                f"the unpenalised features (penalty factor 0) and the intercept alone "
                f"separate the classes{counts}, so their coefficients grow without "
                "bound and the estimate does not exist (coefficients and standard "
                "errors are not meaningful); give those features a penalty factor "
                "> 0 (--penalty-factor COL=F, penalty_factor=)",
            )
        return (
            f"the classes are (quasi-)separable{counts} while ||w|| keeps growing, so "
            "the maximum-likelihood estimate does not exist (coefficients and standard "
            "errors are not meaningful); add an L2 penalty, e.g. --l2 1e-3 (l2=1e-3), or "
            "use Firth's penalised likelihood, --firth (method='firth')",
        )
    if status == "max_iter":
        return (
            f"{solver} stopped after its budget of {max_iter} iterations before "
            "||grad||_inf <= tol; raise max_iter (--max-iter) or use solver newton",
        )
    if status == "diverged":
        return (
            f"{solver} diverged (non-finite loss); lower the learning rate or use "
            "solver newton",
        )
    if status == "stalled":
        return (
            "the solver stopped making progress before ||grad||_inf <= tol: "
            "the requested tol is probably below what the dtype resolves",
        )
    return ()
