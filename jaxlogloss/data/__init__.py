"""Data in: the design matrix and its layouts, tables, readers, streams, data sets.

``standardize`` and ``unstandardize_coef`` moved to :mod:`jaxlogloss.model.scaling`;
the old names here still work for this release, with a ``DeprecationWarning``.
"""

import importlib
from typing import Any

from jaxlogloss.data.arguments import DTYPES as DTYPES

_MOVED_TO_SCALING = ("standardize", "unstandardize_coef")

# names that need pyarrow: loaded on first use, so that importing the package (and
# ``jaxlogloss``) does not import pyarrow
_LAZY = {
    "CSV_EXTENSIONS": "jaxlogloss.data.files",
    "EXTENSIONS": "jaxlogloss.data.files",
    "PARQUET_EXTENSIONS": "jaxlogloss.data.files",
    "DataError": "jaxlogloss.data.files",
    "TabularData": "jaxlogloss.data.table",
    "read_table": "jaxlogloss.data.table",
}


def __getattr__(name: str) -> Any:
    """The pyarrow names on first use; the names that moved to
    :mod:`jaxlogloss.model.scaling`, with a warning."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _MOVED_TO_SCALING:
        import warnings

        from jaxlogloss.model import scaling

        warnings.warn(
            f"jaxlogloss.data.{name} moved to jaxlogloss.model.scaling.{name}; import "
            "it from there (the old path goes away in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(scaling, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
