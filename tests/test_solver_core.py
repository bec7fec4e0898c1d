"""The solver core: one Newton, one L-BFGS and one first-order loop, written against
the objective interface, reach the same optimum on every objective kind (in memory,
sharded over 4 CPU devices, streamed), equal to an independent float64 optimum; the
state, statuses, stopping rule, line search and registries behave as documented."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import child_env
from scipy.optimize import minimize

import jaxlogloss as jl
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.data.stream import open_stream
from jaxlogloss.fitting.solve import minimise_compiled, solve
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import InMemoryObjective, ravel
from jaxlogloss.model.penalties import get_penalty, penalty_names
from jaxlogloss.model.scaling import feature_scaling, identity_scaling, to_standardized
from jaxlogloss.model.streamed import BatchSource, StreamedObjective, stream_scaling
from jaxlogloss.precision import enable_x64
from jaxlogloss.solvers.base import STATUSES, Status, minimise
from jaxlogloss.solvers.lbfgs import LBFGS
from jaxlogloss.solvers.linesearch import ARMIJO_C1, backtracking
from jaxlogloss.solvers.newton import Newton

SCRIPT = Path(__file__).parent / "scripts" / "solver_kinds.py"
N, D, ALPHA = 301, 4, 0.01


def _data(rng: np.random.Generator, n: int = N, d: int = D):
    X = rng.standard_normal((n, d)) * np.array([1.0, 10.0, 0.1, 3.0])[:d] + 2.0
    z = X @ np.linspace(-1, 1, d) * 0.3 + 0.2
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    return X, y


def _reference(X: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """[b, w] minimising mean log-loss + alpha/2 ||w||^2: SciPy's trust-region Newton
    with the exact NumPy Hessian, polished by NumPy Newton steps, in float64."""
    A = np.c_[np.ones(len(y)), X]
    pen = np.r_[0.0, np.full(X.shape[1], alpha)]

    def f(t: np.ndarray) -> tuple[float, np.ndarray]:
        z = A @ t
        loss = np.mean(np.logaddexp(0, z) - y * z) + 0.5 * t @ (pen * t)
        return loss, A.T @ (1 / (1 + np.exp(-z)) - y) / len(y) + pen * t

    def hess(t: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(A @ t)))
        return (A.T * (p * (1 - p))) @ A / len(y) + np.diag(pen)

    theta = minimize(
        f, np.zeros(A.shape[1]), jac=True, hess=hess, method="trust-exact"
    ).x
    for _ in range(3):  # polish: Newton converges quadratically from here
        theta = theta - np.linalg.solve(hess(theta), f(theta)[1])
    return theta


def _write(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    pq.write_table(pa.table({**cols, "y": y}), path, row_group_size=50)


def test_every_solver_on_every_objective_kind_reaches_one_optimum(rng, tmp_path):
    X, y = _data(rng)
    path = tmp_path / "data.parquet"
    _write(path, X, y)
    env = child_env(4)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(path), str(N), str(D)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    want = _reference(X, y, ALPHA)
    for solver, tol in [("newton", 1e-9), ("lbfgs", 1e-7), ("adam", 1e-5)]:
        kinds = got[solver]
        for kind, res in kinds.items():
            assert res["status"] == "converged", (solver, kind, res)
            np.testing.assert_allclose(
                res["coef"], want, rtol=tol, atol=tol, err_msg=f"{solver} {kind}"
            )
        # the same standard errors whatever holds the rows
        for kind in ("sharded", "streamed"):
            np.testing.assert_allclose(
                kinds[kind]["std_err"], kinds["memory"]["std_err"], rtol=1e-5
            )
    # L-BFGS takes the same steps in memory (its host loop) and sharded (compiled);
    # in memory Newton's models come from float32 products and a model that shrank
    # |g| 1000x takes the next step too (host_loop.newton_host), so it may take a
    # step more or fewer than the compiled run's exact Hessians (with exact models
    # the two retrace each other: tests/test_host_loop.py)
    lbfgs, newton = got["lbfgs"], got["newton"]
    assert lbfgs["sharded"]["n_iter"] == lbfgs["memory"]["n_iter"]
    assert abs(newton["sharded"]["n_iter"] - newton["memory"]["n_iter"]) <= 1


@pytest.mark.parametrize("name", ["newton", "lbfgs"])
def test_streamed_and_in_memory_objectives_give_the_same_iterates(rng, tmp_path, name):
    """The same solver code, compiled in memory and as a host loop over passes."""
    X, y = _data(rng, n=200, d=3)
    path = tmp_path / "d.parquet"
    _write(path, X, y)
    with enable_x64():
        stream = open_stream(path, target="y", dtype="float64", batch_rows=37)
        source = BatchSource(stream, 0, 200, 37)
        streamed = StreamedObjective(
            source, stream_scaling(source, 0.0, np.float64), 0.0, np.float64
        )
        xt = jnp.asarray(X.T)
        problem = Problem(FeatureMajor(xt), jnp.asarray(y), None, jnp.asarray(0.0))
        scaling = feature_scaling(problem.X)
        memory = InMemoryObjective(problem, scaling)
        np.testing.assert_allclose(streamed.scaling.scale, scaling.scale, rtol=1e-12)
        method = (Newton if name == "newton" else LBFGS)(jnp.asarray(1e-10), 50)
        theta0 = jnp.zeros(4)
        a = minimise_compiled(method, memory, theta0).iterate
        b = minimise(method, streamed, theta0).iterate
        assert int(a.status) == int(b.status) == Status.CONVERGED
        assert int(a.n_iter) == int(b.n_iter)
        np.testing.assert_allclose(a.theta, b.theta, rtol=1e-9, atol=1e-11)
        k = int(a.n_iter)
        np.testing.assert_allclose(
            a.loss_history[: k + 1], b.loss_history[: k + 1], rtol=1e-10
        )
        assert np.all(np.isnan(np.asarray(a.loss_history[k + 1 :])))
        if name == "newton":  # one pass per iteration when the full step is taken
            assert source.passes <= 2 + 2 * k


def test_statuses_are_one_enum():
    assert STATUSES == (
        "running",
        "converged",
        "max_iter",
        "diverged",
        "separation",
        "stalled",
    )
    assert [s.label for s in Status] == list(STATUSES)
    assert Status.MAX_ITER.label == "max_iter" and int(Status.SEPARATION) == 4


def test_state_is_read_by_field_names(rng):
    X, y = _data(rng, n=120, d=2)
    with enable_x64():
        problem = Problem(
            FeatureMajor(jnp.asarray(X.T)), jnp.asarray(y), None, jnp.asarray(0.1)
        )
        obj = InMemoryObjective(problem, identity_scaling(2, jnp.float64))
        state = Newton(jnp.asarray(1e-10), 30).init(obj, jnp.zeros(3))
        assert state.iterate._fields == (
            "theta", "value", "grad", "status", "n_iter", "loss_history", "grad_norm_history",
        )  # fmt: skip
        assert state.hessian is None and state.aux.shape == (120,)  # logits reused
        state = Newton(jnp.asarray(1e-10), 30).step(obj, state)
        assert int(state.iterate.n_iter) == 1 and state.iterate.value < np.log(2)


def test_budget_ends_as_max_iter_and_tol_is_traced(rng):
    X, y = _data(rng, n=150, d=3)
    with enable_x64():
        problem = Problem(
            FeatureMajor(jnp.asarray(X.T)), jnp.asarray(y), None, jnp.asarray(0.0)
        )
        obj = InMemoryObjective(problem, feature_scaling(problem.X))
        before = minimise_compiled._cache_size()
        short = minimise_compiled(
            LBFGS(jnp.asarray(1e-12), 2), obj, jnp.zeros(4)
        ).iterate
        assert Status(int(short.status)) == Status.MAX_ITER and int(short.n_iter) == 2
        for tol in (1e-3, 1e-6):  # another tolerance: the same compiled program
            minimise_compiled(LBFGS(jnp.asarray(tol), 2), obj, jnp.zeros(4))
        assert minimise_compiled._cache_size() == before + 1


def test_separable_data_stop_with_separation_and_penalty_prevents_it():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    with enable_x64():
        start = jl.init_params(1, dtype=jnp.float64)
        for name in ("newton", "lbfgs"):
            for alpha, status in [(0.0, "separation"), (0.1, "converged")]:
                problem = Problem(
                    FeatureMajor(jnp.asarray(X.T)),
                    jnp.asarray(y),
                    None,
                    jnp.asarray(alpha),
                )
                scaling = feature_scaling(problem.X)
                res = solve(name, problem, scaling, start, 1e-10, 100)
                assert res.status == status, (name, alpha)


def test_backtracking_meets_armijo_and_refuses_ascent():
    with enable_x64():
        A = jnp.diag(jnp.array([1.0, 100.0]))

        class Quadratic:
            derivatives_with_value = False
            calls = 0

            def evaluate(self, theta, order=1):
                Quadratic.calls += 1
                from jaxlogloss.model.objectives import Evaluation

                value = 0.5 * theta @ A @ theta
                return Evaluation(value, A @ theta, None, jnp.bool_(False))

            while_loop = staticmethod(jax.lax.while_loop)

        obj = Quadratic()
        theta = jnp.array([1.0, 1.0])
        g = A @ theta
        f = 0.5 * theta @ A @ theta
        res = backtracking(obj, theta, f, g @ -g, -g, 0)
        t = float(res.step_size)
        assert bool(res.accepted) and 0 < t < 1
        new = theta - t * g
        assert float(0.5 * new @ A @ new) <= float(f + ARMIJO_C1 * t * (g @ -g))
        assert float(0.5 * (theta - 2 * t * g) @ A @ (theta - 2 * t * g)) > float(
            f + ARMIJO_C1 * 2 * t * (g @ -g)
        )
        up = backtracking(obj, theta, f, g @ g, g, 0, max_halvings=5)
        assert not bool(up.accepted)


def test_newton_reads_the_loss_registry_squared_error_is_least_squares(rng):
    """Newton on the registry's "squared_error" loss (no loss-specific solver code) gives
    the least-squares solution."""
    X, _ = _data(rng, n=80, d=3)
    y = X @ np.array([0.5, -0.1, 2.0]) + 0.3 + 0.1 * rng.standard_normal(80)
    with enable_x64():
        problem = Problem(
            FeatureMajor(jnp.asarray(X.T)), jnp.asarray(y), None, jnp.asarray(0.0)
        )
        res = solve(
            "newton",
            problem,
            feature_scaling(problem.X),
            jl.init_params(3, dtype=jnp.float64),
            1e-10,
            20,
            loss="squared_error",
        )
    want = np.linalg.lstsq(np.c_[X, np.ones(80)], y, rcond=None)[0]
    assert res.status == "converged" and res.n_iter <= 3
    np.testing.assert_allclose(np.r_[res.params.w, res.params.b], want, rtol=1e-9)


def test_penalty_registry():
    assert {"none", "l2"} <= set(penalty_names())
    with pytest.raises(ValueError, match="penalty must be one of 'none', 'l2'"):
        get_penalty("l3", "fit")
    w = jnp.array([1.0, -2.0])
    assert float(get_penalty("l2").value(w, 0.5)) == pytest.approx(1.25)
    assert float(get_penalty("none").value(w, 0.5)) == 0.0


def test_sweep_uses_the_same_solvers_as_fit(rng):
    X, y = _data(rng, n=200, d=3)
    X = X.astype(np.float32)
    path = jl.sweep(X, y, solver="newton", l2s=[0.0, 0.1])
    for k, alpha in enumerate([0.0, 0.1]):
        one = jl.fit(X, y, l2=alpha, dtype="float32")
        np.testing.assert_allclose(path.params.w[k], one.coef, rtol=2e-4, atol=2e-5)


def test_fit_accepts_a_stream_directly(rng, tmp_path):
    X, y = _data(rng, n=150, d=2)
    _write(tmp_path / "s.parquet", X, y)
    stream = open_stream(
        tmp_path / "s.parquet", target="y", dtype="float64", batch_rows=40
    )
    a = jl.fit(stream, l2=0.1)
    b = jl.fit_stream(stream, l2=0.1)
    c = jl.fit(X, y, l2=0.1)
    np.testing.assert_allclose(a.coef, c.coef, rtol=1e-9)
    np.testing.assert_allclose(b.coef, c.coef, rtol=1e-9)
    assert a.to_dict().keys() == c.to_dict().keys()
    with pytest.raises(ValueError, match="fit: batch_rows must be an integer >= 1"):
        jl.fit(stream, batch_rows=0)


def test_theta_round_trip():
    with enable_x64():
        p = jl.LinearParams(jnp.array([1.0, 2.0]), jnp.array(3.0))
        scaling = identity_scaling(2, jnp.float64)
        obj = InMemoryObjective(
            Problem(FeatureMajor(jnp.ones((2, 3))), jnp.ones(3), None, 0.0), scaling
        )
        theta = ravel(to_standardized(p, scaling))
        back = obj.raw_params(theta)
        np.testing.assert_array_equal(back.w, p.w)
        assert float(back.b) == 3.0


@pytest.fixture
def steepest():
    import dataclasses
    from typing import NamedTuple

    from jaxlogloss.solvers.base import Iterate, advance, start, static_field
    from jaxlogloss.solvers.registry import register_solver, unregister_solver

    class State(NamedTuple):
        iterate: Iterate

    @jax.tree_util.register_dataclass
    @dataclasses.dataclass(frozen=True)
    class Steepest:
        tol: object
        max_iter: int = static_field(500)

        def init(self, objective, theta):
            ev = objective.evaluate(theta, 1)
            return State(start(theta, ev, self.tol, self.max_iter))

        def step(self, objective, state):
            it = state.iterate
            d = -it.grad
            ls = backtracking(objective, it.theta, it.value, it.grad @ d, d, 1)
            theta = jnp.where(ls.accepted, it.theta + ls.step_size * d, it.theta)
            return State(advance(it, theta, ls.evaluation, self.tol, ls.accepted)[0])

    register_solver("steepest", Steepest)
    yield "steepest"
    unregister_solver("steepest")


def test_a_solver_registered_in_one_place_fits_every_objective_kind(
    rng, tmp_path, steepest
):
    X, y = _data(rng, n=150, d=2)
    _write(tmp_path / "s.parquet", X, y)
    want = jl.fit(X, y, l2=0.1)
    got = jl.fit(X, y, solver=steepest, l2=0.1, tol=1e-8, max_iter=2000)
    assert got.status == "converged" and got.solver == steepest
    np.testing.assert_allclose(got.coef, want.coef, rtol=1e-6, atol=1e-7)
    stream = open_stream(
        tmp_path / "s.parquet", target="y", dtype="float64", batch_rows=64
    )
    streamed = jl.fit(stream, solver=steepest, l2=0.1, tol=1e-8, max_iter=2000)
    np.testing.assert_allclose(streamed.coef, want.coef, rtol=1e-6, atol=1e-7)
    path = jl.sweep(X.astype(np.float32), y, solver=steepest, l2s=[0.1], tol=1e-5)
    np.testing.assert_allclose(path.params.w[0], want.coef, rtol=1e-3, atol=1e-4)


def test_stalled_is_judged_over_a_window_of_iterates():
    """A kept step that raises ||grad|| without lowering the value (the rounding floor
    of a quasi-Newton run) is progress while ||grad|| stays below the largest of the
    last PROGRESS_WINDOW iterates', and stalls the run once it does not; the compiled
    rule (solvers.base.advance) and the host one (fitting.host_loop._Run) agree."""
    from jaxlogloss.fitting.host_loop import _Point, _Run
    from jaxlogloss.model.objectives import Evaluation
    from jaxlogloss.solvers.base import PROGRESS_WINDOW, advance, start

    assert PROGRESS_WINDOW == 5
    norms = [1e-3, 1e-6, 1e-8, 2e-9, 1e-9]  # the run's history, value flat after k=2
    value = 0.5
    with enable_x64():

        def ev(gn):
            g = jnp.asarray([gn, -gn / 2])
            return Evaluation(jnp.asarray(value), g, None, jnp.asarray(False), None)

        it = start(jnp.zeros(2), ev(norms[0]), 1e-12, 20)
        run = _Run(np.zeros(2), _Point(np.float64(value), np.asarray([norms[0], 0.0]),
                                        False, None), 1e-12, 20)  # fmt: skip
        for gn in norms[1:]:
            it, kept = advance(it, jnp.zeros(2), ev(gn), 1e-12, jnp.asarray(True))
            run.advance(np.zeros(2), _Point(np.float64(value), np.asarray([gn, 0.0]),
                                            False, None), True)  # fmt: skip
            assert bool(kept)
        # the window is iterates 0..4: its largest norm is 1e-3
        for gn, label in ((5e-7, "running"), (2e-3, "stalled")):
            nxt, _ = advance(it, jnp.zeros(2), ev(gn), 1e-12, jnp.asarray(True))
            assert STATUSES[int(nxt.status)] == label, (gn, label)
            host = copy.deepcopy(run)
            host.advance(np.zeros(2), _Point(np.float64(value), np.asarray([gn, 0.0]),
                                             False, None), True)  # fmt: skip
            assert STATUSES[host.status] == label, (gn, label)
        # one more flat step drops 1e-3 out of the window (now 1e-6 at most)
        it, _ = advance(it, jnp.zeros(2), ev(5e-7), 1e-12, jnp.asarray(True))
        nxt, _ = advance(it, jnp.zeros(2), ev(2e-6), 1e-12, jnp.asarray(True))
        assert STATUSES[int(nxt.status)] == "stalled"
