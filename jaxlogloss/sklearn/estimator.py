"""``LogisticRegression``: scikit-learn's binary logistic regression, fitted by
:func:`jaxlogloss.fit`.

scikit-learn minimises, with s the sample weights times the class weights,

    C sum_i s_i l(y_i, x_i w + b) + P(w),
    P = ||w||^2 / 2 ("l2"), ||w||_1 ("l1"), r ||w||_1 + (1 - r)/2 ||w||^2 ("elasticnet"),

and :func:`jaxlogloss.fit` minimises sum_i s_i l_i / S + alpha P(w) with S = sum_i s_i:
the same minimiser when alpha = 1 / (C S) (scikit-learn's own ``l2_reg_strength``;
S counts the class weights, as scikit-learn's does). ``penalty=None`` or ``C=inf`` fits
by maximum likelihood. Class weights are scikit-learn's
(:func:`sklearn.utils.class_weight.compute_class_weight`, weighted by sample_weight).

``fit_intercept=False``: :func:`jaxlogloss.fit` always fits an intercept, so the
estimator fits the symmetrised data [X; -X] with labels [y; 1 - y] and the same weights.
Since l(1 - y, -z) = l(y, z), that objective at (w, b) is the mean of the original one
at (w, b) and at (w, -b): convex and even in b, so (w, 0) is a minimiser whenever (w, b)
is, and w minimises the no-intercept objective exactly (same alpha: the mean is
unchanged). It costs a fit on 2n rows; ``fit_result_`` is then the fit of the
symmetrised data, whose standard errors (the information of 2n rows) are not the
no-intercept model's.

K > 2 classes fit scikit-learn's multinomial model (softmax over K weight vectors,
``coef_`` (K, d), ``intercept_`` (K,)) with :func:`jaxlogloss.fitting.multinomial.
fit_softmax`: with ``penalty="l2"`` the symmetric objective C sum_i s_i l_i +
||W||_F^2 / 2, whose minimiser is unique and is scikit-learn's (its intercepts are
unpenalised, so only their differences are determined: they are centred to sum 0, as
scikit-learn's L-BFGS keeps them); with no penalty the reference-class maximum
likelihood fit, centred the same way. L1 and elastic net, and solvers other than
"auto", "newton" and "lbfgs", are binary only (a ValueError with K > 2).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import validate_data

from jaxlogloss.fitting.fit import fit, solver_names
from jaxlogloss.fitting.multinomial import fit_softmax
from jaxlogloss.fitting.multinomial_result import MultinomialResult
from jaxlogloss.fitting.result import fit_warnings

PENALTIES = {"l2": "l2", "l1": "l1", "elasticnet": "elasticnet", None: "none"}


class LogisticRegression(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression with scikit-learn's parameters (see the module): binary,
    or multinomial for K > 2 classes.

    Args:
      penalty: "l2" (default), "l1", "elasticnet" or None (maximum likelihood).
      C: inverse penalty strength > 0 (``np.inf``: no penalty); alpha = 1 / (C S).
      l1_ratio: r in [0, 1] for "elasticnet" (required there; ignored otherwise).
      class_weight: None, "balanced" or a mapping label -> weight.
      fit_intercept: whether to fit b (False: b = 0, see the module docstring).
      tol: stop when ||grad||_inf of the mean objective on standardised features
        (the KKT violation for L1/elastic net) is <= tol.
      max_iter: the solver's iteration budget.
      solver: "auto" (Newton for d <= 100, L-BFGS above; proximal Newton for L1/elastic
        net) or a :func:`jaxlogloss.fit` solver name ("newton", "lbfgs",
        "prox_newton", "fista", ...).

    Attributes: ``classes_`` (K,), ``coef_`` (1, d) for two classes, (K, d) for more,
    ``intercept_`` (1,) or (K,), ``n_iter_``
    (1,), ``n_features_in_``, ``feature_names_in_`` (given a DataFrame), and
    ``fit_result_``: the :class:`jaxlogloss.FitResult` (its status, warnings, and for
    L2/no penalty the standard errors).

    >>> from jaxlogloss.sklearn import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> LogisticRegression(C=1.0).fit(X, ["a", "b", "a", "b"]).predict(X).shape
    (4,)
    """

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "fit_intercept": ["boolean"],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "solver": [StrOptions({"auto", *solver_names()})],
    }

    def __init__(
        self,
        penalty: str | None = "l2",
        *,
        C: float = 1.0,
        l1_ratio: float | None = None,
        class_weight: Any = None,
        fit_intercept: bool = True,
        tol: float = 1e-8,
        max_iter: int = 100,
        solver: str = "auto",
    ) -> None:
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.class_weight = class_weight
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.input_tags.sparse = False
        return tags

    def _penalty(self) -> tuple[str, float | None]:
        """fit's penalty name and l1_ratio."""
        penalty = PENALTIES[self.penalty]
        if penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError(
                "LogisticRegression: l1_ratio must be a number in [0, 1] when "
                "penalty='elasticnet', got None"
            )
        if math.isinf(self.C):
            return "none", None
        return penalty, self.l1_ratio if penalty == "elasticnet" else None

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticRegression:
        """Fit on X (n, d) and class labels y (any sortable values; two: binary, more:
        multinomial), with optional sample weights."""
        self._validate_params()
        penalty, l1_ratio = self._penalty()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        type_of_target(y, input_name="y", raise_unknown=True)
        self.classes_ = np.unique(y)
        sample_weight = _weights(sample_weight, X.shape[0])
        if self.class_weight is not None:
            cw = compute_class_weight(
                self.class_weight, classes=self.classes_, y=y,
                sample_weight=sample_weight,
            )  # fmt: skip
            sample_weight = sample_weight * cw[np.searchsorted(self.classes_, y)]
        if not np.any(sample_weight > 0):
            raise ValueError(
                "LogisticRegression: the sample weights are all zero; at least one "
                "weight must be positive"
            )
        present = np.unique(y[sample_weight > 0])
        if present.size < 2:
            raise ValueError(
                "LogisticRegression needs samples of 2 classes with positive weight; "
                f"got {present.size} class: {present.tolist()!r}"
            )
        X64 = np.asarray(X, np.float64)
        total = float(sample_weight.sum())
        alpha = 0.0 if penalty == "none" else 1.0 / (self.C * total)
        if self.classes_.size > 2:
            return self._fit_multinomial(X64, y, sample_weight, penalty, alpha)
        labels = (y == self.classes_[1]).astype(np.float64)
        if not self.fit_intercept:  # symmetrise (module docstring)
            X64 = np.concatenate([X64, -X64])
            labels = np.concatenate([labels, 1.0 - labels])
            sample_weight = np.concatenate([sample_weight, sample_weight])
        X64, labels, sample_weight = _pad(X64, labels, sample_weight)
        result = fit(
            X64, labels, sample_weight=sample_weight, solver=self.solver,
            penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, tol=float(self.tol),
            max_iter=int(self.max_iter),
        )  # fmt: skip
        result = self._reported(result, X.shape[0] * (1 if self.fit_intercept else 2))
        self.coef_ = np.asarray(result.coef, np.float64)[None, :]
        self.intercept_ = np.array([result.intercept if self.fit_intercept else 0.0])
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.fit_result_ = result
        return self

    def _reported(self, result: Any, rows: int) -> Any:
        """``result`` counting the caller's ``rows`` (not the padding), its warnings
        raised as ConvergenceWarnings."""
        said = fit_warnings(result.status, result.solver, self.max_iter, rows)
        if isinstance(result, MultinomialResult):  # its own words (no Firth there)
            said = result.warnings
        result = dataclasses.replace(result, n_samples=rows, warnings=said)
        for message in result.warnings:
            warnings.warn(f"jaxlogloss: {message}", ConvergenceWarning, stacklevel=4)
        return result

    def _fit_multinomial(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, penalty: str,
        alpha: float,
    ) -> LogisticRegression:  # fmt: skip
        """K > 2 classes (module docstring): coef_ (K, d), intercept_ (K,)."""
        fn = "LogisticRegression"
        k = self.classes_.size
        if penalty not in ("l2", "none"):
            raise ValueError(
                f"{fn}: penalty={self.penalty!r} supports two classes only; with "
                f"{k} classes use penalty='l2' or None"
            )
        codes = np.searchsorted(self.classes_, y).astype(np.float64)
        X, codes, sample_weight = _pad(X, codes, sample_weight)
        result = fit_softmax(
            fn, X, codes.astype(np.int64), tuple(range(k)), sample_weight=sample_weight,
            alpha=alpha, solver=self.solver, tol=float(self.tol),
            max_iter=int(self.max_iter), symmetric=alpha > 0,
            fit_intercept=self.fit_intercept,
        )  # fmt: skip
        result = self._reported(result, y.shape[0])
        coef, intercept = result.coef, result.intercept
        if not result.symmetric:  # the reference class's zero column
            coef = np.concatenate([np.zeros((coef.shape[0], 1)), coef], axis=1)
            intercept = np.r_[0.0, intercept]
        self.coef_ = (coef - coef.mean(axis=1, keepdims=True)).T
        self.intercept_ = intercept - intercept.mean()
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.fit_result_ = result
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, K): P(classes_[k]); sigmoid(x w + b) for two classes, softmax of the
        K decision values for more."""
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """(n, K): log P, as log-sigmoid / log-softmax (accurate far in the tails)."""
        z = self.decision_function(X)
        if z.ndim == 2:  # K > 2 classes
            top = z.max(axis=1, keepdims=True)
            return z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
        return _log_proba(z)


PAD_UP_TO, PAD_AT_LEAST = 4096, 256


def _pad(X: np.ndarray, y: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
    """Up to PAD_UP_TO rows, pad to the next power of two (at least 256) with rows of
    weight 0: a zero weight takes a row out of every sum (loss, gradient, Hessian,
    scaling, separation check), so the fit is the same, and fits on data of similar
    size reuse one compiled program (compiling costs more than fitting small data)."""
    n = X.shape[0]
    if n > PAD_UP_TO:
        return X, y, c
    extra = max(PAD_AT_LEAST, 1 << (n - 1).bit_length()) - n
    return (
        np.concatenate([X, np.zeros((extra, X.shape[1]))]),
        np.concatenate([y, np.zeros(extra)]),
        np.concatenate([c, np.zeros(extra)]),
    )


def _log_proba(z: np.ndarray) -> np.ndarray:
    """[log sigmoid(-z), log sigmoid(z)] column by column."""
    return np.column_stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])


def _weights(sample_weight: Any, n: int) -> np.ndarray:
    """(n,) float64 non-negative finite weights (ones for None)."""
    if sample_weight is None:
        return np.ones(n)
    if isinstance(sample_weight, numbers.Number):
        return np.full(n, float(sample_weight))
    sw = check_array(sample_weight, ensure_2d=False, dtype=np.float64,
                     input_name="sample_weight")  # fmt: skip
    if sw.shape != (n,):
        raise ValueError(
            f"LogisticRegression: sample_weight.shape == {sw.shape}, expected ({n},)"
        )
    if np.any(sw < 0):
        raise ValueError("LogisticRegression: sample_weight must be non-negative")
    return sw
