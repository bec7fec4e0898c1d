"""Built-in data sets for experiments, each a seeded, deterministic :class:`TabularData`.

* :func:`gaussian_classes`: two Gaussian classes a set distance apart (overlapping);
* :func:`separable`: linearly separable classes with a guaranteed margin (the case where
  the unregularised log-loss has no minimiser: the weights grow without bound);
* :func:`jacket_cardigan`: the case study of a clothing company predicting whether a
  customer buys a jacket or a cardigan from past behaviour, with labels drawn from a
  known logistic model (:data:`JACKET_TRUE_COEF`, :data:`JACKET_TRUE_INTERCEPT`);
  :func:`write_jacket_cardigan_csv` writes it as a CSV with string columns;
* :func:`breast_cancer`: scikit-learn's bundled Wisconsin breast-cancer data.

Every generator draws in float64 and then rounds to ``dtype``, so the float32 and
float64 versions of a data set hold the same numbers up to rounding. :data:`BUILTIN` and
:func:`load_builtin` look them up by name.
"""

from __future__ import annotations

import math
import os
import pathlib
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from jaxlogloss.data.arguments import count, float_dtype
from jaxlogloss.data.table import TabularData

JACKET_FEATURES = (
    "age",
    "visits_last_90d",
    "avg_basket_eur",
    "outdoor_share",
    "days_since_last_purchase",
    "cold_region",
    "newsletter",
    "returns_rate",
)

#: The true model of :func:`jacket_cardigan`, on the raw feature scale: the log-odds of
#: a jacket are ``JACKET_TRUE_INTERCEPT + sum(coef * feature)``. Older customers, late
#: and frequent returners lean to cardigans; outdoor buyers, big baskets and cold regions
#: to jackets; visits and the newsletter are irrelevant (coefficient 0).
JACKET_TRUE_COEF = types.MappingProxyType(
    {
        "age": -0.08,
        "visits_last_90d": 0.0,
        "avg_basket_eur": 0.035,
        "outdoor_share": 8.0,
        "days_since_last_purchase": -0.008,
        "cold_region": 2.5,
        "newsletter": 0.0,
        "returns_rate": -6.0,
    }
)
JACKET_TRUE_INTERCEPT = -0.9
JACKET_CLASSES = ("cardigan", "jacket")


def _seed(fn: str, seed: Any) -> int:
    return count(fn, "seed", seed, 0)


