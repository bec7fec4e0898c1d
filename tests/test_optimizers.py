"""Optimizers and schedules by name: the optax objects, hyperparameters, clear errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlogloss.solvers.first_order import (
    OPTIMIZERS,
    SCHEDULES,
    make_optimizer,
    make_schedule,
)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_minimises_a_quadratic(name):
    opt = make_optimizer(name)
    f = lambda p: jnp.sum((p["w"] - 1.0) ** 2)  # noqa: E731

    @jax.jit
    def run(params):
        def step(_, carry):
            params, state = carry
            value, grad = jax.value_and_grad(f)(params)
            updates, state = opt.update(
                grad, state, params, value=value, grad=grad, value_fn=f
            )
            return optax.apply_updates(params, updates), state

        return jax.lax.fori_loop(0, 500, step, (params, opt.init(params)))[0]

    start = {"w": jnp.array([3.0, -2.0])}
    assert float(f(run(start))) < 1e-2 * float(f(start))


def test_sgd_momentum_nesterov_equals_optax():
    ours = make_optimizer("sgd", 0.1, momentum=0.9, nesterov=True)
    ref = optax.sgd(0.1, momentum=0.9, nesterov=True)
    p = {"w": jnp.array([1.0, 2.0])}
    g = {"w": jnp.array([0.5, -0.25])}
    s1, s2 = ours.init(p), ref.init(p)
    for _ in range(3):
        u1, s1 = ours.update(g, s1, p)
        u2, s2 = ref.update(g, s2, p)
        np.testing.assert_allclose(u1["w"], u2["w"])


def test_schedules_peak_at_the_learning_rate():
    for name, kwargs in [
        ("constant", {}),
        ("cosine", dict(decay_steps=100)),
        ("exponential", dict(transition_steps=10, decay_rate=0.5)),
        ("warmup_cosine", dict(warmup_steps=10, decay_steps=100)),
        ("linear", dict(end_value=0.0, transition_steps=100)),
    ]:
        sched = make_schedule(name, 0.3, **kwargs)
        values = np.array([sched(i) for i in range(0, 101, 10)])
        assert np.isclose(values.max(), 0.3), name
    opt = make_optimizer(
        "adam", 0.1, schedule="cosine", schedule_options=dict(decay_steps=10)
    )
    assert isinstance(opt, optax.GradientTransformationExtraArgs)
    assert set(SCHEDULES) == {
        "constant",
        "cosine",
        "exponential",
        "warmup_cosine",
        "linear",
    }


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: make_optimizer("adamax"),
            "optimizer must be one of sgd, adam, adamw, adagrad, rmsprop, lbfgs, got 'adamax'",
        ),
        (
            lambda: make_optimizer("sgd", -0.1),
            "learning_rate must be a number > 0, got -0.1",
        ),
        (
            lambda: make_optimizer("sgd", 0.1, momentom=0.9),
            "optimizer 'sgd' has no option 'momentom'; expected one of",
        ),
        (
            lambda: make_schedule("cosinus", 0.1),
            "schedule must be one of constant, cosine",
        ),
        (lambda: make_schedule("cosine", 0.1), "schedule 'cosine' needs decay_steps"),
        (
            lambda: make_schedule("cosine", 0.1, decay_steps=5, warmup=3),
            "has no option 'warmup'",
        ),
    ],
)
def test_bad_optimizer_settings(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_name_tables_are_optax_functions_read_only():
    assert OPTIMIZERS["adam"] is optax.adam and OPTIMIZERS["lbfgs"] is optax.lbfgs
    assert dict(OPTIMIZERS) == {name: getattr(optax, name) for name in OPTIMIZERS}
    fn, peak, required = SCHEDULES["cosine"]
    assert (fn, peak, required) == (
        optax.cosine_decay_schedule, "init_value", ("decay_steps",),
    )  # fmt: skip
    assert len(SCHEDULES) == 5 and "linear" in SCHEDULES and "nope" not in OPTIMIZERS
    with pytest.raises(KeyError):
        OPTIMIZERS["nope"]
    with pytest.raises(TypeError):
        OPTIMIZERS["adam"] = optax.sgd  # type: ignore[index]
