"""Metrics against scikit-learn and independent NumPy references, under jit and vmap."""

from __future__ import annotations

import functools
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.metrics
from conftest import rtol_for
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.calibration import calibration_curve

from jaxlogloss import metrics as jm
from jaxlogloss.losses import pointwise as losses
from jaxlogloss.precision import enable_x64

N = 200  # one array length for most tests: every new shape compiles


def binary_data(rng, n, dtype, ties=False):
    """Labels with both classes, probabilities, real scores, weights with some zeros.

    ``ties=True`` rounds probabilities and scores to one decimal (heavy ties, and
    probabilities exactly on the ECE bin edges).
    """
    y = (rng.random(n) < 0.4).astype(dtype)
    y[:2] = [0, 1]
    p = rng.random(n)
    s = rng.standard_normal(n) * 2
    if ties:
        p, s = np.round(p, 1), np.round(s, 1)
    w = rng.uniform(0.1, 3.0, n)
    w[2::9] = 0.0
    return y, p.astype(dtype), s.astype(dtype), w.astype(dtype)


def metric_tol(dtype):
    """Sums of n float32 weights round at ~n eps; float64 stays near 1e-12."""
    return 1e-5 if np.dtype(dtype) == np.float32 else 1e-12


# --- against scikit-learn ----------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_accuracy_equals_sklearn(rng, dtype, weighted):
    for ties in (False, True):
        y, p, _, w = binary_data(rng, N, dtype, ties)
        sw = w if weighted else None
        for threshold in (0.5, 0.3, 0.0, 1.0):
            out = jm.accuracy(y, p, threshold=threshold, sample_weight=sw)
            chex.assert_type(out, dtype)
            chex.assert_shape(out, ())
            ref = sklearn.metrics.accuracy_score(
                y, p > dtype(threshold), sample_weight=sw
            )
            np.testing.assert_allclose(out, ref, rtol=metric_tol(dtype))
    # bool and integer labels are the same labels
    for labels in (y.astype(bool), y.astype(np.int32)):
        np.testing.assert_array_equal(
            jm.accuracy(labels, p, sample_weight=sw),
            jm.accuracy(y, p, sample_weight=sw),
        )


@pytest.mark.parametrize("weighted", [False, True])
def test_roc_auc_equals_sklearn_with_and_without_ties(rng, dtype, weighted):
    for ties in (False, True):
        y, p, s, w = binary_data(rng, N, dtype, ties)
        sw = w if weighted else None
        for scores in (s, p):
            if ties:
                assert len(np.unique(scores)) < N // 2  # heavy ties
            out = jm.roc_auc(y, scores, sample_weight=sw)
            chex.assert_type(out, dtype)
            ref = sklearn.metrics.roc_auc_score(y, scores, sample_weight=sw)
            np.testing.assert_allclose(out, ref, rtol=metric_tol(dtype))


