"""The host-driven solver loop (jaxlogloss.fitting.host_loop) takes the same iterates
as the compiled one: same coefficients, iterations, status and loss history."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import logistic_data

import jaxlogloss as jl
from jaxlogloss.fitting import background, host_loop, model_precision
from jaxlogloss.precision import enable_x64


def _data(n: int = 400, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return logistic_data(n, d, seed)


def exact_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Host Newton with the compiled run's models: exact products, a fresh Hessian
    every step; so, the host loop retraces the compiled run (the float32 models:
    tests/test_model_precision.py; the reuse: below)."""
    monkeypatch.setattr(model_precision, "FLOAT32_MODELS", False)
    monkeypatch.setattr(host_loop, "REUSE_RATIO", 0.0)


def _fit(monkeypatch: pytest.MonkeyPatch, host: bool, **kw: object) -> jl.FitResult:
    limit = 0 if host else 1 << 62
    monkeypatch.setattr(host_loop, "HOST_LOOP_MIN_ELEMENTS", limit)
    exact_models(monkeypatch)
    return jl.fit(*_data(), **kw)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("dtype,l2", [("float64", 0.0), ("float32", 0.1)])
def test_host_loop_fit_equals_compiled_fit(monkeypatch, solver, dtype, l2):
    compiled = _fit(monkeypatch, False, solver=solver, dtype=dtype, l2=l2)
    host = _fit(monkeypatch, True, solver=solver, dtype=dtype, l2=l2)
    assert host.n_iter == compiled.n_iter
    assert host.status == compiled.status == "converged"
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(host.coef, compiled.coef, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(host.intercept, compiled.intercept, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(
        host.loss_history, compiled.loss_history, rtol=rtol, atol=rtol
    )


def test_max_iter_status_on_the_host(monkeypatch):
    compiled = _fit(monkeypatch, False, solver="lbfgs", max_iter=2)
    host = _fit(monkeypatch, True, solver="lbfgs", max_iter=2)
    assert host.n_iter == compiled.n_iter == 2
    assert host.status == compiled.status == "max_iter"
    np.testing.assert_allclose(host.coef, compiled.coef, rtol=1e-12)


def test_the_rule_by_size(monkeypatch):
    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.model.objective import Problem
    from jaxlogloss.model.objectives import InMemoryObjective
    from jaxlogloss.model.scaling import identity_scaling

    def objective(n: int, d: int) -> InMemoryObjective:
        import jax

        xt = jax.ShapeDtypeStruct((d, n), np.float32)
        problem = Problem(FeatureMajor(xt), None, None, 0.0)
        return InMemoryObjective(problem, identity_scaling(d, np.float32))

    # the default: fit drives every in-memory Newton/L-BFGS from the host (one compiled
    # evaluation and one curvature program: a first call compiles ~3x less)
    assert host_loop.use_host_loop(objective(10**6, 100))
    monkeypatch.setattr(host_loop, "HOST_LOOP_MIN_ELEMENTS", 2_000_000)
    assert host_loop.use_host_loop(objective(200_000, 10))
    assert not host_loop.use_host_loop(objective(199_999, 10))


def test_background_compiles_share_one_persistent_daemon_worker():
    """Background compiles run on one daemon thread per process, in order; a failing
    job does not stop it; a job's event is set when it is done (the worker is never joined itself:
    XLA compiled from short-lived threads aborted the process at exit now and then)."""
    import threading

    seen = []
    compiler = background.BackgroundCompiler()

    def job(i):
        seen.append((i, threading.current_thread()))
        if i == 1:
            raise RuntimeError("a compile that fails")

    events = [compiler.submit(lambda i=i: job(i)) for i in range(3)]
    for e in events:
        e.wait()
    assert [i for i, _ in seen] == [0, 1, 2]
    threads = {t for _, t in seen}
    assert len(threads) == 1
    (worker,) = threads
    assert worker.daemon and worker.name == "jaxlogloss-compile" and worker.is_alive()
    assert worker is not threading.current_thread()


def _in_forked_child(body):
    """Run body() in a forked child (no JAX in it); True where it returned True within
    20 s (a worker the parent started is not in the child: a submit there must start
    its own, or the wait never ends)."""
    import os
    import signal

    pid = os.fork()
    if pid == 0:  # the child: exit at once, whatever happens
        signal.alarm(20)
        try:
            os._exit(0 if body() else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@pytest.mark.filterwarnings("ignore:os.fork")
def test_background_compiler_and_host_pool_work_in_a_forked_child():
    from jaxlogloss.data import host

    compiler = background.BackgroundCompiler()
    compiler.submit(lambda: None).wait()  # the parent's worker is running
    host.run_parallel(lambda w: None, 2)  # and the parent's pool

    def child():
        done = compiler.submit(lambda: None)
        seen = []
        host.run_parallel(seen.append, 2)
        return done.wait(10) and sorted(seen) == [0, 1]

    assert _in_forked_child(child)


def test_a_model_that_shrank_the_gradient_enough_takes_the_next_step(monkeypatch):
    """Newton's model is kept for the next step after a step that shrank |g|
    REUSE_RATIO times: fewer Hessians than steps, the same optimum and standard
    errors as fresh Hessians every step (and with REUSE_RATIO 0, one a step)."""
    X, y = logistic_data(5000, 30, 2)
    calls = []
    curvature = host_loop.model_curvature

    def counted(*args):
        calls.append(bool(args[3]))  # with_sums: the inference call
        return curvature(*args)

    monkeypatch.setattr(host_loop, "HOST_LOOP_MIN_ELEMENTS", 0)
    monkeypatch.setattr(host_loop, "model_curvature", counted)
    with enable_x64():
        kept = jl.fit(X, y, solver="newton")
        models_kept = calls.count(False)
        calls.clear()
        monkeypatch.setattr(host_loop, "REUSE_RATIO", 0.0)
        fresh = jl.fit(X, y, solver="newton")
    assert calls.count(False) == fresh.n_iter
    assert models_kept < kept.n_iter <= fresh.n_iter + 1
    assert kept.status == fresh.status == "converged"
    np.testing.assert_allclose(kept.coef, fresh.coef, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(
        kept.inference.std_err, fresh.inference.std_err, rtol=1e-8
    )


def test_cholesky_solve_equals_a_float64_solve():
    rng = np.random.default_rng()
    for p in (1, 2, 7, 40):
        a = rng.standard_normal((p + 3, p))
        spd = a.T @ a + 1e-3 * np.eye(p)
        b = rng.standard_normal(p)
        lower = np.linalg.cholesky(spd)
        x = host_loop.cholesky_solve(lower, b)
        np.testing.assert_allclose(spd @ x, b, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(x, np.linalg.solve(spd, b), rtol=1e-8)
