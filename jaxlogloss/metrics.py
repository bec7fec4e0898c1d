"""Evaluation metrics for binary classifiers: accuracy, ROC AUC, Brier score, ECE.

Each public metric validates its inputs at the boundary (see ``_validation``): labels
in {0, 1}, probabilities in [0, 1] and finite (scores finite), ``y`` and ``p`` of the
same shape and non-empty, weights non-negative and not all zero, a float dtype for
``p``. The value is then computed by a private, unchecked, jit-compiled function, so
every metric can also be called inside ``jit`` / ``vmap``: there only the shape and
dtype checks run (tracers have no values), and an undefined value (ROC AUC with one
class) comes back as NaN instead of an error.

Arrays of any shape are accepted; every entry is one example (the metrics are taken
over the flattened arrays). Results are arrays in ``p``'s (``scores``') dtype.
Accuracy, ROC AUC and the calibration bins accumulate in at least float32, so
float16 / bfloat16 inputs still count correctly; the Brier score is ``mse_loss``'s
computation, in ``p``'s dtype. :func:`evaluate` runs several metrics at once on the
host and returns Python floats.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss import _validation as v
from jaxlogloss.losses import pointwise as losses

Array = jax.Array


# --- private, unchecked functions (jit-compatible; inputs already validated) --------


def _acc_dtype(dtype: Any) -> Any:
    """The dtype sums run in: ``dtype`` widened to at least float32."""
    return jnp.promote_types(dtype, jnp.float32)


def _flat_weights(y: Array, sample_weight: Array | None, acc: Any) -> Array:
    if sample_weight is None:
        return jnp.ones(y.size, acc)
    return sample_weight.ravel().astype(acc)


@jax.jit
def _accuracy(
    y: Array, p: Array, threshold: Array, sample_weight: Array | None
) -> Array:
    """sum_i w_i [(p_i > t) == y_i] / sum_i w_i."""
    acc = _acc_dtype(p.dtype)
    w = _flat_weights(y, sample_weight, acc)
    predicted = p.ravel() > threshold.astype(p.dtype)
    correct = (predicted == (y.ravel() == 1)).astype(acc)
    return (jnp.sum(w * correct) / jnp.sum(w)).astype(p.dtype)


@jax.jit
def _roc_auc(y: Array, scores: Array, sample_weight: Array | None) -> Array:
    """Weighted ROC AUC with ties counted one half; NaN when a class has no weight.

    Each group g of tied scores is one threshold of the ROC curve, and its trapezoid
    is P_g (N_<g + N_g / 2) = P_g (N_<g + N_<=g) / 2, with P_g, N_g the group's
    positive and negative weight and N_<g, N_<=g the negative weight below / up to
    the group. After one sort by score, N_<g is the cumulative negative weight just
    before the group's first entry and N_<=g the one at its last entry; a running
    max (forward, and backward for the ends) hands both to every entry of the group.
    AUC = sum_g P_g (N_<g + N_<=g) / 2 / (W+ W-).
    """
    acc = _acc_dtype(scores.dtype)
    w = _flat_weights(y, sample_weight, acc)
    label = y.ravel().astype(acc)
    # the sort puts -0.0 right before 0.0, and != joins them in one group
    s, pos, neg = jax.lax.sort(
        (scores.ravel(), w * label, w * (1 - label)), num_keys=1, is_stable=False
    )
    upto = jnp.cumsum(neg)  # N up to and including each entry: nondecreasing
    before = jnp.concatenate([jnp.zeros(1, acc), upto[:-1]])
    new = s[1:] != s[:-1]
    first = jnp.concatenate([jnp.ones(1, bool), new])
    last = jnp.concatenate([new, jnp.ones(1, bool)])
    runs = jax.lax.cummax(
        jnp.stack(
            [jnp.where(first, before, 0), jnp.where(last, -upto, -jnp.inf)[::-1]]
        ),
        axis=1,
    )
    below, through = runs[0], -runs[1][::-1]  # N_<g and N_<=g of each entry's group
    area = jnp.sum(pos * (below + through)) / 2
    total_pos, total_neg = jnp.sum(pos), upto[-1]
    auc = area / (total_pos * total_neg)
    defined = (total_pos > 0) & (total_neg > 0)
    return jnp.where(defined, auc, jnp.nan).astype(scores.dtype)


@jax.jit
def _brier(y: Array, p: Array, sample_weight: Array | None) -> Array:
    """sum_i w_i (p_i - y_i)^2 / sum_i w_i (the same computation as ``mse_loss``)."""
    return losses.reduce_loss(losses.mse_pointwise(y, p), sample_weight, "mean")


def _bin_edges(n_bins: int, dtype: Any) -> np.ndarray:
    """b / n_bins for b = 0..n_bins, rounded to ``dtype`` (a constant of the program).

    Rounding the float64 quotient once more to a narrower dtype gives the correctly
    rounded quotient in that dtype (for n_bins < 2^28, k / n is never close enough to
    a rounding midpoint of the narrower dtype for the first rounding to matter).
    """
    return (np.arange(n_bins + 1, dtype=np.float64) / n_bins).astype(dtype)


def _bin_sums(
    y: Array, p: Array, sample_weight: Array | None, n_bins: int
) -> tuple[Array, Array, Array]:
    """Per bin: sum of w, sum of w p, sum of w y (accumulated in >= float32)."""
    acc = _acc_dtype(p.dtype)
    flat_p = p.ravel()
    edges = jnp.asarray(_bin_edges(n_bins, p.dtype))
    # bin b holds edges[b] <= p < edges[b + 1]; p == 1 joins the last bin. A binary
    # search (a loop: compiles the same for any n_bins) is exact for any edges, even
    # ones that coincide when p's dtype is coarser than 1 / n_bins.
    found = jnp.searchsorted(edges, flat_p, side="right", method="scan")
    bins = jnp.clip(found - 1, 0, n_bins - 1)
    w = _flat_weights(y, sample_weight, acc)
    zeros = jnp.zeros(n_bins, acc)
    weight = zeros.at[bins].add(w)
    sum_p = zeros.at[bins].add(w * flat_p.astype(acc))
    sum_y = zeros.at[bins].add(w * y.ravel().astype(acc))
    return weight, sum_p, sum_y


@functools.partial(jax.jit, static_argnames=("n_bins",))
def _calibration(
    y: Array, p: Array, sample_weight: Array | None, n_bins: int
) -> tuple[Array, tuple[Array, Array, Array]]:
    """ECE and the reliability curve (mean p, mean y, weight per bin) of one binning.

    ECE = sum_b (W_b / W) |mean_y_b - mean_p_b| = sum_b |S_y,b - S_p,b| / W over the
    non-empty bins (empty ones add 0); the curve's means are NaN in empty bins. One
    compiled function serves both public metrics (XLA drops the unused outputs).
    """
    weight, sum_p, sum_y = _bin_sums(y, p, sample_weight, n_bins)
    ece = jnp.sum(jnp.abs(sum_y - sum_p)) / jnp.sum(weight)
    filled = weight > 0
    safe = jnp.where(filled, weight, 1)
    mean_p = jnp.where(filled, sum_p / safe, jnp.nan)
    mean_y = jnp.where(filled, sum_y / safe, jnp.nan)
    curve = tuple(a.astype(p.dtype) for a in (mean_p, mean_y, weight))
    return ece.astype(p.dtype), curve


# name -> unchecked (y, p, sample_weight) -> 0-d array, with the public defaults.
# These are the very compiled functions the public metrics call (the same
# arguments' types included), so evaluate reuses their compilations.
BINARY_METRICS: dict[str, Callable[[Array, Array, Array | None], Array]] = {
    "log_loss": lambda y, p, sw: losses.reduce_pointwise(
        losses.log_loss_pointwise, y, p, sw, "mean"
    ),
    "accuracy": lambda y, p, sw: _accuracy(y, p, jnp.asarray(0.5, p.dtype), sw),
    "roc_auc": _roc_auc,
    "brier": _brier,
    "ece": lambda y, p, sw: _calibration(y, p, sw, 10)[0],
}


# --- checks at the boundary -----------------------------------------------------------


def _check_labels(fn: str, y: Array) -> None:
    """Labels must be exactly 0 or 1 (concrete arrays only)."""
    v.check_finite(fn, "y", y)
    if v.is_traced(y):
        return
    host = v._host(y)
    bad = (host != 0) & (host != 1)
    v._raise_first(
        fn, "y", bad, host, "must contain only the labels 0 and 1, got {value}"
    )


def _binary_inputs(
    fn: str, y: Any, x: Any, x_name: str, sample_weight: Any, probabilities: bool
) -> tuple[Array, Array, Array | None]:
    """Validated (y, x, sample_weight): y and weights cast to x's float dtype."""
    x = v.as_float(fn, x_name, x)
    y = v.as_labels(fn, "y", y, x.dtype)
    v.check_same_shape(fn, "y", y, x_name, x)
    v.check_nonempty(fn, "y", y)
    _check_labels(fn, y)
    v.check_finite(fn, x_name, x)
    if probabilities:
        v.check_interval(fn, x_name, x, "probabilities")
    sw = v.check_sample_weight(fn, sample_weight, y.shape, x.dtype)
    return y, x, sw