def _number(fn: str, name: str, value: Any, *, low: float, strict: bool) -> float:
    ok = (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > low if strict else value >= low)
    )
    if not ok:
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise ValueError(f"{fn}: {name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _unit_vector(rng: np.random.Generator, d: int) -> np.ndarray:
    u = rng.standard_normal(d)
    return u / np.linalg.norm(u)


def gaussian_classes(
    n: int = 1000,
    d: int = 2,
    *,
    separation: float = 2.0,
    noise: float = 1.0,
    balance: float = 0.5,
    seed: int = 0,
    dtype: Any = "float32",
) -> TabularData:
    """Two Gaussian classes, covariance ``noise**2 * I``, means ``separation`` apart.

    The means are ``±separation / 2`` along a random unit direction; exactly
    ``balance * n`` rows (rounded half up, at random positions) are class 1. Features
    ``x0 ..``, classes ``(0, 1)``. With ``balance=0.5`` the Bayes error is
    ``Phi(-separation / (2 * noise))``.
    """
    fn = "gaussian_classes"
    n = count(fn, "n", n, 2)
    d = count(fn, "d", d, 1)
    separation = _number(fn, "separation", separation, low=0.0, strict=False)
    noise = _number(fn, "noise", noise, low=0.0, strict=True)
    if not (isinstance(balance, int | float) and 0 < balance < 1):
        raise ValueError(
            f"{fn}: balance (the share of class 1) must be in (0, 1), got {balance!r}"
        )
    n_pos = math.floor(balance * n + 0.5)
    if not 1 <= n_pos <= n - 1:
        raise ValueError(
            f"{fn}: balance={balance} gives {n_pos} of {n} rows in class 1; both "
            "classes need at least one row"
        )
    dt = float_dtype(fn, dtype)
    rng = np.random.default_rng(_seed(fn, seed))
    u = _unit_vector(rng, d)
    y = np.zeros(n)
    y[rng.choice(n, size=n_pos, replace=False)] = 1.0
    shift = (y - 0.5) * separation
    xt = np.empty((d, n), dt)
    for j in range(d):  # one row at a time: no float64 (d, n) temporary
        xt[j] = noise * rng.standard_normal(n) + u[j] * shift
    return TabularData(
        xt=xt,
        y=y.astype(dt),
        sample_weight=None,
        feature_names=tuple(f"x{j}" for j in range(d)),
        target="y",
        classes=(0, 1),
        source=(
            f"gaussian_classes(n={n}, d={d}, separation={separation:g}, "
            f"noise={noise:g}, balance={balance:g}, seed={seed})"
        ),
    )


def separable(
    n: int = 200,
    d: int = 2,
    *,
    margin: float = 0.5,
    seed: int = 0,
    dtype: Any = "float32",
) -> TabularData:
    """Linearly separable classes: ``y = 1`` iff ``x . u > 0`` and ``|x . u| >= margin``.

    ``u`` is a random unit direction. Points are standard Gaussian pushed ``margin``
    away from the hyperplane ``x . u = 0`` (``x . u = ±(margin + |g|)``, ``g ~ N(0,
    1)``), so the geometric margin of ``u`` is at least ``margin`` in the stored
    ``dtype`` values (a tiny extra offset covers the rounding to float32). ``n // 2``
    rows are class 1. Features ``x0 ..``, classes ``(0, 1)``.
    """
    fn = "separable"
    n = count(fn, "n", n, 2)
    d = count(fn, "d", d, 1)
    margin = _number(fn, "margin", margin, low=0.0, strict=True)
    dt = float_dtype(fn, dtype)
    rng = np.random.default_rng(_seed(fn, seed))
    u = _unit_vector(rng, d)
    y = np.zeros(n)
    y[rng.choice(n, size=n // 2, replace=False)] = 1.0
    sign = 2.0 * y - 1.0
    z = rng.standard_normal((d, n))
    along = sign * (margin + np.abs(rng.standard_normal(n)))
    x = z + np.outer(u, along - u @ z)
    # rounding x to dtype moves x . u by at most eps/2 * |x|: push that much further
    slack = 2 * np.finfo(dt).eps * np.linalg.norm(x, axis=0) + 4 * np.finfo(float).eps
    x += np.outer(u, sign * slack)
    return TabularData(
        xt=np.ascontiguousarray(x, dtype=dt),
        y=y.astype(dt),
        sample_weight=None,
        feature_names=tuple(f"x{j}" for j in range(d)),
        target="y",
        classes=(0, 1),
        source=f"separable(n={n}, d={d}, margin={margin:g}, seed={seed})",
    )


def _jacket_columns(
    n: int, seed: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Feature columns (float64), labels (bool, True = jacket), regions (str)."""
    main, extra = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(main)
    cols = {
        "age": np.clip(np.round(rng.normal(42.0, 13.0, n)), 18, 85),
        # visits vary a lot between customers: a gamma-Poisson (negative binomial)
        "visits_last_90d": rng.poisson(rng.gamma(2.0, 2.0, n)).astype(np.float64),
        "avg_basket_eur": np.round(rng.lognormal(math.log(60.0), 0.45, n), 2),
        "outdoor_share": np.round(rng.beta(2.0, 5.0, n), 3),
        "days_since_last_purchase": np.floor(rng.exponential(60.0, n)),
        "cold_region": (rng.random(n) < 0.4).astype(np.float64),
        "newsletter": (rng.random(n) < 0.35).astype(np.float64),
        "returns_rate": np.round(rng.beta(1.5, 10.0, n), 3),
    }
    logit = JACKET_TRUE_INTERCEPT + sum(
        coef * cols[name] for name, coef in JACKET_TRUE_COEF.items()
    )
    jacket = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    # the CSV's region: cold regions are "north", the rest "south" or "coastal"
    warm = np.where(np.random.default_rng(extra).random(n) < 0.5, "south", "coastal")
    region = np.where(cols["cold_region"] == 1, "north", warm)
    return cols, jacket, region


def jacket_cardigan(
    n: int = 2000, *, seed: int = 0, dtype: Any = "float32"
) -> TabularData:
    """Customers who bought a jacket (1) or a cardigan (0), from their past behaviour.

    Features (raw scale): ``age`` (years, 18-85), ``visits_last_90d`` (shop visits),
    ``avg_basket_eur`` (mean basket in euros), ``outdoor_share`` (share of past
    purchases that were outdoor gear), ``days_since_last_purchase``, ``cold_region``
    (0/1), ``newsletter`` (0/1), ``returns_rate`` (share of items returned). Labels are
    drawn from the logistic model :data:`JACKET_TRUE_COEF` / :data:`JACKET_TRUE_INTERCEPT`,
    so the classes overlap (a fitted model is right about 80% of the time); about half
    the customers buy a jacket. Target ``purchase``, classes ``("cardigan", "jacket")``.
    """
    fn = "jacket_cardigan"
    n = count(fn, "n", n, 2)
    dt = float_dtype(fn, dtype)
    cols, jacket, _ = _jacket_columns(n, _seed(fn, seed))
    xt = np.empty((len(JACKET_FEATURES), n), dt)
    for j, name in enumerate(JACKET_FEATURES):
        xt[j] = cols[name]
    return TabularData(
        xt=xt,
        y=jacket.astype(dt),
        sample_weight=None,
        feature_names=JACKET_FEATURES,
        target="purchase",
        classes=JACKET_CLASSES,
        source=f"jacket_cardigan(n={n}, seed={seed})",
    )


def write_jacket_cardigan_csv(
    path: str | os.PathLike, n: int = 2000, *, seed: int = 0
) -> pathlib.Path:
    """Write :func:`jacket_cardigan` as a CSV (gzip-compressed for ``.csv.gz``).

    The same customers and labels, but with a string target column ``purchase``
    (``"jacket"`` / ``"cardigan"``) and, instead of ``cold_region``, a string column
    ``region`` in ``{"north", "south", "coastal"}`` (north = cold). Read it back with
    ``read_table(path, target="purchase", positive="jacket")``: ``region`` becomes the
    one-hot columns ``region[north]`` and ``region[south]``. Returns the path.
    """
    fn = "write_jacket_cardigan_csv"
    n = count(fn, "n", n, 2)
    cols, jacket, region = _jacket_columns(n, _seed(fn, seed))
    integer = {"age", "visits_last_90d", "days_since_last_purchase", "newsletter"}
    arrays = {}
    for name in JACKET_FEATURES:
        if name == "cold_region":
            arrays["region"] = pa.array(region.tolist(), pa.string())
        elif name in integer:
            arrays[name] = pa.array(cols[name].astype(np.int64))
        else:
            arrays[name] = pa.array(cols[name])
    arrays["purchase"] = pa.array(np.where(jacket, "jacket", "cardigan").tolist())
    path = pathlib.Path(path)
    with pa.output_stream(str(path), compression="detect") as out:
        pacsv.write_csv(pa.table(arrays), out, pacsv.WriteOptions(quoting_style="none"))
    return path


def breast_cancer(dtype: Any = "float32") -> TabularData:
    """scikit-learn's breast-cancer data: 569 tumours, 30 features, y = 1 for benign.

    Classes ``("malignant", "benign")`` as in ``sklearn.datasets.load_breast_cancer``
    (212 malignant, 357 benign); the features keep scikit-learn's names.
    """
    fn = "breast_cancer"
    dt = float_dtype(fn, dtype)
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError as err:
        raise ImportError(
            f"{fn}: needs scikit-learn, which is not installed; pip install "
            "scikit-learn"
        ) from err
    bunch = load_breast_cancer()
    return TabularData(
        xt=np.ascontiguousarray(bunch.data.T, dtype=dt),  # the one copy, (d, n)
        y=np.asarray(bunch.target, dtype=dt),
        sample_weight=None,
        feature_names=tuple(str(name) for name in bunch.feature_names),
        target="diagnosis",
        classes=tuple(str(name) for name in bunch.target_names),
        source="sklearn.datasets.load_breast_cancer",
    )


BUILTIN: dict[str, Callable[..., TabularData]] = {
    "gaussian": gaussian_classes,
    "separable": separable,
    "jackets": jacket_cardigan,
    "breast_cancer": breast_cancer,
}


def load_builtin(name: str, **kwargs: Any) -> TabularData:
    """The built-in data set ``name`` (a key of :data:`BUILTIN`), made with ``kwargs``.

    >>> load_builtin("jackets", n=100).classes
    ('cardigan', 'jacket')
    """
    if not isinstance(name, str) or name not in BUILTIN:
        raise ValueError(
            f"load_builtin: unknown data set {name!r}; expected one of "
            f"{', '.join(repr(k) for k in BUILTIN)}"
        )
    return BUILTIN[name](**kwargs)