def test_roc_auc_equals_the_pair_count_definition(rng, dtype):
    y, _, s, w = binary_data(rng, N, dtype, ties=True)
    pos, neg = y == 1, y == 0
    diff = s[pos][:, None].astype(np.float64) - s[neg][None, :]
    pairs = np.outer(w[pos], w[neg]).astype(np.float64)
    ref = np.sum(pairs * ((diff > 0) + 0.5 * (diff == 0))) / pairs.sum()
    np.testing.assert_allclose(
        jm.roc_auc(y, s, sample_weight=w), ref, rtol=metric_tol(dtype)
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_brier_and_log_loss_equal_sklearn(rng, dtype, weighted):
    y, p, _, w = binary_data(rng, N, dtype)
    sw = w if weighted else None
    out = jm.brier_score(y, p, sample_weight=sw)
    chex.assert_type(out, dtype)
    ref = sklearn.metrics.brier_score_loss(y, p, sample_weight=sw)
    np.testing.assert_allclose(out, ref, rtol=10 * rtol_for(dtype))
    np.testing.assert_array_equal(out, losses.mse_loss(y, p, sample_weight=sw))
    log_ref = sklearn.metrics.log_loss(y, p, sample_weight=sw, labels=[0, 1])
    np.testing.assert_allclose(
        jm.METRICS["log_loss"](y, p, sample_weight=sw), log_ref, rtol=1e-6
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_evaluate_equals_the_single_metrics_and_sklearn(rng, dtype, weighted):
    y, p, _, w = binary_data(rng, N, dtype, ties=True)
    sw = w if weighted else None
    out = jm.evaluate(y, p, sample_weight=sw)
    assert list(out) == ["log_loss", "accuracy", "roc_auc", "brier", "ece"]
    assert all(type(value) is float for value in out.values())
    for name, fn in jm.METRICS.items():
        np.testing.assert_allclose(
            out[name], fn(y, p, sample_weight=sw), rtol=rtol_for(dtype)
        )
    refs = {
        "log_loss": sklearn.metrics.log_loss(y, p, sample_weight=sw, labels=[0, 1]),
        "accuracy": sklearn.metrics.accuracy_score(y, p > 0.5, sample_weight=sw),
        "roc_auc": sklearn.metrics.roc_auc_score(y, p, sample_weight=sw),
        "brier": sklearn.metrics.brier_score_loss(y, p, sample_weight=sw),
        "ece": ref_reliability(y, p, 10, sw)[3],
    }
    for name, ref in refs.items():
        np.testing.assert_allclose(out[name], ref, rtol=1e-5, err_msg=name)


def test_evaluate_selects_orders_and_dedups_names(rng):
    y, p, _, _ = binary_data(rng, N, np.float32)
    out = jm.evaluate(y, p, ["ece", "accuracy", "ece"])
    assert list(out) == ["ece", "accuracy"]
    assert jm.evaluate(y, p, "brier") == {"brier": float(jm.brier_score(y, p))}
    assert jm.evaluate(y, p, ()) == {}
    # one class is fine as long as roc_auc is not asked for
    ones = np.ones(N, np.float32)
    assert set(jm.evaluate(ones, p, ("accuracy", "log_loss"))) == {
        "accuracy",
        "log_loss",
    }


def test_tiny_inputs_equal_sklearn(dtype):
    for y, p in [
        ([1], [0.7]),
        ([0], [0.7]),
        ([0, 1], [0.2, 0.9]),
        ([1, 0], [0.5, 0.5]),
    ]:
        y, p = np.asarray(y, dtype), np.asarray(p, dtype)
        out = jm.evaluate(y, p, ("accuracy", "brier", "ece"))
        np.testing.assert_allclose(
            out["accuracy"], sklearn.metrics.accuracy_score(y, p > 0.5)
        )
        np.testing.assert_allclose(
            out["brier"],
            sklearn.metrics.brier_score_loss(y, p, pos_label=1),
            rtol=1e-6,
        )
        np.testing.assert_allclose(out["ece"], ref_reliability(y, p, 10)[3], rtol=1e-6)
    y2, w2 = np.array([0, 1], dtype), np.array([3, 1], dtype)
    # -0.0 and 0.0 are one tie, as in sklearn
    cases = [
        ([0.2, 0.8], 1.0),
        ([0.8, 0.2], 0.0),
        ([0.5, 0.5], 0.5),
        ([-0.0, 0.0], 0.5),
    ]
    for s, auc in cases:
        s = np.asarray(s, dtype)
        assert float(jm.roc_auc(y2, s, sample_weight=w2)) == auc
        assert sklearn.metrics.roc_auc_score(y2, s, sample_weight=w2) == auc
    with pytest.raises(ValueError, match=r"roc_auc: y has only one class \(all 1\)"):
        jm.roc_auc(np.ones(1, dtype), np.zeros(1, dtype))


def test_any_shape_counts_every_entry(rng):
    y, p, s, w = binary_data(rng, N, np.float32, ties=True)
    shaped = [a.reshape(8, 25) for a in (y, p, s, w)]
    np.testing.assert_allclose(
        jm.roc_auc(shaped[0], shaped[2], sample_weight=shaped[3]),
        jm.roc_auc(y, s, sample_weight=w),
        rtol=1e-6,
    )


# --- ECE and the reliability curve against NumPy ------------------------------------------


def ref_reliability(y, p, n_bins, w=None):
    """NumPy float64 reference: (mean_p, mean_y, weight, ece).

    Bin edges are k / n_bins rounded to p's dtype; np.digitize assigns
    edge_b <= p < edge_{b+1}, and p = 1 is moved into the last bin.
    """
    p = np.asarray(p)
    wide = np.result_type(p.dtype, np.float32)  # bfloat16 has no integers above 256
    edges = (np.arange(n_bins + 1, dtype=wide) / wide.type(n_bins)).astype(p.dtype)
    bins = np.minimum(np.digitize(p, edges) - 1, n_bins - 1)
    w = np.ones(p.shape) if w is None else np.asarray(w, np.float64)
    weight = np.bincount(bins, weights=w, minlength=n_bins)
    # np.histogram (last bin closed) must agree with the digitize binning
    np.testing.assert_allclose(np.histogram(p, bins=edges, weights=w)[0], weight)
    sum_p = np.bincount(bins, weights=w * p.astype(np.float64), minlength=n_bins)
    sum_y = np.bincount(bins, weights=w * np.asarray(y, np.float64), minlength=n_bins)
    filled = weight > 0
    mean_p, mean_y = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
    mean_p[filled] = sum_p[filled] / weight[filled]
    mean_y[filled] = sum_y[filled] / weight[filled]
    ece = np.sum(weight[filled] / weight.sum() * np.abs(mean_y - mean_p)[filled])
    return mean_p, mean_y, weight, ece


@pytest.mark.parametrize("weighted", [False, True])
def test_ece_and_reliability_curve_equal_numpy(rng, dtype, weighted):
    tol = dict(rtol=metric_tol(dtype), atol=10 * np.finfo(dtype).eps)
    for ties in (False, True):
        y, p, _, w = binary_data(rng, N, dtype, ties)
        p[3:5] = [0.0, 1.0]
        sw = w if weighted else None
        for n_bins in (10,) if weighted else (10, 7):
            mean_p, mean_y, weight, ece = ref_reliability(y, p, n_bins, sw)
            out = jm.reliability_curve(y, p, n_bins=n_bins, sample_weight=sw)
            chex.assert_shape(out, [(n_bins,)] * 3)
            chex.assert_type(out, dtype)
            for got, ref in zip(out, (mean_p, mean_y, weight), strict=True):
                np.testing.assert_allclose(got, ref, **tol)  # NaN where empty
            got_ece = jm.expected_calibration_error(
                y, p, n_bins=n_bins, sample_weight=sw
            )
            chex.assert_type(got_ece, dtype)
            np.testing.assert_allclose(got_ece, ece, **tol)
            w_b = np.asarray(out[2], np.float64)
            gaps = np.abs(np.asarray(out[1], np.float64) - np.asarray(out[0]))
            curve_ece = np.nansum(w_b * gaps) / w_b.sum()
            np.testing.assert_allclose(got_ece, curve_ece, rtol=1e-5, atol=1e-6)


def test_bin_edges_are_left_closed_and_one_joins_the_last_bin(dtype):
    p = np.array([0.0, 0.1, 0.15, 0.3, 0.7, 0.7, 0.99, 1.0], dtype)
    y = np.array([0, 0, 1, 1, 1, 0, 1, 1], dtype)
    mean_p, mean_y, weight = jm.reliability_curve(y, p)
    np.testing.assert_array_equal(weight, [1, 2, 0, 1, 0, 0, 0, 2, 0, 2])
    np.testing.assert_array_equal(np.isnan(mean_p), np.asarray(weight) == 0)
    np.testing.assert_allclose(mean_p[7], 0.7, rtol=rtol_for(dtype))
    np.testing.assert_allclose(np.asarray(mean_y)[[0, 1, 3, 7, 9]], [0, 0.5, 1, 0.5, 1])
    # ECE: (1*0 + 2*|0.5-0.125| + 1*0.7 + 2*0.2 + 2*|1-0.995|) / 8
    np.testing.assert_allclose(
        jm.expected_calibration_error(y, p),
        (0.75 + 0.7 + 0.4 + 0.01) / 8,
        rtol=10 * rtol_for(dtype),
    )
    one_bin = jm.expected_calibration_error(y, p, n_bins=1)
    np.testing.assert_allclose(one_bin, abs(y.mean() - p.astype(np.float64).mean()))
    perfect = jm.expected_calibration_error(y, y)
    assert float(perfect) == 0.0


def test_reliability_curve_matches_sklearn_calibration_curve(rng):
    y, p, _, _ = binary_data(rng, N, np.float64)
    near_edge = np.abs(p * 10 - np.round(p * 10)) < 1e-6
    p = np.where(near_edge, p + 1e-5, p)  # sklearn's bins are right-closed
    mean_p, mean_y, weight = jm.reliability_curve(y, p)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = np.asarray(weight) > 0
    np.testing.assert_allclose(np.asarray(mean_p)[filled], prob_pred, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(mean_y)[filled], prob_true, rtol=1e-6)


# --- narrow dtypes ------------------------------------------------------------------------


@pytest.mark.parametrize("narrow", [jnp.float16, jnp.bfloat16])
def test_narrow_dtypes_count_in_float32_and_keep_their_dtype(rng, narrow):
    n = 3000  # the AUC sums reach ~1e6: beyond float16 and bfloat16 precision
    y = (rng.random(n) < 0.5).astype(np.float32)
    y[:2] = [0, 1]
    p = jnp.asarray(rng.random(n), narrow)
    p64 = np.asarray(p, np.float64)
    tol = 1e-2
    auc = jm.roc_auc(y, p)
    chex.assert_type(auc, narrow)
    np.testing.assert_allclose(
        np.float32(auc), sklearn.metrics.roc_auc_score(y, p64), rtol=tol
    )
    # 300 bins: narrower than bfloat16's spacing near 1, so some edges coincide
    mean_p, mean_y, weight = jm.reliability_curve(y, p, n_bins=300)
    chex.assert_type((mean_p, mean_y, weight), narrow)
    ref_p, ref_y, ref_weight, _ = ref_reliability(y, np.asarray(p), 300)
    np.testing.assert_array_equal(np.float32(weight), ref_weight)  # small counts
    np.testing.assert_allclose(np.float32(mean_p), ref_p, rtol=tol)
    np.testing.assert_allclose(np.float32(mean_y), ref_y, rtol=tol)


# --- jit / no jit, vmap, retracing --------------------------------------------------------


def all_metrics(y, p, s, w, threshold):
    """Every metric once; under jit one program, so one compilation."""
    return {
        "accuracy": jm.accuracy(y, p, threshold=threshold, sample_weight=w),
        "roc_auc": jm.roc_auc(y, s, sample_weight=w),
        "brier": jm.brier_score(y, p, sample_weight=w),
        "ece": jm.expected_calibration_error(y, p, n_bins=7),
        "reliability": jm.reliability_curve(y, p, sample_weight=w),
        "log_loss": jm.METRICS["log_loss"](y, p, sample_weight=w),
    }


class MetricsVariantsTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_every_metric_same_with_and_without_jit(self):
        y, p, s, w = binary_data(np.random.default_rng(0), N, np.float32, ties=True)
        # under jit every argument is traced, the threshold included
        out = self.variant(all_metrics)(y, p, s, w, jnp.float32(0.3))
        ref = all_metrics(y, p, s, w, 0.3)
        chex.assert_trees_all_equal_shapes_and_dtypes(out, ref)
        jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-6), out, ref)


