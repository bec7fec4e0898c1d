"""What a multinomial fit returns: :class:`MultinomialResult`, its table, JSON and file.

Coefficients are per non-reference class k (the reference is ``classes[0]``):
``coef`` (d, K-1), ``intercept`` (K-1,), so that log(p_k / p_0) = b_k + x . w_k. The
covariance is over the raw parameters class by class, intercept first within a class
(statsmodels ``MNLogit``'s ``cov_params()`` order); ``std_err`` and the other
statistics are (d + 1, K - 1) matrices in the same layout as statsmodels' ``bse``:
row 0 the intercepts. A symmetric fit (the scikit-learn estimator's) has a column for
every class.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jaxlogloss.data.codebook import Codebook
from jaxlogloss.fitting.inference import Inference, inference_from_covariance
from jaxlogloss.fitting.statistics import ModelStatistics
from jaxlogloss.model.multinomial import class_log_probabilities

MODEL = "multinomial_logistic"
_DIAGNOSTICS = ("log_loss", "objective", "n_iter", "status", "solver", "l2", "tol",
                "grad_norm", "n_samples", "seconds")  # fmt: skip


def _num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def plain(value: Any) -> Any:
    """A NumPy scalar as the Python value (JSON-able)."""
    return value.item() if hasattr(value, "item") else value


def _statistic(name: str, doc: str) -> property:
    """A property reading ``statistics.<name>`` (NaN without statistics)."""

    def get(self: Any) -> float:
        stats = self.statistics
        return math.nan if stats is None else float(getattr(stats, name))

    return property(get, doc=doc)


@dataclass(frozen=True)
class MultinomialResult:
    """A fitted multinomial logistic regression (module docstring).

    ``classes``: all levels, sorted, the reference first. ``log_loss`` is the weighted
    mean cross-entropy without the penalty; ``objective`` adds (alpha/2)||W||^2
    (``l2`` = alpha). ``inference`` holds the flat per-coefficient statistics (names
    ``"class:name"``); ``statistics`` llf, llnull, ... (properties ``llf``, ``aic``...).
    """

    classes: tuple
    feature_names: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    inference: Inference
    status: str
    n_iter: int
    solver: str
    tol: float
    grad_norm: float
    log_loss: float
    objective: float
    l2: float
    n_samples: int
    seconds: float
    loss_history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    warnings: tuple[str, ...] = ()
    penalty: str = "none"
    statistics: ModelStatistics | None = None
    codebook: Any = None
    symmetric: bool = False
    fit_intercept: bool = True
    penalty_value: float = 0.0
    method = "ml"
    cov_type = "nonrobust"

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def coef_classes(self) -> tuple:
        """The classes with a coefficient column (all but the reference)."""
        return self.classes if self.symmetric else self.classes[1:]

    @property
    def names(self) -> tuple[str, ...]:
        """The coefficient names within a class: "intercept" first, then features."""
        return (("intercept",) if self.fit_intercept else ()) + self.feature_names

    @property
    def alpha(self) -> float:
        return self.l2

    llf = _statistic("llf", "log-likelihood (a sum)")
    llnull = _statistic("llnull", "llf of the intercept-only model")
    aic = _statistic("aic", "-2 llf + 2 k, k = (d + 1)(K - 1)")
    bic = _statistic("bic", "-2 llf + k log N")
    pseudo_r2 = _statistic("pseudo_r2", "McFadden's R^2, 1 - llf / llnull")

    def _matrix(self, flat: np.ndarray) -> np.ndarray:
        """Flat class-major statistics as (len(names), columns), statsmodels' layout."""
        return np.asarray(flat, np.float64).reshape(len(self.coef_classes), -1).T

    std_err = property(lambda self: self._matrix(self.inference.std_err))
    z = property(lambda self: self._matrix(self.inference.z))
    p_value = property(lambda self: self._matrix(self.inference.p_value))

    @property
    def covariance(self) -> np.ndarray:
        return self.inference.covariance

    def log_probabilities(self, X: Any) -> np.ndarray:
        """log P(class | x), (n, K) for rows X (n, d) (NumPy, float64)."""
        xt = np.asarray(X, np.float64).T
        return class_log_probabilities(self.coef, self.intercept, xt, self.symmetric)

    def predict_proba(self, X: Any) -> np.ndarray:
        """P(class | x), (n, K), columns in the order of ``classes``."""
        return np.exp(self.log_probabilities(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row."""
        return np.asarray(self.classes, object)[
            np.argmax(self.log_probabilities(X), axis=1)
        ]

    def _by_class(self, flat: np.ndarray) -> dict[str, dict[str, float | None]]:
        matrix = self._matrix(flat)
        return {
            str(plain(c)): {n: _num(x) for n, x in zip(self.names, col, strict=True)}
            for c, col in zip(self.coef_classes, matrix.T, strict=True)
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary: ``classes`` (sorted, reference first), ``coef``
        (class -> feature -> value), ``intercept`` (class -> value), ``std_err``, ``z``,
        ``p_value``, ``ci_low``, ``ci_high`` (class -> name -> value, "intercept"
        included), and the fit's diagnostics and statistics."""
        inf = self.inference
        keys = [str(plain(c)) for c in self.coef_classes]
        out: dict[str, Any] = {
            "model": MODEL,
            "classes": [plain(c) for c in self.classes],
            "reference": None if self.symmetric else plain(self.classes[0]),
            "coef": {
                k: {n: _num(x) for n, x in zip(self.feature_names, col, strict=True)}
                for k, col in zip(keys, self.coef.T, strict=True)
            },
            "intercept": {
                k: _num(b) for k, b in zip(keys, self.intercept, strict=True)
            },
            "std_err": self._by_class(inf.std_err),
            "z": self._by_class(inf.z),
            "p_value": self._by_class(inf.p_value),
            "ci_low": self._by_class(inf.ci_low),
            "ci_high": self._by_class(inf.ci_high),
            "confidence": inf.confidence,
        }
        for k in _DIAGNOSTICS:
            value = getattr(self, k)
            out[k] = _num(value) if isinstance(value, float) else value
        out.update(
            converged=self.converged, warnings=list(self.warnings),
            penalty=self.penalty, alpha=self.l2,
            llf=_num(self.llf), llnull=_num(self.llnull), aic=_num(self.aic),
            bic=_num(self.bic), pseudo_r2=_num(self.pseudo_r2),
            cov_type=self.cov_type, method=self.method,
        )  # fmt: skip
        return out

    def summary(self) -> str:
        """A statsmodels-like table, one block of rows per non-reference class."""
        inf = self.inference
        tail = (1 - inf.confidence) / 2
        columns = {"coef": 11, "std err": 11, "z": 9, "P>|z|": 8,
                   f"[{tail:.3f}": 11, f"{1 - tail:.3f}]": 11}  # fmt: skip
        width = max(12, *(len(n) for n in self.names))
        head = " ".join([" " * width, *(f"{c:>{w}}" for c, w in columns.items())])
        rule = "=" * len(head)
        words = (
            "maximum likelihood" if self.l2 == 0 else f"L2 penalty, alpha={self.l2:g}"
        )
        ref = "" if self.symmetric else f", reference class {plain(self.classes[0])!r}"
        lines = [
            f"Multinomial logistic regression ({words}), {self.n_classes} classes{ref}",
            rule,
            f"solver: {self.solver}   status: {self.status}   iterations: "
            f"{self.n_iter}   ||grad||_inf: {self.grad_norm:.2e} (tol {self.tol:g})",
            f"rows: {self.n_samples}   log-loss: {self.log_loss:.10g}   "
            f"time: {self.seconds:.3f} s",
            f"llf: {self.llf:.6g}   llnull: {self.llnull:.6g}   pseudo R2: "
            f"{self.pseudo_r2:.4f}   AIC: {self.aic:.6g}   BIC: {self.bic:.6g}   "
            f"covariance: {self.cov_type}",
            rule,
        ]
        size = len(self.names)
        for j, c in enumerate(self.coef_classes):
            lines += [f"class {plain(c)!r}", head, "-" * len(head)]
            for i, name in enumerate(self.names):
                q = j * size + i
                lines.append(
                    f"{name:<{width}} {inf.coef[q]:>11.4g} {inf.std_err[q]:>11.4g} "
                    f"{inf.z[q]:>9.3f} {inf.p_value[q]:>8.3f} {inf.ci_low[q]:>11.4g} "
                    f"{inf.ci_high[q]:>11.4g}"
                )
            lines.append(rule)
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def save(self, path: Any) -> None:
        """Write the model as one JSON document (:func:`jaxlogloss.load_model`)."""
        from jaxlogloss.fitting.checkpoint import atomic_write_text

        text = json.dumps(model_document(self), indent=1, allow_nan=False)
        atomic_write_text(path, text + "\n")


def model_document(result: MultinomialResult) -> dict[str, Any]:
    """The JSON-able document of a multinomial fit (the binary document's keys, with
    ``coef`` (d lists of K-1), ``intercept`` (K-1) and ``classes``)."""
    from jaxlogloss.fitting.persist import FORMAT, FORMAT_VERSION, package_version

    inf, stats = result.inference, result.statistics
    book = result.codebook or Codebook(tuple((n, None) for n in result.feature_names))
    nums = lambda a: [_num(x) for x in np.ravel(a)]  # noqa: E731
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "model": MODEL,
        "dtype": None if stats is None else stats.dtype,
        "penalty": {"name": result.penalty, "alpha": result.l2},
        "encoding": book.to_dict(),
        "classes": [plain(c) for c in result.classes],
        "symmetric": result.symmetric,
        "fit_intercept": result.fit_intercept,
        "feature_names": list(result.feature_names),
        "intercept": nums(result.intercept),
        "coef": [nums(row) for row in result.coef],
        "covariance": {
            "names": list(inf.names),
            "cov_type": result.cov_type,
            "confidence": inf.confidence,
            "matrix": [nums(row) for row in inf.covariance],
        },
        "fit": {
            k: getattr(result, k)
            if k in ("n_iter", "status", "solver", "n_samples")
            else _num(getattr(result, k))
            for k in _DIAGNOSTICS
        },  # fmt: skip
        "warnings": list(result.warnings),
    }
    if stats is not None:
        doc["statistics"] = {
            "llf": _num(stats.llf), "llnull": _num(stats.llnull),
            "nobs": _num(stats.nobs), "n_params": stats.n_params, "dtype": stats.dtype,
        }  # fmt: skip
    return doc


def from_document(doc: dict[str, Any]) -> MultinomialResult:
    """The result a :func:`model_document` describes (KeyError/ValueError when it is
    inconsistent: :func:`jaxlogloss.load_model` words it)."""

    def floats(a: Any) -> np.ndarray:
        return np.array(
            [[math.nan if x is None else float(x) for x in row] for row in a]
        )

    names = tuple(doc["feature_names"])
    book = Codebook.from_dict(doc["encoding"])
    if book.feature_names != names:
        raise ValueError("its encoding does not give its feature names")
    classes = tuple(doc["classes"])
    coef = floats(doc["coef"]).reshape(len(names), -1)
    intercept = floats([doc["intercept"]]).ravel()
    symmetric = bool(doc.get("symmetric", False))
    m = len(classes) - (0 if symmetric else 1)
    cov_doc = doc["covariance"]
    cov = floats(cov_doc["matrix"])
    if coef.shape != (len(names), m) or intercept.shape != (m,):
        raise ValueError("coef or intercept has the wrong shape")
    fit_intercept = bool(doc.get("fit_intercept", True))
    flat = np.concatenate([intercept[None, :], coef], axis=0).T
    if not fit_intercept:
        flat = flat[:, 1:]
    if cov.shape != (flat.size, flat.size):
        raise ValueError("covariance has the wrong shape")
    inference = inference_from_covariance(
        tuple(cov_doc["names"]), flat.ravel(), cov, float(cov_doc["confidence"])
    )
    stats = None
    if "statistics" in doc:
        s = doc["statistics"]
        stats = ModelStatistics(
            llf=float(s["llf"]), llnull=float(s["llnull"]), nobs=float(s["nobs"]),
            n_params=int(s["n_params"]), dtype=s.get("dtype") or "float64",
        )  # fmt: skip
    fit = {k: (math.nan if v is None else v) for k, v in doc["fit"].items()}
    return MultinomialResult(
        classes=classes, feature_names=names, coef=coef, intercept=intercept,
        inference=inference, warnings=tuple(doc.get("warnings", ())),
        penalty=doc["penalty"]["name"], statistics=stats, codebook=book,
        symmetric=symmetric, fit_intercept=fit_intercept, **fit,
    )  # fmt: skip