def _check_two_classes(fn: str, y: Array, sw: Array | None, what: str) -> None:
    """ValueError when one class is absent from ``y`` or carries no weight."""
    if v.is_traced(y):
        return
    labels = v._host(y).ravel() == 1
    for cls, members in ((1, labels), (0, ~labels)):
        if not members.any():
            raise ValueError(
                f"{fn}: y has only one class (all {1 - cls}); {what} is undefined"
            )
    if sw is None or v.is_traced(sw):
        return
    weights = v._host(sw).ravel()
    for cls, members in ((1, labels), (0, ~labels)):
        if not np.any(weights[members] > 0):
            raise ValueError(
                f"{fn}: sample_weight is zero on every example of class {cls} in y; "
                f"{what} is undefined"
            )


def _check_threshold(fn: str, threshold: Any) -> Array:
    t = v._as_array(fn, "threshold", threshold)
    if not (
        jnp.issubdtype(t.dtype, jnp.floating) or jnp.issubdtype(t.dtype, jnp.integer)
    ):
        raise TypeError(f"{fn}: threshold must be a real number, got dtype {t.dtype}")
    if t.ndim != 0:
        raise ValueError(
            f"{fn}: threshold must be a scalar, got shape {tuple(t.shape)}"
        )
    if not v.is_traced(t):
        value = float(v._host(t))
        if not 0 <= value <= 1:  # also NaN
            raise ValueError(
                f"{fn}: threshold must be a probability in [0, 1], got {v._fmt(value)}"
            )
    return t