def test_inside_jit_one_class_gives_nan_and_new_data_does_not_retrace(rng):
    @jax.jit
    @chex.assert_max_traces(n=1)
    def f(y, p, s, w, t):
        return (
            jm.accuracy(y, p, threshold=t, sample_weight=w),
            jm.roc_auc(y, s, sample_weight=w),
        )

    for t in (0.2, 0.5, 0.9):
        y, p, s, w = binary_data(rng, N, np.float32)
        acc, auc = f(y, p, s, w, t)
        np.testing.assert_allclose(
            acc, jm.accuracy(y, p, threshold=t, sample_weight=w), rtol=1e-6
        )
        np.testing.assert_allclose(auc, jm.roc_auc(y, s, sample_weight=w), rtol=1e-6)
    assert np.isnan(f(np.ones(N, np.float32), p, s, w, 0.5)[1])
    # both classes present, but the positives carry no weight
    assert np.isnan(f(y, p, s, np.where(y == 1, 0, w), 0.5)[1])


VMAPPED = {
    "accuracy": jm.accuracy,
    "roc_auc": jm.roc_auc,
    "brier": jm.brier_score,
    "ece": jm.expected_calibration_error,
    "reliability": jm.reliability_curve,
    "log_loss": losses.log_loss,
}


def test_vmap_over_prediction_vectors_equals_loop(rng):
    """A batch of prediction vectors (and label vectors, e.g. bootstrap resamples)."""
    batch = 4
    y, _, _, w = binary_data(rng, N, np.float32, ties=True)
    p = np.round(rng.random((batch, N)), 1).astype(np.float32)
    # traced labels; the last row has one class: NaN AUC there, not an error
    ys = np.stack([y, y, rng.permutation(y), np.ones(N, np.float32)])

    def metrics_of(y, p):
        return {name: fn(y, p, sample_weight=w) for name, fn in VMAPPED.items()}

    batched = jax.jit(jax.vmap(metrics_of))(ys, p)
    for i in range(batch):
        for name, fn in VMAPPED.items():
            row = jax.tree.map(lambda a, i=i: a[i], batched[name])
            if name == "roc_auc" and i == batch - 1:
                assert np.isnan(row)
                continue
            jax.tree.map(
                functools.partial(np.testing.assert_allclose, rtol=1e-6),
                row,
                fn(ys[i], p[i], sample_weight=w),
            )


