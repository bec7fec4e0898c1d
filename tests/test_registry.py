"""The loss registry is the one place a loss is declared.

Every registered loss's derivatives equal autodiff of its value; an unknown name is
refused everywhere with the known names listed; a toy loss registered here, once, is
then fitted, grad-checked and run from a config like a built-in.
"""

from __future__ import annotations

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import jaxlogloss as jl
from jaxlogloss.experiments import config as cfg
from jaxlogloss.experiments import runner
from jaxlogloss.losses.registry import (
    Loss,
    get_loss,
    loss_names,
    register_loss,
    unregister_loss,
)
from jaxlogloss.model import verification

BUILT_INS = ("log_loss", "mse", "softmax", "squared_error")
EXTREMES = np.array([30.0, -30.0, 1e3, -1e3])


# --- the toy loss: declared here and nowhere else ----------------------------------
#
#   l(y, z) = sqrt(1 + z^2) - s z,  s = 2y - 1  (the pseudo-Huber of the margin s z,
#   minus the margin): smooth, strictly convex, -> 0 for large right margins.
#   dl/dz = z / sqrt(1 + z^2) - s,  d2l/dz2 = (1 + z^2)^(-3/2).


def toy_value(y, z):
    return jnp.hypot(1.0, z) - (2 * y - 1) * z


def toy_grad(y, z):
    return z / jnp.hypot(1.0, z) - (2 * y - 1)


def toy_curvature(y, z):
    return jnp.hypot(1.0, z) ** -3


TOY = Loss(
    "toy",
    value=toy_value,
    grad=toy_grad,
    curvature=toy_curvature,
    convex=True,
    description="sqrt(1 + z^2) - (2y - 1) z: pseudo-Huber of the margin minus it",
)


@pytest.fixture
def toy():
    """The toy loss registered for one test, and unregistered afterwards."""
    register_loss(TOY)
    try:
        yield TOY
    finally:
        unregister_loss(TOY.name)
    assert TOY.name not in loss_names()


def toy_data(rng, n=60, d=3):
    X = rng.standard_normal((n, d))
    z = X @ rng.standard_normal(d) + 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    return X, y


# --- derivatives of every registered loss --------------------------------------------


