"""Bad input at the public boundary: one clear ValueError/TypeError naming the argument."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlogloss as jl

Y = np.array([1.0, 0.0, 1.0], np.float32)
P = np.array([0.9, 0.2, 0.6], np.float32)
Z = np.array([2.0, -1.0, 0.5], np.float32)
BINARY = [(jl.log_loss, P), (jl.log_loss_from_logits, Z), (jl.mse_loss, P)]
NAMES = {jl.log_loss: "p", jl.log_loss_from_logits: "z", jl.mse_loss: "p"}


def one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("fn,x", BINARY)
def test_shape_mismatch_names_both_arguments(fn, x):
    with pytest.raises(ValueError) as err:
        fn(Y, x[:2])
    msg = one_line(err)
    assert f"{fn.__name__}: y has shape (3,) but {NAMES[fn]} has shape (2,)" in msg


@pytest.mark.parametrize("fn,x", BINARY)
def test_no_silent_broadcasting_of_column_vectors(fn, x):
    with pytest.raises(
        ValueError, match=r"y has shape \(3,\) but .* has shape \(3, 1\)"
    ):
        fn(Y, x[:, None])
    with pytest.raises(ValueError, match=r"shape \(3, 1\)"):
        fn(Y[:, None], x)


@pytest.mark.parametrize("fn,x", BINARY)
def test_labels_outside_zero_one(fn, x):
    with pytest.raises(ValueError) as err:
        fn(np.array([1.0, 2.0, 0.0]), x)
    assert "y must contain only the labels 0 and 1" in one_line(err)
    assert "got 2 at index 1" in str(err.value)
    with pytest.raises(
        ValueError, match="soft labels in \\[0, 1\\], got -0.5 at index 0"
    ):
        fn(np.array([-0.5, 0.5, 0.0]), x, soft_labels=True)


@pytest.mark.parametrize("fn", [jl.log_loss, jl.mse_loss])
def test_probabilities_outside_unit_interval(fn):
    with pytest.raises(
        ValueError, match=r"p must be probabilities in \[0, 1\], got 1.5 at index 2"
    ):
        fn(Y, np.array([0.5, 0.5, 1.5], np.float32))
    with pytest.raises(ValueError, match=r"got -0.1 at index 0"):
        fn(Y, np.array([-0.1, 0.5, 0.5], np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fn,x", BINARY)
def test_nan_and_inf_are_rejected_in_every_argument(fn, x, bad):
    x_bad = x.copy()
    x_bad[1] = bad
    with pytest.raises(ValueError, match=f"{NAMES[fn]} must be finite.* at index 1"):
        fn(Y, x_bad)
    y_bad = Y.copy()
    y_bad[2] = bad
    with pytest.raises(ValueError, match="y must be finite.* at index 2"):
        fn(y_bad, x)
    w_bad = np.ones(3, np.float32)
    w_bad[0] = bad
    with pytest.raises(ValueError, match="sample_weight must be finite.* at index 0"):
        fn(Y, x, sample_weight=w_bad)


@pytest.mark.parametrize("fn,x", BINARY)
def test_bad_weights(fn, x):
    with pytest.raises(
        ValueError, match="sample_weight must be non-negative, got -1 at index 1"
    ):
        fn(Y, x, sample_weight=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="sample_weight is all zero"):
        fn(Y, x, sample_weight=np.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"sample_weight has shape \(2,\) but the labels have shape \(3,\)",
    ):
        fn(Y, x, sample_weight=np.ones(2))
    with pytest.raises(TypeError, match="sample_weight must be real numbers"):
        fn(Y, x, sample_weight=np.ones(3, bool))


@pytest.mark.parametrize("fn,x", BINARY)
def test_empty_arrays(fn, x):
    with pytest.raises(ValueError, match="y is empty .*expected at least one example"):
        fn(np.zeros(0), x[:0])


@pytest.mark.parametrize("fn,x", BINARY)
def test_integer_dtype_where_float_is_needed(fn, x):
    with pytest.raises(
        TypeError, match=f"{NAMES[fn]} must have a floating dtype .* got int32"
    ):
        fn(Y, np.array([1, 0, 1], np.int32))
    # integer and boolean labels are fine
    np.testing.assert_allclose(fn(np.array([1, 0, 1]), x), fn(Y, x))
    np.testing.assert_allclose(fn(np.array([True, False, True]), x), fn(Y, x))


def test_strings_and_ragged_lists_are_type_errors():
    with pytest.raises(TypeError, match="p must be an array of numbers"):
        jl.log_loss(Y, np.array(["a", "b", "c"]))
    with pytest.raises(TypeError, match="p must be an array of numbers"):
        jl.log_loss(Y, [[0.1], [0.2, 0.3], 0.4])


def test_bad_reduction_lists_the_options():
    with pytest.raises(
        ValueError, match="reduction must be one of 'mean', 'sum', 'none', got 'avg'"
    ):
        jl.log_loss(Y, P, reduction="avg")


def test_sigmoid_rejects_nan_and_integers():
    with pytest.raises(
        ValueError, match="sigmoid: z must be a number, got NaN at index 1"
    ):
        jl.sigmoid(np.array([0.0, np.nan]))
    with pytest.raises(TypeError, match="sigmoid: z must have a floating dtype"):
        jl.sigmoid(np.array([1, 2]))


def test_softmax_bad_inputs():
    logits = np.zeros((3, 4), np.float32)
    with pytest.raises(
        ValueError, match=r"class labels of 4 classes in \[0, 3\], got 4 at index 1"
    ):
        jl.softmax_cross_entropy(np.array([0, 4, 1]), logits)
    with pytest.raises(TypeError, match="must hold integer class labels"):
        jl.softmax_cross_entropy(np.array([0.0, 1.0, 1.0]), logits)
    with pytest.raises(ValueError, match=r"y rows must sum to 1, got 2 at index 1"):
        jl.softmax_cross_entropy(
            np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1]]), logits
        )
    with pytest.raises(
        ValueError, match=r"expected integer labels of shape \(3,\) or one-hot rows"
    ):
        jl.softmax_cross_entropy(np.array([0, 1]), logits)
    with pytest.raises(ValueError, match="K >= 2 classes"):
        jl.softmax_cross_entropy(np.array([0, 0, 0]), np.zeros((3, 1)))
    with pytest.raises(
        ValueError, match=r"logits must be finite, got NaN at index \(2, 3\)"
    ):
        bad = logits.copy()
        bad[2, 3] = np.nan
        jl.softmax_cross_entropy(np.array([0, 1, 2]), bad)


def test_under_tracing_shape_checks_stay_and_value_checks_are_skipped():
    # shapes are static: still checked inside jit
    with pytest.raises(ValueError, match=r"y has shape \(3,\) but z has shape \(2,\)"):
        jax.jit(jl.log_loss_from_logits)(Y, Z[:2])
    with pytest.raises(TypeError, match="floating dtype"):
        jax.jit(jl.log_loss_from_logits)(Y, np.array([1, 2, 3]))
    # values are not: a traced label of 2 passes through (no concretization error)
    out = jax.jit(jl.log_loss_from_logits)(jnp.array([2.0, 0.0, 1.0]), Z)
    assert np.isfinite(out)
    out = jax.grad(lambda z: jl.log_loss_from_logits(Y, z))(jnp.asarray(Z))
    assert out.shape == (3,)


def test_model_bad_inputs():
    params = jl.init_params(3)
    X = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"X has 2 features .* expected 3 features"):
        jl.logits(params, X[:, :2])
    with pytest.raises(
        ValueError, match=r"X must be an \(n, d\) matrix, got shape \(3,\)"
    ):
        jl.predict_proba(params, X[0])
    with pytest.raises(TypeError, match="X must have a floating dtype"):
        jl.predict(params, X.astype(np.int64))
    with pytest.raises(
        ValueError, match=r"X must be finite, got inf at index \(1, 2\)"
    ):
        bad = X.copy()
        bad[1, 2] = np.inf
        jl.logits(params, bad)
    with pytest.raises(ValueError, match="X has no rows"):
        jl.logits(params, X[:0])
    with pytest.raises(
        ValueError, match=r"params.b has shape \(2,\) but params.w has shape \(3,\)"
    ):
        jl.logits(jl.LinearParams(jnp.zeros(3), jnp.zeros(2)), X)
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        jl.logits({"w": jnp.zeros(3)}, X)
    with pytest.raises(TypeError, match="params must be LinearParams"):
        jl.logits((1, 2, 3), X)
    with pytest.raises(ValueError, match="threshold must be a number in \\(0, 1\\)"):
        jl.predict(params, X, threshold=1.5)
    with pytest.raises(ValueError, match="n_features must be an integer >= 1"):
        jl.init_params(0)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        jl.init_params(3, n_classes=1)


def test_linear_loss_bad_inputs():
    params = jl.init_params(2)
    X = np.ones((3, 2), np.float32)
    with pytest.raises(
        ValueError,
        match="loss must be one of 'log_loss', 'mse', 'softmax', 'squared_error', got 'hinge'",
    ):
        jl.linear_loss(params, X, Y, loss="hinge")
    with pytest.raises(ValueError, match=r"y has shape \(2,\) but X has 3 rows"):
        jl.linear_loss(params, X, Y[:2])
    with pytest.raises(ValueError, match=r"y has shape \(3, 1\)"):
        jl.linear_loss(params, X, Y[:, None])
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0, got -1.0"):
        jl.linear_loss(params, X, Y, l2=-1.0)
    with pytest.raises(TypeError, match="l2 must be a non-negative number"):
        jl.linear_loss(params, X, Y, l2="big")
    with pytest.raises(
        ValueError, match=r"loss 'softmax' needs params.w of shape \(d, K\)"
    ):
        jl.linear_loss(params, X, np.array([0, 1, 2]), loss="softmax")
    with pytest.raises(
        ValueError, match=r"is binary and needs params.w of shape \(d,\)"
    ):
        jl.linear_loss(jl.init_params(2, n_classes=3), X, Y)
    with pytest.raises(ValueError, match="y must contain only the labels 0 and 1"):
        jl.closed_form_gradient(params, X, np.array([0.0, 3.0, 1.0]))
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        jl.closed_form_hessian(params, X, Y, sample_weight=np.array([1.0, -2.0, 1.0]))
