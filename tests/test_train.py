"""The training loop: optimizers agree with Newton, chunks, statuses, resume, writers."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlogloss as jl
from jaxlogloss.fitting import train as train_mod
from jaxlogloss.fitting.fit import fit
from jaxlogloss.fitting.train import train
from jaxlogloss.fitting.writers import JsonlWriter


def logistic_data(rng, n=400, d=3, dtype=np.float32):
    X = rng.standard_normal((n, d)).astype(dtype)
    w = np.linspace(1.0, -1.0, d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w + 0.3)))).astype(dtype)
    return X, y


@pytest.fixture
def data(rng):
    return logistic_data(rng)


@pytest.fixture
def optimum(data):
    X, y = data
    return fit(X, y, solver="newton")


@pytest.mark.parametrize(
    "optimizer,options",
    [
        ("adam", dict(learning_rate=0.05)),
        (
            "sgd",
            dict(
                learning_rate=0.5, optimizer_options=dict(momentum=0.9, nesterov=True)
            ),
        ),
        ("lbfgs", {}),
    ],
)
def test_optimizers_reach_the_newton_optimum(data, optimum, optimizer, options):
    X, y = data
    result = train(
        jl.init_params(3), X, y, optimizer=optimizer, steps=3000, tol=1e-5, **options
    )
    assert result.status == "converged"
    np.testing.assert_allclose(result.params.w, optimum.coef, atol=2e-4)
    np.testing.assert_allclose(result.params.b, optimum.intercept, atol=2e-4)
    assert result.history["loss"][-1] == pytest.approx(optimum.objective, rel=1e-6)


def test_history_metrics_writer_and_step_losses(data, tmp_path):
    X, y = data
    path = tmp_path / "history.jsonl"
    result = train(
        jl.init_params(3), X, y, optimizer="adam", steps=250, chunk_size=100,
        metrics=("accuracy", "roc_auc", "brier", "ece", "log_loss"), writer=JsonlWriter(path),
    )  # fmt: skip
    h = result.history
    assert result.status == "max_iter" and result.n_steps == 250
    np.testing.assert_array_equal(h["step"], [0, 100, 200, 250])
    assert set(h) == {
        "step",
        "loss",
        "grad_norm",
        "accuracy",
        "roc_auc",
        "brier",
        "ece",
        "log_loss",
    }
    assert h["loss"][-1] < h["loss"][0]
    np.testing.assert_allclose(h["log_loss"], h["loss"], rtol=1e-5)
    assert len(result.step_losses) == 250
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in rows] == [100, 200, 250]
    assert rows[-1]["accuracy"] == pytest.approx(h["accuracy"][-1])


def test_progress_bar_runs_between_chunks(data, capsys):
    X, y = data
    result = train(jl.init_params(3), X, y, steps=200, chunk_size=100, progress=True)
    assert result.n_steps == 200
    assert "adam log_loss" in capsys.readouterr().out


def test_the_training_step_compiles_once(data):
    X, y = data
    before = train_mod._run_chunk._cache_size()
    result = train(jl.init_params(3), X, y, optimizer="sgd", steps=350, chunk_size=50)
    assert result.n_steps == 350  # seven chunks
    after_first = train_mod._run_chunk._cache_size()
    assert after_first <= before + 1
    # the same settings again: the compiled chunk is reused, nothing is traced anew
    again = train(jl.init_params(3), X, y, optimizer="sgd", steps=350, chunk_size=50)
    assert train_mod._run_chunk._cache_size() == after_first
    np.testing.assert_array_equal(again.params.w, result.params.w)


def test_minibatch_with_the_whole_data_equals_full_batch(data):
    X, y = data
    full = train(jl.init_params(3), X, y, optimizer="sgd", learning_rate=0.3, steps=60)
    mini = train(
        jl.init_params(3),
        X,
        y,
        optimizer="sgd",
        learning_rate=0.3,
        steps=60,
        batch_size=len(y),
    )
    np.testing.assert_allclose(mini.params.w, full.params.w, rtol=1e-5, atol=1e-6)


def test_minibatches_are_reshuffled_every_epoch_from_the_key(data):
    X, y = data
    kw = dict(optimizer="sgd", learning_rate=0.1, steps=40, batch_size=40)
    a = train(jl.init_params(3), X, y, key=jax.random.key(1), **kw)
    b = train(jl.init_params(3), X, y, key=jax.random.key(1), **kw)
    c = train(jl.init_params(3), X, y, key=jax.random.key(2), **kw)
    np.testing.assert_array_equal(a.step_losses, b.step_losses)
    assert not np.allclose(a.step_losses, c.step_losses)


def test_each_epoch_visits_every_example_once_in_a_fresh_order(data):
    X, y = data
    key = jax.random.key_data(jax.random.key(5))
    perms = [np.asarray(train_mod.epoch_permutation(key, e, len(y))) for e in range(3)]
    for p in perms:
        np.testing.assert_array_equal(np.sort(p), np.arange(len(y)))
    assert not np.array_equal(perms[0], perms[1])
    # with a zero step size the batch losses are those of the batches in that order
    frozen = train(
        jl.init_params(3, key=jax.random.key(0), scale=0.5), X, y, optimizer=optax.sgd(0.0),
        steps=20, batch_size=40, key=jax.random.key(5),
    )  # fmt: skip
    w0 = np.asarray(jl.init_params(3, key=jax.random.key(0), scale=0.5).w, np.float64)
    z = X.astype(np.float64) @ w0
    each = y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)
    expected = [
        each[perms[s // 10][(s % 10) * 40 : (s % 10 + 1) * 40]].mean()
        for s in range(20)
    ]
    np.testing.assert_allclose(frozen.step_losses, expected, rtol=1e-5)


def test_divergence_stops_and_keeps_what_was_recorded(data):
    X, y = data
    result = train(
        jl.init_params(3),
        X,
        y,
        optimizer="sgd",
        learning_rate=1e38,
        steps=300,
        chunk_size=10,
    )
    assert result.status == "diverged"
    assert result.n_steps < 300
    assert np.all(np.isfinite(np.asarray(result.params.w)))
    assert len(result.history["loss"]) >= 2 and np.isfinite(result.history["loss"][0])


def test_weights_as_repetitions(rng):
    X, y = logistic_data(rng, n=50)
    w = np.ones(50, np.float32)
    w[7] = 2.0
    idx = np.r_[np.arange(50), 7]
    kw = dict(optimizer="sgd", learning_rate=0.5, steps=50)
    a = train(jl.init_params(3), X, y, sample_weight=w, **kw)
    b = train(jl.init_params(3), X[idx], y[idx], **kw)
    np.testing.assert_allclose(a.params.w, b.params.w, rtol=1e-5, atol=1e-6)


def test_standardize_reaches_the_same_optimum_on_badly_scaled_features(
    rng, optimum, data
):
    X, y = data
    scale = np.array([1000.0, 1.0, 0.01], np.float32)
    result = train(
        jl.init_params(3), X * scale, y, optimizer="adam", learning_rate=0.05, steps=4000,
        tol=1e-5, standardize=True,
    )  # fmt: skip
    assert result.status == "converged"
    np.testing.assert_allclose(
        np.asarray(result.params.w) * scale, optimum.coef, atol=5e-4
    )


def test_softmax_training(rng):
    X = rng.standard_normal((300, 2)).astype(np.float32)
    labels = np.argmax(
        X @ np.array([[2.0, -1.0, 0.0], [0.0, 1.0, -2.0]]) + rng.gumbel(size=(300, 3)),
        axis=1,
    )
    result = train(
        jl.init_params(2, n_classes=3),
        X,
        labels,
        loss="softmax",
        optimizer="adam",
        steps=300,
        metrics=("accuracy",),
    )
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.history["accuracy"][-1] > 0.6


def test_interrupted_run_resumes_to_the_same_result(data, tmp_path):
    X, y = data
    path = tmp_path / "run.ckpt"
    kw = dict(
        optimizer="adam",
        steps=500,
        chunk_size=100,
        batch_size=64,
        key=jax.random.key(3),
    )

    class Interrupt(Exception):
        pass

    class StopAfterTwo:
        calls = 0

        def write_scalars(self, step, scalars):
            self.calls += 1
            if self.calls == 2:
                raise Interrupt

        def close(self):
            pass

    with pytest.raises(Interrupt):
        train(jl.init_params(3), X, y, checkpoint=path, writer=StopAfterTwo(), **kw)
    assert path.exists()
    resumed = train(jl.init_params(3), X, y, checkpoint=path, **kw)
    straight = train(jl.init_params(3), X, y, **kw)
    np.testing.assert_array_equal(resumed.params.w, straight.params.w)
    np.testing.assert_array_equal(resumed.history["loss"], straight.history["loss"])
    np.testing.assert_array_equal(resumed.step_losses, straight.step_losses)
    with pytest.raises(ValueError, match="belongs to a run with other settings"):
        train(jl.init_params(3), X, y, checkpoint=path, **{**kw, "steps": 600})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(steps=0), "steps must be an integer >= 1, got 0"),
        (dict(batch_size=10_000), "batch_size must be at most n = 400"),
        (dict(metrics=("f1",)), "unknown metric 'f1'"),
        (dict(optimizer="adamax"), "optimizer must be one of"),
        (dict(tol=-1.0), "tol must be a number >= 0"),
        (dict(l2=-0.5), "l2 must be a finite number >= 0"),
    ],
)
def test_bad_training_settings(data, kwargs, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        train(jl.init_params(3), X, y, **kwargs)


def test_donated_or_not_the_users_params_survive(data):
    X, y = data
    params = jl.init_params(3, key=jax.random.key(0))
    train(params, X, y, steps=5)
    assert float(jnp.sum(params.w)) == float(jnp.sum(params.w))
