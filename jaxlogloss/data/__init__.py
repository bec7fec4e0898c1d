"""Data in: the design matrix and its layouts, tables, readers, streams, data sets.

``standardize`` and ``unstandardize_coef`` moved to :mod:`jaxlogloss.model.scaling`;
the old names here still work for this release, with a ``DeprecationWarning``.
"""

from typing import Any

from jaxlogloss.data.arguments import DTYPES as DTYPES
from jaxlogloss.data.files import CSV_EXTENSIONS as CSV_EXTENSIONS
from jaxlogloss.data.files import EXTENSIONS as EXTENSIONS
from jaxlogloss.data.files import PARQUET_EXTENSIONS as PARQUET_EXTENSIONS
from jaxlogloss.data.files import DataError as DataError
from jaxlogloss.data.table import TabularData as TabularData
from jaxlogloss.data.table import read_table as read_table

_MOVED_TO_SCALING = ("standardize", "unstandardize_coef")


def __getattr__(name: str) -> Any:
    """The names that moved to :mod:`jaxlogloss.model.scaling`, with a warning."""
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
