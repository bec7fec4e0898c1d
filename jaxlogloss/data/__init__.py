"""Data in: the design matrix and its layouts, tables, readers, streams, data sets."""

from jaxlogloss.data.table import CSV_EXTENSIONS as CSV_EXTENSIONS
from jaxlogloss.data.table import DTYPES as DTYPES
from jaxlogloss.data.table import EXTENSIONS as EXTENSIONS
from jaxlogloss.data.table import PARQUET_EXTENSIONS as PARQUET_EXTENSIONS
from jaxlogloss.data.table import DataError as DataError
from jaxlogloss.data.table import TabularData as TabularData
from jaxlogloss.data.table import read_table as read_table
from jaxlogloss.data.table import standardize as standardize
from jaxlogloss.data.table import unstandardize_coef as unstandardize_coef
