"""A fitted model kept as one JSON document: :func:`save_model` and :func:`load_model`.

The document (``"format": "jaxlogloss-model"``, :data:`FORMAT_VERSION`) records what
is needed to apply the model to new rows and to keep doing statistics with it:

* ``encoding``: the target column, its classes and positive label, and per feature
  column ``numeric`` or ``categorical`` with its sorted levels and the dropped (first)
  level (:class:`~jaxlogloss.data.codebook.Codebook`);
* ``feature_names``, ``intercept``, ``coef`` and the ``covariance`` (intercept first,
  with its ``cov_type``), the dtype, the penalty and its alpha;
* the fit's diagnostics and statistics (llf, llnull, ...), the package version.

:func:`jaxlogloss.fitting.load.load_model` gives back a :class:`~jaxlogloss.fitting.result.FitResult` whose
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

from jaxlogloss.data.codebook import codebook_of
from jaxlogloss.fitting.checkpoint import atomic_write_text

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


def model_document(result: Any) -> dict[str, Any]:
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


def save_model(result: Any, path: str | os.PathLike[str]) -> None:
    """Write ``result`` to ``path`` as one JSON document, atomically."""
    text = json.dumps(model_document(result), indent=1, allow_nan=False)
    atomic_write_text(path, text + "\n")