def _check_n_bins(fn: str, n_bins: Any) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer):
        raise TypeError(
            f"{fn}: n_bins must be a Python int (it fixes the output shape, so it is "
            f"static under jit), got {type(n_bins).__name__}"
        )
    if n_bins < 1:
        raise ValueError(f"{fn}: n_bins must be >= 1, got {int(n_bins)}")
    return int(n_bins)


# --- public, validated metrics --------------------------------------------------------


def accuracy(
    y: Any, p: Any, *, threshold: Any = 0.5, sample_weight: Any = None
) -> Array:
    """Fraction of examples whose thresholded probability equals the label.

    acc = sum_i w_i [(p_i > threshold) == y_i] / sum_i w_i (w_i = 1 without weights),
    as ``sklearn.metrics.accuracy_score(y, p > threshold, sample_weight=w)``.

    Args:
      y: labels in {0, 1} (bool, int or float), same shape as ``p``.
      p: predicted probabilities of the positive class, in [0, 1], float dtype.
      threshold: a number in [0, 1]; ``p > threshold`` predicts the positive class
        (may be traced under jit; compared in ``p``'s dtype).
      sample_weight: optional non-negative weights of ``y``'s shape, not all zero.

    Returns:
      A 0-d array in ``p``'s dtype. E.g. ``accuracy([1, 0], [0.9, 0.6])`` is 0.5.
    """
    fn = "accuracy"
    t = _check_threshold(fn, threshold)
    y, p, sw = _binary_inputs(fn, y, p, "p", sample_weight, probabilities=True)
    return _accuracy(y, p, t.astype(p.dtype), sw)