# --- properties ---------------------------------------------------------------------------


def _scale(a):
    return 3 * a - 7


INCREASING = [expit, np.exp, _scale, lambda a: a**3]


HYPOTHESIS_N = 32  # one shape; a smaller problem is a prefix, the rest weighted 0


@given(
    k=st.integers(2, HYPOTHESIS_N),
    wide=st.booleans(),
    weighted=st.booleans(),
    data=st.data(),
)
def test_property_roc_auc_depends_only_on_the_order(k, wide, weighted, data):
    """Invariant under strictly increasing maps; negating the scores flips it.

    The first ``k`` examples count (weights 1, or 0..3 with ``weighted``), the rest
    have weight 0, so every draw has the same shape and reuses one compilation.
    """
    n = HYPOTHESIS_N
    lists = functools.partial(st.lists, min_size=n, max_size=n)
    # scores on a grid of step 1/4: ties likely, and every transform keeps them apart
    z = np.asarray(data.draw(lists(st.integers(-24, 24))), np.float64) / 4
    y = np.asarray(data.draw(lists(st.sampled_from([0, 1]))))
    y[:2] = [0, 1]
    w = np.asarray(data.draw(lists(st.integers(0, 3))), np.float64)
    if not weighted:
        w[:] = 1
    w[:2] = np.maximum(w[:2], 1)
    w[k:] = 0
    dtype = np.float64 if wide else np.float32
    with enable_x64(wide):
        auc = float(jm.roc_auc(y, z.astype(dtype), sample_weight=w))
        assert 0 <= auc <= 1
        np.testing.assert_allclose(
            auc,
            sklearn.metrics.roc_auc_score(y[:k], z[:k], sample_weight=w[:k]),
            rtol=1e-6,
        )
        for transform in INCREASING:
            t = transform(z).astype(dtype)
            assert float(jm.roc_auc(y, t, sample_weight=w)) == auc
        flipped = float(jm.roc_auc(y, (-z).astype(dtype), sample_weight=w))
        np.testing.assert_allclose(flipped, 1 - auc, atol=4 * np.finfo(dtype).eps)


