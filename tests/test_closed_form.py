"""Closed-form gradients and Hessians vs NumPy float64 formulas and JAX autodiff."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit, softmax

import jaxlogloss as jl
from jaxlogloss.precision import enable_x64


def numpy_reference(loss, w, b, X, y, c, l2):
    """Gradient and Hessian in float64 NumPy, written from the formulas, loop over rows."""
    X = np.asarray(X, np.float64)
    n, d = X.shape
    Xt = np.hstack([X, np.ones((n, 1))])
    c = np.ones(n) if c is None else np.asarray(c, np.float64)
    w = np.asarray(w, np.float64)
    if loss == "softmax":
        k = w.shape[1]
        Y = np.eye(k)[y] if np.ndim(y) == 1 else np.asarray(y, np.float64)
        P = softmax(X @ w + b, axis=1)
        G = P - Y
        grad_w = X.T @ (c[:, None] * G) / c.sum() + l2 * w
        grad_b = (c[:, None] * G).sum(0) / c.sum()
        H = np.zeros(((d + 1) * k, (d + 1) * k))
        for i in range(n):
            S = np.diag(P[i]) - np.outer(P[i], P[i])
            H += c[i] * np.kron(np.outer(Xt[i], Xt[i]), S)
        H /= c.sum()
        H[: d * k, : d * k] += l2 * np.eye(d * k)
        return np.concatenate([grad_w.ravel(), grad_b]), H
    z = X @ w + b
    p = expit(z)
    y = np.asarray(y, np.float64)
    if loss == "squared_error":
        g, h = z - y, np.ones_like(z)
    elif loss == "log_loss":
        g, h = p - y, p * (1 - p)
    else:
        g = 2 * (p - y) * p * (1 - p)
        h = 2 * p * (1 - p) * (p * (1 - p) + (p - y) * (1 - 2 * p))
    grad = Xt.T @ (c * g) / c.sum()
    H = (Xt.T * (c * h)) @ Xt / c.sum()
    grad[:d] += l2 * w
    H[:d, :d] += l2 * np.eye(d)
    return grad, H


@functools.partial(jax.jit, static_argnames=("loss",))
def autodiff(params, X, y, c, l2, loss):
    """jax.grad and jax.hessian of linear_loss over the flat parameters, compiled once."""
    theta, unravel = jl.flatten_params(params)
    f = lambda t: jl.linear_loss(unravel(t), X, y, loss=loss, sample_weight=c, l2=l2)  # noqa: E731
    return jax.grad(f)(theta), jax.hessian(f)(theta)


def make(rng, loss, n, d, k, dtype, scale=1.0):
    X = rng.standard_normal((n, d)).astype(dtype)
    c = rng.uniform(0.2, 3.0, n).astype(dtype)
    if loss == "softmax":
        y = rng.integers(0, k, n)
        params = jl.LinearParams(
            (scale * rng.standard_normal((d, k))).astype(dtype),
            rng.standard_normal(k).astype(dtype),
        )
    else:
        y = (rng.random(n) < 0.5).astype(dtype)
        params = jl.LinearParams(
            (scale * rng.standard_normal(d)).astype(dtype), dtype(rng.standard_normal())
        )
    return params, X, y, c


LOSSES = ["log_loss", "mse", "softmax", "squared_error"]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_closed_forms_match_numpy_float64(rng, x64, loss, weighted, l2):
    params, X, y, c = make(rng, loss, 30, 3, 3, np.float64, scale=2.0)
    c = c if weighted else None
    g_ref, H_ref = numpy_reference(loss, params.w, params.b, X, y, c, l2)
    g = jl.flatten_params(
        jl.closed_form_gradient(params, X, y, loss=loss, sample_weight=c, l2=l2)
    )[0]
    H = jl.closed_form_hessian(params, X, y, loss=loss, sample_weight=c, l2=l2)
    chex.assert_shape(H, (g_ref.size, g_ref.size))
    np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(H, H_ref, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("layout", ["row", "feature"])
def test_closed_forms_equal_autodiff(rng, dtype, loss, layout):
    params, X, y, c = make(rng, loss, 40, 4, 3, dtype)
    design = X if layout == "row" else jl.feature_major(X)
    kw = dict(loss=loss, sample_weight=c, l2=0.1)
    g_tree = jax.grad(jl.linear_loss)(params, design, y, **kw)  # eager, pytree output
    g_closed = jl.closed_form_gradient(params, design, y, **kw)
    chex.assert_trees_all_equal_shapes_and_dtypes(g_tree, g_closed)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    chex.assert_trees_all_close(g_tree, g_closed, rtol=tol, atol=tol)
    g_auto, H_auto = autodiff(params, design, y, c, 0.1, loss)
    chex.assert_trees_all_close(
        g_auto, jl.flatten_params(g_closed)[0], rtol=tol, atol=tol
    )
    H_closed = jl.closed_form_hessian(params, design, y, **kw)
    chex.assert_trees_all_close(H_auto, H_closed, rtol=tol, atol=tol)


def test_named_closed_forms_are_the_generic_ones(rng):
    for loss, grad, hess in [
        ("log_loss", jl.log_loss_gradient, jl.log_loss_hessian),
        ("mse", jl.mse_gradient, jl.mse_hessian),
        ("softmax", jl.softmax_gradient, jl.softmax_hessian),
    ]:
        params, X, y, c = make(rng, loss, 12, 2, 3, np.float32)
        chex.assert_trees_all_close(
            grad(params, X, y, sample_weight=c),
            jl.closed_form_gradient(params, X, y, loss=loss, sample_weight=c),
        )
        chex.assert_trees_all_close(
            hess(params, X, y, l2=0.5),
            jl.closed_form_hessian(params, X, y, loss=loss, l2=0.5),
        )


@given(
    loss=st.sampled_from(LOSSES),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.01, 20.0),
    l2=st.floats(0.0, 5.0),
    weighted=st.booleans(),
)
def test_property_autodiff_equals_closed_form_for_any_data_weights_params(
    loss, seed, scale, l2, weighted
):
    rng = np.random.default_rng(seed)
    with enable_x64():
        params, X, y, c = make(rng, loss, 9, 2, 3, np.float64, scale=scale)
        X = X * rng.uniform(0.1, 10)
        c = c if weighted else None
        kw = dict(loss=loss, sample_weight=c, l2=l2)
        g_auto, H_auto = autodiff(params, X, y, c, l2, loss)
        g_closed = jl.flatten_params(jl.closed_form_gradient(params, X, y, **kw))[0]
        np.testing.assert_allclose(g_auto, g_closed, rtol=1e-9, atol=1e-12)
        H_closed = jl.closed_form_hessian(params, X, y, **kw)
        np.testing.assert_allclose(H_auto, H_closed, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_weight_two_equals_the_row_twice(rng, x64, loss):
    params, X, y, _ = make(rng, loss, 15, 3, 3, np.float64)
    c = np.ones(15)
    c[4] = 2.0
    idx = np.r_[np.arange(15), 4]
    for f in [jl.linear_loss, jl.closed_form_gradient, jl.closed_form_hessian]:
        chex.assert_trees_all_close(
            f(params, X, y, loss=loss, sample_weight=c),
            f(params, X[idx], y[idx], loss=loss),
            rtol=1e-12,
        )


def test_l2_never_penalises_the_intercept(rng, x64):
    params, X, y, _ = make(rng, "log_loss", 20, 3, 2, np.float64)
    g0 = jl.closed_form_gradient(params, X, y)
    g1 = jl.closed_form_gradient(params, X, y, l2=2.0)
    np.testing.assert_allclose(g1.b, g0.b, rtol=0)
    np.testing.assert_allclose(g1.w, g0.w + 2.0 * params.w, rtol=1e-12)
    H0 = jl.closed_form_hessian(params, X, y)
    H1 = jl.closed_form_hessian(params, X, y, l2=2.0)
    np.testing.assert_allclose(H1 - H0, np.diag([2.0, 2.0, 2.0, 0.0]), atol=1e-14)
    # the penalty in the value: moving b changes nothing in it
    shifted = jl.LinearParams(params.w, params.b + 1.0)
    pen = lambda p: jl.linear_loss(p, X, y, l2=2.0) - jl.linear_loss(p, X, y)  # noqa: E731
    np.testing.assert_allclose(pen(shifted), pen(params), rtol=1e-12)
    np.testing.assert_allclose(
        pen(params), np.sum(np.asarray(params.w) ** 2), rtol=1e-12
    )


def test_linear_loss_value_matches_numpy_and_optax(rng, x64):
    import optax

    params, X, y, c = make(rng, "log_loss", 50, 3, 2, np.float64)
    z = X @ np.asarray(params.w) + float(params.b)
    ref = np.sum(c * (y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))) / c.sum()
    np.testing.assert_allclose(
        jl.linear_loss(params, X, y, sample_weight=c), ref, rtol=1e-12
    )
    opt = optax.sigmoid_binary_cross_entropy(jnp.asarray(z), jnp.asarray(y))
    np.testing.assert_allclose(
        jl.log_loss_from_logits(y, z, reduction="none"), opt, rtol=1e-10
    )
    params, X, y, c = make(rng, "softmax", 50, 3, 4, np.float64)
    z = X @ np.asarray(params.w) + np.asarray(params.b)
    opt = optax.softmax_cross_entropy_with_integer_labels(
        jnp.asarray(z), jnp.asarray(y)
    )
    np.testing.assert_allclose(
        jl.linear_loss(params, X, y, loss="softmax"), np.mean(opt), rtol=1e-12
    )


def test_log_loss_hessian_is_psd_and_mse_hessian_is_not(rng, x64):
    params, X, y, _ = make(rng, "log_loss", 60, 2, 2, np.float64, scale=8.0)
    assert (
        np.linalg.eigvalsh(np.asarray(jl.log_loss_hessian(params, X, y)))[0] >= -1e-14
    )
    # a confidently wrong point: every prediction on the wrong side
    y_wrong = (np.asarray(jl.logits(params, X)) < 0).astype(np.float64)
    eig = np.linalg.eigvalsh(np.asarray(jl.mse_hessian(params, X, y_wrong)))
    assert eig[0] < -1e-3 * abs(eig[-1])
