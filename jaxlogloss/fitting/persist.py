"""A fitted model kept as one JSON document: :func:`save_model` and :func:`load_model`.

The document (``"format": "jaxlogloss-model"``, :data:`FORMAT_VERSION`) records what
is needed to apply the model to new rows and to keep doing statistics with it:

* ``encoding``: the target column, its classes and positive label, and per feature
  column ``numeric`` or ``categorical`` with its sorted levels and the dropped (first)
  level (:class:`~jaxlogloss.data.codebook.Codebook`);
* ``feature_names``, ``intercept``, ``coef`` and the ``covariance`` (intercept first,
  with its ``cov_type``), the dtype, the penalty and its alpha;
* the fit's diagnostics and statistics (llf, llnull, ...), the package version.

:func:`load_model` gives back a :class:`~jaxlogloss.fitting.result.FitResult` whose
coefficients, covariance, tests and marginal effects equal the saved fit's. It refuses
a document of a newer format version. Writing is atomic (temp file, then rename).
"""

from __future__ import annotations

import json
import math
import os
from importlib import metadata
from typing import Any

import numpy as np

from jaxlogloss.data.codebook import Codebook, codebook_of
from jaxlogloss.fitting.checkpoint import atomic_write_text
from jaxlogloss.fitting.inference import inference_from_covariance
from jaxlogloss.fitting.result import FitResult
from jaxlogloss.fitting.statistics import ModelStatistics

FORMAT = "jaxlogloss-model"
FORMAT_VERSION = 1
_DIAGNOSTICS = ("log_loss", "objective", "n_iter", "status", "solver", "l2", "tol",
                "grad_norm", "n_samples", "seconds")  # fmt: skip
_STATS = ("llf", "llnull", "nobs", "n_params", "cov_type", "n_groups", "offset",
          "dtype", "slope_mean", "positive_weight")  # fmt: skip


def package_version() -> str:
    try:
        return metadata.version("jaxlogloss")
    except metadata.PackageNotFoundError:
        return "unknown"


def _num(x: Any) -> Any:
    if isinstance(x, bool | str | int) or x is None:
        return x
    x = float(x)
    return x if math.isfinite(x) else None


def _nums(values: Any) -> list:
    return [_num(v) for v in np.asarray(values, np.float64).ravel()]


def model_document(result: FitResult) -> dict[str, Any]:
    """The JSON-able document of a fit (module docstring)."""
    inf = result.inference
    book = result.codebook or codebook_of(None, result.feature_names)
    stats = result.statistics
    penalty = getattr(result, "penalty", None) or ("l2" if result.l2 else "none")
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "model": "binary_logistic",
        "dtype": None if stats is None else stats.dtype,
        "penalty": {"name": penalty, "alpha": result.l2},
        "encoding": book.to_dict(),
        "feature_names": list(result.feature_names),
        "intercept": _num(result.intercept),
        "coef": _nums(result.coef),
        "covariance": {
            "names": list(inf.names),
            "cov_type": result.cov_type,
            "confidence": inf.confidence,
            "matrix": [_nums(row) for row in inf.covariance],
        },
        "fit": {k: _num(getattr(result, k)) for k in _DIAGNOSTICS},
        "warnings": list(result.warnings),
    }
    if stats is not None:
        doc["statistics"] = {k: _num(getattr(stats, k)) for k in _STATS}
        doc["statistics"]["slope_grad"] = _nums(stats.slope_grad)
    return doc


def save_model(result: FitResult, path: str | os.PathLike[str]) -> None:
    """Write ``result`` to ``path`` as one JSON document, atomically."""
    text = json.dumps(model_document(result), indent=1, allow_nan=False)
    atomic_write_text(path, text + "\n")


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)


def load_model(path: str | os.PathLike[str]) -> FitResult:
    """The fit saved at ``path`` by :meth:`FitResult.save`.

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
        names, np.r_[intercept, coef], cov, float(cov_doc["confidence"])
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