def roc_auc(y: Any, scores: Any, *, sample_weight: Any = None) -> Array:
    """Area under the ROC curve: the weighted probability that a positive outranks a negative.

    AUC = sum_{i: y_i=1} sum_{j: y_j=0} w_i w_j ([s_i > s_j] + [s_i = s_j] / 2)
    / (W+ W-), i.e. the trapezoidal area under the ROC curve over the distinct scores
    (ties count one half); equals ``sklearn.metrics.roc_auc_score``. Computed with
    one sort and cumulative sums, O(n log n).

    Args:
      y: labels in {0, 1}, same shape as ``scores``; both classes must be present
        (with positive weight).
      scores: finite real numbers of a float dtype, any monotone scale (probabilities,
        logits, margins); only their order matters.
      sample_weight: optional non-negative weights of ``y``'s shape, not all zero.

    Returns:
      A 0-d array in ``scores``' dtype. With one class the AUC is undefined: a
      ValueError here, NaN when ``y`` is traced (inside jit / vmap).
      E.g. ``roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])`` is 0.75.
    """
    fn = "roc_auc"
    y, scores, sw = _binary_inputs(
        fn, y, scores, "scores", sample_weight, probabilities=False
    )
    _check_two_classes(fn, y, sw, "AUC")
    return _roc_auc(y, scores, sw)


def brier_score(y: Any, p: Any, *, sample_weight: Any = None) -> Array:
    """The Brier score: the weighted mean squared error of probabilities.

    BS = sum_i w_i (p_i - y_i)^2 / sum_i w_i; equals
    ``sklearn.metrics.brier_score_loss`` and ``mse_loss(y, p)``.

    Args:
      y: labels in {0, 1}, same shape as ``p``.
      p: probabilities of the positive class in [0, 1], float dtype.
      sample_weight: optional non-negative weights of ``y``'s shape, not all zero.

    Returns:
      A 0-d array in ``p``'s dtype. E.g. ``brier_score([1, 0], [0.9, 0.2])`` is 0.025.
    """
    fn = "brier_score"
    y, p, sw = _binary_inputs(fn, y, p, "p", sample_weight, probabilities=True)
    return _brier(y, p, sw)


def expected_calibration_error(
    y: Any, p: Any, *, n_bins: int = 10, sample_weight: Any = None
) -> Array:
    """Expected calibration error over equal-width probability bins.

    ECE = sum_b (W_b / W) |mean_y_b - mean_p_b| over the non-empty bins, with W_b the
    weight in bin b, W the total weight and the means weighted. Bin b (0-based) holds
    edge_b <= p < edge_{b+1}, edge_b = b / n_bins rounded to ``p``'s dtype (so p = 0.3
    lies in [0.3, 0.4)); p = 1 joins the last bin.

    Args:
      y: labels in {0, 1}, same shape as ``p``.
      p: probabilities of the positive class in [0, 1], float dtype.
      n_bins: number of bins, a Python int >= 1 (static: it fixes shapes under jit).
      sample_weight: optional non-negative weights of ``y``'s shape, not all zero.

    Returns:
      A 0-d array in ``p``'s dtype, in [0, 1].
      E.g. ``expected_calibration_error([1, 0], [0.9, 0.2])`` is 0.15.
    """
    fn = "expected_calibration_error"
    n_bins = _check_n_bins(fn, n_bins)
    y, p, sw = _binary_inputs(fn, y, p, "p", sample_weight, probabilities=True)
    return _calibration(y, p, sw, n_bins)[0]


