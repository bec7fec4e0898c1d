"""A saved model read back: :func:`load_model` (the document of :mod:`persist`)."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from jaxlogloss.data.codebook import Codebook
from jaxlogloss.fitting.inference import inference_from_covariance
from jaxlogloss.fitting.multinomial_result import MODEL as MULTINOMIAL
from jaxlogloss.fitting.multinomial_result import MultinomialResult, from_document
from jaxlogloss.fitting.persist import FORMAT, FORMAT_VERSION, package_version
from jaxlogloss.fitting.result import FitResult
from jaxlogloss.fitting.statistics import ModelStatistics


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)


def load_model(path: str | os.PathLike[str]) -> FitResult | MultinomialResult:
    """The fit saved at ``path`` by :meth:`FitResult.save` (a
    :class:`~jaxlogloss.fitting.multinomial_result.MultinomialResult` for a
    multinomial model).

    Raises ValueError (one line) when the file is not a jaxlogloss model, is of a newer
    format version than this package reads, or is inconsistent.
    """
    fn = "load_model"
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as err:
        raise ValueError(f"{fn}: cannot read model file '{path}': {err}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{fn}: '{path}' is not a JSON model file: {err}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{fn}: '{path}' is not a jaxlogloss model file")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{fn}: '{path}' has model format version {version!r}, newer than this "
            f"jaxlogloss ({package_version()}) reads ({FORMAT_VERSION}); upgrade "
            "jaxlogloss"
        )
    try:
        if doc.get("model") == MULTINOMIAL:
            return from_document(doc)
        return _result(doc)
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ValueError(
            f"{fn}: '{path}' is an inconsistent model file: {err}"
        ) from None


def _result(doc: dict[str, Any]) -> FitResult:
    names = tuple(doc["feature_names"])
    book = Codebook.from_dict(doc["encoding"])
    if book.feature_names != names:
        raise ValueError("its encoding does not give its feature names")
    coef = np.array([_float(c) for c in doc["coef"]])
    cov_doc = doc["covariance"]
    cov = np.array([[_float(v) for v in row] for row in cov_doc["matrix"]])
    if coef.shape != (len(names),) or cov.shape != (len(names) + 1,) * 2:
        raise ValueError("coef or covariance has the wrong shape")
    intercept = _float(doc["intercept"])
    inference = inference_from_covariance(
        ("intercept", *names),
        np.r_[intercept, coef],
        cov,
        float(cov_doc["confidence"]),
    )
    stats = None
    if "statistics" in doc:
        s = dict(doc["statistics"])
        s["slope_grad"] = np.array([_float(v) for v in s["slope_grad"]])
        for k in ("llf", "llnull", "nobs", "slope_mean", "positive_weight"):
            s[k] = _float(s[k])
        stats = ModelStatistics(**s)
    fit = dict(doc["fit"])
    for k in ("log_loss", "objective", "l2", "tol", "grad_norm", "seconds"):
        fit[k] = _float(fit[k])
    return FitResult(
        feature_names=names, intercept=intercept, coef=coef, inference=inference,
        loss_history=np.zeros(0), warnings=tuple(doc.get("warnings", ())),
        statistics=stats, codebook=book, **fit,
    )  # fmt: skip