def pointwise_inputs(rng, loss: Loss, n: int = 16, k: int = 3):
    """Fresh random (y, z) with extreme logits among them; soft binary labels too."""
    if loss.multiclass:
        z = rng.standard_normal((n, k)) * 3
        z[: len(EXTREMES), 0] = EXTREMES
        z[len(EXTREMES) : 2 * len(EXTREMES), 1] = -EXTREMES
        y = np.eye(k)[rng.integers(0, k, n)]
        return y, z
    z = np.concatenate([rng.standard_normal(n) * 3, EXTREMES, EXTREMES])
    y = np.concatenate([rng.random(n), np.zeros(len(EXTREMES)), np.ones(len(EXTREMES))])
    y[: n // 2] = np.round(y[: n // 2])  # hard labels and soft ones
    return y, z


def check_derivatives(loss: Loss, y, z) -> None:
    """``grad`` and ``curvature`` equal autodiff of ``value``, example by example."""
    y, z = jnp.asarray(y), jnp.asarray(z)

    def one(yi, zi):  # the loss of one example
        return loss.value(yi[None], zi[None])[0]

    d1 = jax.grad(one, argnums=1)
    d2 = jax.hessian(one, argnums=1) if loss.multiclass else jax.grad(d1, argnums=1)
    grad, curvature = loss.grad(y, z), loss.curvature(y, z)
    chex.assert_shape(grad, z.shape)
    chex.assert_shape(curvature, z.shape + z.shape[1:])
    np.testing.assert_allclose(grad, jax.vmap(d1)(y, z), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(curvature, jax.vmap(d2)(y, z), rtol=1e-9, atol=1e-15)
    assert np.all(np.isfinite(loss.value(y, z)))


@pytest.mark.parametrize("name", loss_names())
def test_derivatives_of_every_registered_loss_equal_autodiff(rng, x64, name):
    loss = get_loss(name)
    check_derivatives(loss, *pointwise_inputs(rng, loss))


def test_toy_derivatives_equal_autodiff(rng, x64, toy):
    check_derivatives(toy, *pointwise_inputs(rng, toy))


def test_convex_losses_have_non_negative_curvature(rng, x64):
    for name in loss_names():
        loss = get_loss(name)
        y, z = pointwise_inputs(rng, loss)
        h = np.asarray(loss.curvature(jnp.asarray(y), jnp.asarray(z)))
        low = np.linalg.eigvalsh(h).min() if loss.multiclass else h.min()
        if loss.convex:
            assert low >= -1e-15, name
    # mse on the sigmoid is the non-convex one: a confidently wrong prediction
    assert float(get_loss("mse").curvature(jnp.array([0.0]), jnp.array([3.0]))[0]) < 0


# --- the registry's names --------------------------------------------------------------


def test_losses_are_the_built_ins_in_order():
    assert jl.LOSSES == BUILT_INS
    assert tuple(jl.LOSSES) == BUILT_INS == loss_names()
    assert list(verification.CHECKED_LOSSES) == ["log_loss", "mse", "softmax"]
    assert list(verification.LOSS_CHOICES) == ["log_loss", "mse", "softmax", "all"]
    assert list(verification.CONVEX_LOSSES) == ["log_loss", "softmax"]


def test_registered_names_are_live_and_unregistered_again(toy):
    assert jl.LOSSES == (*BUILT_INS, "toy") and "toy" in jl.LOSSES
    assert "toy" in verification.LOSS_CHOICES and "toy" in cfg.config_losses()
    with pytest.raises(ValueError, match="already registered"):
        register_loss(TOY)
    assert register_loss(TOY, replace=True) is TOY


def test_register_refuses_what_is_not_a_loss():
    with pytest.raises(TypeError, match="expected a Loss record"):
        register_loss("toy")
    with pytest.raises(ValueError, match="non-empty name"):
        register_loss(Loss("", toy_value, toy_grad, toy_curvature, convex=True))
    assert jl.LOSSES == BUILT_INS


# --- an unknown name is refused everywhere, listing the known ones ----------------

KNOWN = "'log_loss', 'mse', 'softmax', 'squared_error'"


def tiny_problem():
    X = np.array([[1.0, 0.5], [-1.0, 0.2], [0.3, -2.0]], np.float32)
    y = np.array([1.0, 0.0, 1.0], np.float32)
    return jl.init_params(2), X, y


@pytest.mark.parametrize(
    "fn", [jl.linear_loss, jl.closed_form_gradient, jl.closed_form_hessian, jl.train]
)
def test_unknown_loss_is_refused_listing_the_known(fn):
    params, X, y = tiny_problem()
    with pytest.raises(
        ValueError, match=f"{fn.__name__}: loss must be one of {KNOWN}, got 'nope'"
    ):
        fn(params, X, y, loss="nope")


def test_unknown_loss_is_refused_by_get_loss_and_gradcheck():
    with pytest.raises(ValueError, match=f"loss must be one of {KNOWN}, got 'nope'"):
        get_loss("nope")
    with pytest.raises(
        ValueError, match="one of log_loss, mse, softmax, all, got 'nope'"
    ):
        jl.gradcheck("nope")


def test_unknown_loss_is_refused_by_the_config(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[loss]\nnames = ["nope"]\n')
    with pytest.raises(ValueError, match="loss.names") as err:
        cfg.load(path)
    assert isinstance(err.value, cfg.ConfigError)
    assert "log_loss, mse, squared_error" in str(err.value)


# --- the toy loss, registered once, works everywhere ----------------------------------


def scipy_reference(X, y, l2):
    """The same objective minimised by SciPy's BFGS in float64 NumPy."""
    n, d = X.shape
    s = 2 * y - 1

    def f(theta):
        w, b = theta[:d], theta[d]
        z = X @ w + b
        r = np.hypot(1.0, z)
        g = z / r - s
        value = np.mean(r - s * z) + 0.5 * l2 * w @ w
        grad = np.append(X.T @ g / n + l2 * w, np.mean(g))
        return value, grad

    res = scipy.optimize.minimize(
        f, np.zeros(d + 1), jac=True, method="BFGS", options={"gtol": 1e-12}
    )
    return res.x


def test_toy_is_fitted_by_train_to_the_scipy_optimum(rng, x64, toy):
    X, y = toy_data(rng)
    l2 = 0.05
    result = jl.train(
        jl.init_params(X.shape[1], dtype=jnp.float64), X, y, loss="toy", optimizer="lbfgs", steps=200,
        tol=1e-10, l2=l2, chunk_size=50,
    )  # fmt: skip
    assert result.status == "converged" and result.history["grad_norm"][-1] <= 1e-10
    ref = scipy_reference(X, y, l2)
    theta = jl.flatten_params(result.params)[0]
    np.testing.assert_allclose(theta, ref, rtol=1e-7, atol=1e-8)
    # the closed-form gradient from the registry vanishes there too
    g = jl.flatten_params(
        jl.closed_form_gradient(result.params, X, y, loss="toy", l2=l2)
    )[0]
    assert np.max(np.abs(g)) <= 1e-9


def test_toy_is_grad_checked(rng, x64, toy):
    report = jl.gradcheck("toy", n=40, d=3, n_points=24)
    assert report.passed
    assert [c.loss for c in report.certificates] == ["toy"] and report.witness is None
    assert len(report.checks) == 7
    assert all(c.name.startswith("toy ") for c in report.checks)
    # and "all" now checks it after the built-in classification losses
    assert list(verification.CHECKED_LOSSES) == ["log_loss", "mse", "softmax", "toy"]
    # closed forms read the registry: equal to autodiff of linear_loss
    X, y = toy_data(rng, n=25)
    c = rng.uniform(0.5, 2.0, len(y))
    params = jl.LinearParams(jnp.asarray(rng.standard_normal(3)), jnp.asarray(0.2))
    kw = dict(loss="toy", sample_weight=c, l2=0.3)
    theta, unravel = jl.flatten_params(params)
    f = lambda t: jl.linear_loss(unravel(t), X, y, **kw)  # noqa: E731
    g = jl.flatten_params(jl.closed_form_gradient(params, X, y, **kw))[0]
    np.testing.assert_allclose(g, jax.grad(f)(theta), rtol=1e-10, atol=1e-14)
    H = jl.closed_form_hessian(params, X, y, **kw)
    np.testing.assert_allclose(H, jax.hessian(f)(theta), rtol=1e-10, atol=1e-14)
    assert np.linalg.eigvalsh(np.asarray(H))[0] > 0


TOY_CONFIG = """
title = "toy loss from a config"
claims = []

[data]
source = "gaussian"
n = 60
d = 2
seed = 3

[loss]
names = ["toy"]
l2 = 0.01

[optimizer]
name = ["adam"]
learning_rate = 0.1

[train]
steps = 20
chunk_size = 10
"""


def test_toy_is_usable_from_a_config(tmp_path, toy):
    path = tmp_path / "toy.toml"
    path.write_text(TOY_CONFIG)
    config = cfg.load(path)
    assert config.loss.names == ["toy"]
    out = tmp_path / "out"
    runner.run_path(path, out, quick=True, log=lambda line: None)
    run = json.loads((out / "metrics.json").read_text())["runs"]["toy/adam"]
    assert run["steps"] == 20 and np.isfinite(run["final"]["loss"])
    history = [
        json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()
    ]
    losses = [row["loss"] for row in history if row["run"] == "toy/adam"]
    assert losses[-1] < losses[0]  # trained, on the toy loss