def reliability_curve(
    y: Any, p: Any, *, n_bins: int = 10, sample_weight: Any = None
) -> tuple[Array, Array, Array]:
    """The reliability diagram's points: per bin, mean probability vs observed rate.

    For each equal-width bin b (as in :func:`expected_calibration_error`):
    mean_p_b = sum_{i in b} w_i p_i / W_b, mean_y_b = sum_{i in b} w_i y_i / W_b and
    W_b = sum_{i in b} w_i (the count without weights). ECE is
    ``nansum(W_b * |mean_y_b - mean_p_b|) / sum(W_b)``.

    Args: as in :func:`expected_calibration_error`.

    Returns:
      ``(bin_mean_p, bin_mean_y, bin_weight)``, three arrays of shape ``(n_bins,)``
      in ``p``'s dtype; the means are NaN for empty bins (weight 0).
    """
    fn = "reliability_curve"
    n_bins = _check_n_bins(fn, n_bins)
    y, p, sw = _binary_inputs(fn, y, p, "p", sample_weight, probabilities=True)
    return _calibration(y, p, sw, n_bins)[1]


METRICS: dict[str, Callable[..., Array]] = {
    "log_loss": losses.log_loss,
    "accuracy": accuracy,
    "roc_auc": roc_auc,
    "brier": brier_score,
    "ece": expected_calibration_error,
}

DEFAULT_METRICS = ("log_loss", "accuracy", "roc_auc", "brier", "ece")


def _metric_names(fn: str, metrics: Any) -> tuple[str, ...]:
    names = (metrics,) if isinstance(metrics, str) else metrics
    valid = ", ".join(repr(name) for name in METRICS)
    if not isinstance(names, Iterable):
        raise TypeError(
            f"{fn}: metrics must be a sequence of metric names ({valid}), got "
            f"{type(metrics).__name__}"
        )
    names = tuple(names)
    for name in names:
        if not isinstance(name, str) or name not in METRICS:
            raise ValueError(
                f"{fn}: unknown metric {name!r} in metrics; valid names are {valid}"
            )
    return tuple(dict.fromkeys(names))  # drop repeats, keep the order


def evaluate(
    y: Any,
    p: Any,
    metrics: Iterable[str] = DEFAULT_METRICS,
    *,
    sample_weight: Any = None,
) -> dict[str, float]:
    """Several metrics of probabilities ``p`` at once, as Python floats.

    The inputs are validated once (as for :func:`accuracy`; with "roc_auc" both
    classes must be present), then each requested metric runs unchecked with the
    defaults of ``METRICS`` (log-loss clipped at eps, threshold 0.5, 10 ECE bins),
    reusing the compilations of the single metrics, and all values are fetched
    together. A host-side function: it cannot be called under jit / vmap.

    Args:
      y: labels in {0, 1}, same shape as ``p``.
      p: probabilities of the positive class in [0, 1], float dtype.
      metrics: names from ``METRICS``: "log_loss", "accuracy", "roc_auc", "brier",
        "ece" (a single name may be given as a string).
      sample_weight: optional non-negative weights of ``y``'s shape, not all zero.

    Returns:
      ``{name: value}`` in the order of ``metrics``, e.g.
      ``evaluate([1, 0], [0.9, 0.2], ("accuracy", "brier"))`` is
      ``{"accuracy": 1.0, "brier": 0.025...}``.
    """
    fn = "evaluate"
    names = _metric_names(fn, metrics)
    y, p, sw = _binary_inputs(fn, y, p, "p", sample_weight, probabilities=True)
    if any(v.is_traced(a) for a in (y, p, sw)):
        raise TypeError(
            f"{fn}: returns Python floats, so it cannot run under jit/vmap/grad; got "
            "traced inputs (call the metric functions themselves there)"
        )
    if "roc_auc" in names:
        _check_two_classes(fn, y, sw, "roc_auc")
    values = jax.device_get({name: BINARY_METRICS[name](y, p, sw) for name in names})
    return {name: float(values[name]) for name in names}
