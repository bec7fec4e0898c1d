"""Losses against independent float64 references (NumPy, SciPy, scikit-learn)."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.metrics
from conftest import rtol_for
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit, log_softmax

import jaxlogloss as jl
from jaxlogloss.precision import enable_x64


def ref_logit_loss(y, z):
    """float64 reference: y log(1 + e^-z) + (1 - y) log(1 + e^z)."""
    y, z = np.asarray(y, np.float64), np.asarray(z, np.float64)
    return y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)


def binary_data(rng, n, dtype):
    y = (rng.random(n) < 0.5).astype(dtype)
    p = rng.random(n).astype(dtype)
    z = (rng.standard_normal(n) * 4).astype(dtype)
    w = rng.uniform(0.1, 3.0, n).astype(dtype)
    return y, p, z, w


# --- sigmoid ------------------------------------------------------------------------


def test_sigmoid_matches_scipy_and_stays_in_unit_interval(rng, dtype):
    z = (rng.standard_normal(1000) * 30).astype(dtype)
    out = jl.sigmoid(z)
    chex.assert_type(out, dtype)
    chex.assert_shape(out, (1000,))
    np.testing.assert_allclose(
        out,
        expit(z.astype(np.float64)),
        rtol=rtol_for(dtype),
        atol=np.finfo(dtype).tiny,
    )  # subnormals may flush to zero
    assert np.all((np.asarray(out) >= 0) & (np.asarray(out) <= 1))
    mid = jl.sigmoid(np.array([-10.0, 0.0, 10.0], dtype))
    assert np.all((np.asarray(mid) > 0) & (np.asarray(mid) < 1))


def test_sigmoid_extremes_and_python_scalars():
    out = jl.sigmoid(jnp.array([-1e30, -1e4, 1e4, 1e30, -jnp.inf, jnp.inf]))
    np.testing.assert_array_equal(out, [0, 0, 1, 1, 0, 1])
    assert float(jl.sigmoid(0)) == 0.5
    assert float(jl.sigmoid(0.0)) == 0.5


# --- log_loss on probabilities --------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_log_loss_equals_sklearn(rng, dtype, weighted):
    y, p, _, w = binary_data(rng, 200, dtype)
    sw = w if weighted else None
    ours = jl.log_loss(y, p, sample_weight=sw)
    chex.assert_type(ours, dtype)
    ref = sklearn.metrics.log_loss(y, p, sample_weight=sw, labels=[0, 1])
    np.testing.assert_allclose(ours, ref, rtol=max(rtol_for(dtype), 1e-6))


def test_log_loss_matches_numpy_formula_per_example(rng, dtype):
    y, p, _, _ = binary_data(rng, 300, dtype)
    eps = np.finfo(dtype).eps
    p64 = p.astype(np.float64)
    ref = -(
        y * np.log(np.clip(p64, eps, 1 - eps))
        + (1 - y) * np.log(np.clip(1 - p64, eps, 1 - eps))
    )
    out = jl.log_loss(y, p, reduction="none")
    chex.assert_shape(out, (300,))
    # log of a p near 1 rounds to eps in absolute terms (as in scikit-learn)
    np.testing.assert_allclose(out, ref, rtol=10 * rtol_for(dtype), atol=4 * eps)


def test_log_loss_p_exactly_zero_and_one_equals_sklearn(dtype):
    y = np.array([1, 0, 1, 0], dtype)
    p = np.array([0.0, 1.0, 1.0, 0.0], dtype)
    out = np.asarray(jl.log_loss(y, p, reduction="none"))
    assert np.all(np.isfinite(out))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(out[:2], -np.log(eps), rtol=1e-6)
    # confident and right: -log(1 - eps), about eps
    assert np.all(out[2:] < 10 * eps)
    ref = sklearn.metrics.log_loss(y, p, labels=[0, 1])
    np.testing.assert_allclose(jl.log_loss(y, p), ref, rtol=1e-6)


def test_worked_example_from_the_source_texts():
    y = jnp.array([1, 0, 1])
    p = jnp.array([0.9, 0.2, 0.6])
    per_example = jl.log_loss(y, p, reduction="none")
    np.testing.assert_allclose(per_example, [0.1054, 0.2231, 0.5108], atol=5e-5)
    np.testing.assert_allclose(jl.log_loss(y, p), 0.2798, atol=5e-5)
    # the "corrected probabilities" recipe: p for y=1, 1 - p for y=0, -mean(log)
    corrected = jnp.where(y == 1, p, 1 - p)
    np.testing.assert_allclose(corrected, [0.9, 0.8, 0.6], rtol=1e-6)
    np.testing.assert_allclose(
        -jnp.mean(jnp.log(corrected)), jl.log_loss(y, p), rtol=1e-6
    )
    # and the same from logits
    z = jnp.log(p) - jnp.log1p(-p)
    np.testing.assert_allclose(jl.log_loss_from_logits(y, z), 0.2798, atol=5e-5)


# --- log_loss_from_logits --------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_logit_loss_matches_reference(rng, dtype, weighted):
    y, _, z, w = binary_data(rng, 500, dtype)
    sw = w if weighted else None
    ref_each = ref_logit_loss(y, z)
    ref_w = w.astype(np.float64) if weighted else np.ones(500)
    tol = 10 * rtol_for(dtype)
    np.testing.assert_allclose(
        jl.log_loss_from_logits(y, z, sample_weight=sw, reduction="none"),
        ref_each * ref_w,
        rtol=tol,
    )
    np.testing.assert_allclose(
        jl.log_loss_from_logits(y, z, sample_weight=sw, reduction="sum"),
        np.sum(ref_each * ref_w),
        rtol=tol,
    )
    np.testing.assert_allclose(
        jl.log_loss_from_logits(y, z, sample_weight=sw),
        np.sum(ref_each * ref_w) / np.sum(ref_w),
        rtol=tol,
    )


def test_logit_loss_equals_log_loss_of_sigmoid_away_from_clipping(rng, dtype):
    y, _, z, _ = binary_data(rng, 200, dtype)
    z = np.clip(z, -8, 8).astype(dtype)
    np.testing.assert_allclose(
        jl.log_loss_from_logits(y, z), jl.log_loss(y, jl.sigmoid(z)), rtol=1e-5
    )


def test_logit_loss_keeps_tiny_losses_of_confident_right_predictions(dtype):
    # softplus(z) - y*z would cancel to 0 here; the true loss is log1p(exp(-20))
    out = jl.log_loss_from_logits(
        np.ones(1, dtype), np.full(1, 20.0, dtype), reduction="none"
    )
    np.testing.assert_allclose(out, np.log1p(np.exp(-20.0)), rtol=rtol_for(dtype))


EXTREMES = [1e4, 1e9, 1e30]


@pytest.mark.parametrize("magnitude", EXTREMES)
def test_logit_loss_value_gradient_and_curvature_at_extreme_logits(dtype, magnitude):
    z = np.array([magnitude, -magnitude, magnitude, -magnitude], dtype)
    y = np.array([1, 0, 0, 1], dtype)
    value = jl.log_loss_from_logits(y, z, reduction="none")
    np.testing.assert_allclose(value, ref_logit_loss(y, z), rtol=rtol_for(dtype))
    np.testing.assert_array_equal(np.asarray(value)[:2], 0.0)  # right and sure
    np.testing.assert_allclose(np.asarray(value)[2:], magnitude, rtol=rtol_for(dtype))

    grad = jax.grad(lambda z: jl.log_loss_from_logits(y, z, reduction="sum"))(
        jnp.asarray(z)
    )
    chex.assert_tree_all_finite(grad)
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0, -1.0])  # sigmoid(z) - y
    curvature = jax.vmap(
        jax.grad(jax.grad(lambda z, y: jl.log_loss_from_logits(y, z)))
    )(jnp.asarray(z), jnp.asarray(y))
    np.testing.assert_array_equal(curvature, 0.0)  # sigma(1 - sigma) underflows to 0


@given(
    z=st.floats(-float(np.float32(1e30)), float(np.float32(1e30)), width=32),
    label=st.sampled_from([0.0, 1.0]),
    wide=st.booleans(),
)
def test_property_logit_loss_gradient_is_sigmoid_minus_label(z, label, wide):
    dtype = np.float64 if wide else np.float32
    with enable_x64(wide):
        grad = jax.grad(
            lambda z: jl.log_loss_from_logits(jnp.asarray(label, dtype), z)
        )(jnp.asarray(z, dtype))
        expected = expit(np.float64(z)) - label
        assert np.isfinite(grad)
        np.testing.assert_allclose(
            grad, expected, rtol=rtol_for(dtype), atol=np.finfo(dtype).eps
        )


SIZES = st.sampled_from([1, 2, 7])  # a few shapes: each new one compiles


@given(n=SIZES, seed=st.integers(0, 2**32 - 1))
def test_property_sum_is_n_times_mean(n, seed):
    rng = np.random.default_rng(seed)
    y, p, z, _ = binary_data(rng, n, np.float32)
    for fn, x in [(jl.log_loss, p), (jl.log_loss_from_logits, z), (jl.mse_loss, p)]:
        total = fn(y, x, reduction="sum")
        np.testing.assert_allclose(total, n * fn(y, x), rtol=1e-5)
        np.testing.assert_allclose(
            jnp.sum(fn(y, x, reduction="none")), total, rtol=1e-5
        )


@given(n=SIZES, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_property_weight_two_equals_row_twice(n, seed, data):
    rng = np.random.default_rng(seed)
    y, p, z, _ = binary_data(rng, n, np.float32)
    k = data.draw(st.integers(0, n - 1))
    weights = np.ones(n, np.float32)
    weights[k] = 2.0
    idx = np.r_[np.arange(n), k]
    for fn, x in [(jl.log_loss, p), (jl.log_loss_from_logits, z), (jl.mse_loss, p)]:
        np.testing.assert_allclose(
            fn(y, x, sample_weight=weights), fn(y[idx], x[idx]), rtol=1e-5
        )
        np.testing.assert_allclose(
            fn(y, x, sample_weight=weights, reduction="sum"),
            fn(y[idx], x[idx], reduction="sum"),
            rtol=1e-5,
        )


@given(
    z=st.lists(st.floats(-1e4, 1e4, width=32), min_size=3, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_softmax_at_two_classes_is_the_binary_loss(z, seed):
    z = np.asarray(z, np.float32)
    y = (np.random.default_rng(seed).random(z.shape) < 0.5).astype(np.int32)
    two = np.stack([np.zeros_like(z), z], axis=-1)
    binary = jl.log_loss_from_logits(y, z, reduction="none")
    np.testing.assert_allclose(
        jl.softmax_cross_entropy(y, two, reduction="none"), binary, rtol=1e-6, atol=1e-6
    )
    onehot = np.eye(2, dtype=np.float32)[y]
    np.testing.assert_allclose(
        jl.softmax_cross_entropy(onehot, two, reduction="none"),
        binary,
        rtol=1e-6,
        atol=1e-6,
    )


# --- mse_loss and softmax_cross_entropy ---------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_numpy_and_brier_score(rng, dtype, reduction):
    y, p, _, w = binary_data(rng, 100, dtype)
    each = (p.astype(np.float64) - y) ** 2 * w
    ref = {
        "none": each,
        "sum": each.sum(),
        "mean": each.sum() / w.astype(np.float64).sum(),
    }[reduction]
    out = jl.mse_loss(y, p, sample_weight=w, reduction=reduction)
    np.testing.assert_allclose(out, ref, rtol=10 * rtol_for(dtype))
    np.testing.assert_allclose(
        jl.mse_loss(y, p), sklearn.metrics.brier_score_loss(y, p), rtol=1e-5
    )


def test_softmax_matches_scipy_with_labels_onehot_and_weights(rng, dtype):
    n, k = 60, 4
    logits = (rng.standard_normal((n, k)) * 3).astype(dtype)
    labels = rng.integers(0, k, n)
    w = rng.uniform(0.5, 2, n).astype(dtype)
    ref_each = -log_softmax(logits.astype(np.float64), axis=1)[np.arange(n), labels]
    tol = 10 * rtol_for(dtype)
    # log_softmax rounds to eps * |logits| in absolute terms
    atol = 4 * np.finfo(dtype).eps * np.abs(logits).max()
    np.testing.assert_allclose(
        jl.softmax_cross_entropy(labels, logits, reduction="none"),
        ref_each,
        rtol=tol,
        atol=atol,
    )
    np.testing.assert_allclose(
        jl.softmax_cross_entropy(
            np.eye(k, dtype=dtype)[labels], logits, sample_weight=w
        ),
        np.sum(w * ref_each) / np.sum(w.astype(np.float64)),
        rtol=tol,
    )
    probs = np.exp(-ref_each)
    assert np.all(probs <= 1)
    np.testing.assert_allclose(
        jl.softmax_cross_entropy(labels, logits),
        sklearn.metrics.log_loss(
            labels,
            np.exp(log_softmax(logits.astype(np.float64), axis=1)),
            labels=range(k),
        ),
        rtol=max(tol, 1e-6),
    )


@pytest.mark.parametrize("magnitude", EXTREMES)
def test_softmax_is_finite_at_extreme_logits(dtype, magnitude):
    logits = np.array(
        [[magnitude, -magnitude, 0.0], [-magnitude, magnitude, 0.0]], dtype
    )
    labels = np.array([0, 0])
    out = jl.softmax_cross_entropy(labels, logits, reduction="none")
    np.testing.assert_allclose(out, [0.0, 2 * magnitude], rtol=rtol_for(dtype))
    grad = jax.grad(lambda lg: jl.softmax_cross_entropy(labels, lg, reduction="sum"))(
        jnp.asarray(logits)
    )
    np.testing.assert_array_equal(grad, [[0, 0, 0], [-1, 1, 0]])


def test_soft_labels_only_behind_the_option(dtype):
    y = np.array([0.25, 0.75], dtype)
    z = np.array([0.3, -1.2], dtype)
    with pytest.raises(ValueError, match="soft_labels=True"):
        jl.log_loss_from_logits(y, z)
    np.testing.assert_allclose(
        jl.log_loss_from_logits(y, z, soft_labels=True, reduction="none"),
        ref_logit_loss(y, z),
        rtol=10 * rtol_for(dtype),
    )
    p = jl.sigmoid(z)
    np.testing.assert_allclose(
        jl.log_loss(y, p, soft_labels=True), np.mean(ref_logit_loss(y, z)), rtol=1e-5
    )
    rows = np.array([[0.2, 0.8], [0.5, 0.5]], dtype)
    logits = np.stack([np.zeros_like(z), z], -1)
    np.testing.assert_allclose(
        jl.softmax_cross_entropy(rows, logits, soft_labels=True, reduction="none"),
        ref_logit_loss(rows[:, 1], z),
        rtol=1e-5,
    )


# --- transformations: jit / no jit, vmap, no retracing ------------------------------------


class LossVariantsTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_every_loss_same_with_and_without_jit(self):
        rng = np.random.default_rng(0)
        y, p, z, w = binary_data(rng, 64, np.float32)
        for fn, x in [(jl.log_loss, p), (jl.log_loss_from_logits, z), (jl.mse_loss, p)]:
            for reduction in ["mean", "sum", "none"]:
                f = self.variant(functools.partial(fn, reduction=reduction))
                out = f(y, x, sample_weight=w)
                chex.assert_type(out, np.float32)
                chex.assert_shape(out, (64,) if reduction == "none" else ())
                chex.assert_trees_all_close(
                    out, fn(y, x, sample_weight=w, reduction=reduction), rtol=1e-6
                )
        logits = np.stack([np.zeros_like(z), z], -1)
        labels = y.astype(np.int32)
        out = self.variant(jl.softmax_cross_entropy)(labels, logits)
        chex.assert_trees_all_close(out, jl.log_loss_from_logits(y, z), rtol=1e-5)
        chex.assert_trees_all_close(self.variant(jl.sigmoid)(z), jax.nn.sigmoid(z))


def test_vmap_equals_loop(rng):
    y, _, z, w = binary_data(rng, 5 * 30, np.float32)
    y, z, w = y.reshape(5, 30), z.reshape(5, 30), w.reshape(5, 30)
    batched = jax.vmap(lambda y, z, w: jl.log_loss_from_logits(y, z, sample_weight=w))(
        y, z, w
    )
    loop = [jl.log_loss_from_logits(y[i], z[i], sample_weight=w[i]) for i in range(5)]
    chex.assert_trees_all_close(batched, jnp.stack(loop), rtol=1e-6)
    p = np.asarray(jl.sigmoid(z))
    chex.assert_trees_all_close(
        jax.vmap(jl.log_loss)(y, p),
        jnp.stack([jl.log_loss(y[i], p[i]) for i in range(5)]),
        rtol=1e-6,
    )


def test_compiled_loss_is_not_retraced(rng):
    traces = []

    @jax.jit
    def f(y, z, w):
        traces.append(1)
        return jl.log_loss_from_logits(y, z, sample_weight=w)

    for _ in range(3):
        y, _, z, w = binary_data(rng, 50, np.float32)
        f(y, z, w)
    assert len(traces) == 1

    @jax.jit
    @chex.assert_max_traces(n=1)
    def g(y, p):
        return jl.log_loss(y, p)

    for _ in range(3):
        y, p, _, _ = binary_data(rng, 50, np.float32)
        g(y, p)


@pytest.mark.parametrize("narrow", [jnp.float16, jnp.bfloat16])
def test_narrow_float_dtypes_work_and_keep_their_dtype(rng, narrow):
    y, p, z, w = binary_data(rng, 64, np.float32)
    tol = 2e-2 if narrow == jnp.bfloat16 else 5e-3
    for fn, x, ref in [
        (jl.log_loss_from_logits, z, np.mean(ref_logit_loss(y, z))),
        (jl.mse_loss, p, np.mean((p.astype(np.float64) - y) ** 2)),
    ]:
        out = fn(y, jnp.asarray(x, narrow), sample_weight=w)
        chex.assert_type(out, narrow)
        weighted = (
            np.sum(w * np.asarray(fn(y, x, reduction="none"), np.float64)) / w.sum()
        )
        np.testing.assert_allclose(np.float32(out), weighted, rtol=tol)
        assert np.isclose(np.float32(fn(y, jnp.asarray(x, narrow))), ref, rtol=tol)
    out = jl.log_loss(y, jnp.asarray(p, narrow))
    chex.assert_type(out, narrow)
    eps = float(jnp.finfo(narrow).eps)
    p64 = np.clip(np.asarray(jnp.asarray(p, narrow), np.float64), eps, 1 - eps)
    ref = -np.mean(y * np.log(p64) + (1 - y) * np.log(np.clip(1 - p64, eps, 1 - eps)))
    np.testing.assert_allclose(np.float32(out), ref, rtol=tol)
    with pytest.raises(ValueError, match="z must be finite"):
        jl.log_loss_from_logits(y[:2], jnp.asarray([jnp.inf, 0.0], narrow))