# --- bad input ----------------------------------------------------------------------------

Y, P = np.array([1, 0, 1]), np.array([0.9, 0.2, 0.6], np.float32)
BAD = [
    (lambda: jm.accuracy(Y, P[:2]), ValueError, "accuracy: y has shape (3,) but p has shape (2,)"),
    (lambda: jm.roc_auc(Y, P[:, None]), ValueError, "roc_auc: y has shape (3,) but scores has shape (3, 1)"),
    (lambda: jm.brier_score([], np.array([], np.float32)), ValueError, "brier_score: y is empty"),
    (lambda: jm.roc_auc([1, 2, 0], P), ValueError, "roc_auc: y must contain only the labels 0 and 1, got 2 at index 1"),
    (lambda: jm.accuracy([1, 0.5, 0], P), ValueError, "accuracy: y must contain only the labels 0 and 1, got 0.5"),
    (lambda: jm.accuracy(["a", "b", "c"], P), TypeError, "accuracy: y must be an array of numbers"),
    (lambda: jm.brier_score(Y, [0.9, 1.5, 0.1]), ValueError, "brier_score: p must be probabilities in [0, 1], got 1.5 at index 1"),
    (lambda: jm.expected_calibration_error(Y, [np.nan, 0.5, 0.1]), ValueError, "expected_calibration_error: p must be finite, got NaN at index 0"),
    (lambda: jm.roc_auc(Y, [0.1, np.inf, 0.2]), ValueError, "roc_auc: scores must be finite, got inf at index 1"),
    (lambda: jm.accuracy(Y, np.array([1, 0, 1])), TypeError, "accuracy: p must have a floating dtype"),
    (lambda: jm.roc_auc(Y, np.array([3, 1, 2])), TypeError, "roc_auc: scores must have a floating dtype"),
    (lambda: jm.reliability_curve(Y, P, sample_weight=[1, -1, 1]), ValueError, "reliability_curve: sample_weight must be non-negative, got -1 at index 1"),
    (lambda: jm.accuracy(Y, P, sample_weight=[0, 0, 0]), ValueError, "accuracy: sample_weight is all zero"),
    (lambda: jm.brier_score(Y, P, sample_weight=[1, 1]), ValueError, "brier_score: sample_weight has shape (2,) but the labels have shape (3,)"),
    (lambda: jm.roc_auc(Y, P, sample_weight=[1, np.nan, 1]), ValueError, "roc_auc: sample_weight must be finite, got NaN"),
    (lambda: jm.roc_auc([1, 1, 1], P), ValueError, "roc_auc: y has only one class (all 1); AUC is undefined"),
    (lambda: jm.roc_auc([0, 0, 0], P), ValueError, "roc_auc: y has only one class (all 0); AUC is undefined"),
    (lambda: jm.roc_auc(Y, P, sample_weight=[1, 0, 1]), ValueError, "roc_auc: sample_weight is zero on every example of class 0 in y; AUC is undefined"),
    (lambda: jm.accuracy(Y, P, threshold=1.5), ValueError, "accuracy: threshold must be a probability in [0, 1], got 1.5"),
    (lambda: jm.accuracy(Y, P, threshold=np.nan), ValueError, "accuracy: threshold must be a probability in [0, 1], got NaN"),
    (lambda: jm.accuracy(Y, P, threshold=[0.5, 0.6]), ValueError, "accuracy: threshold must be a scalar, got shape (2,)"),
    (lambda: jm.accuracy(Y, P, threshold="high"), TypeError, "accuracy: threshold must be"),
    (lambda: jm.expected_calibration_error(Y, P, n_bins=0), ValueError, "expected_calibration_error: n_bins must be >= 1, got 0"),
    (lambda: jm.expected_calibration_error(Y, P, n_bins=2.5), TypeError, "expected_calibration_error: n_bins must be a Python int"),
    (lambda: jm.reliability_curve(Y, P, n_bins=True), TypeError, "reliability_curve: n_bins must be a Python int"),
    (lambda: jm.evaluate(Y, P, ["log_loss", "f1"]), ValueError, "evaluate: unknown metric 'f1' in metrics; valid names are 'log_loss', 'accuracy', 'roc_auc', 'brier', 'ece'"),
    (lambda: jm.evaluate(Y, P, 3), TypeError, "evaluate: metrics must be a sequence of metric names"),
    (lambda: jm.evaluate([1, 1, 1], P), ValueError, "evaluate: y has only one class (all 1); roc_auc is undefined"),
    (lambda: jm.evaluate(Y, [0.9, 0.2, -0.1]), ValueError, "evaluate: p must be probabilities in [0, 1], got -0.1 at index 2"),
    (lambda: jax.jit(jm.evaluate)(Y, P), TypeError, "evaluate: returns Python floats, so it cannot run under jit"),
    (lambda: jax.jit(jm.roc_auc)(Y, P[:2]), ValueError, "roc_auc: y has shape (3,) but scores has shape (2,)"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_input_raises_one_line_naming_the_argument(call, error, message):
    with pytest.raises(error, match=re.escape(message)) as info:
        call()
    assert "\n" not in str(info.value)
