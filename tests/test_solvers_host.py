"""Newton and L-BFGS driven from the host (jaxlogloss.fitting.host_loop): the same fit
as the compiled whole-run solver, from three compiled programs; and the row-major
products that widen a float32 X a block at a time (no float64 copy of X)."""

from __future__ import annotations

import logging
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SEED, logistic_data

import jaxlogloss as jl
from jaxlogloss.data.design import FeatureMajor, matvec, rmatvec
from jaxlogloss.fitting import host_curvature, host_loop, host_scaling, model_precision
from jaxlogloss.precision import enable_x64


def _data(n: int = 300, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return logistic_data(n, d, seed)


def _both(monkeypatch: pytest.MonkeyPatch, X, y, **kw) -> tuple[jl.FitResult, ...]:
    out = []
    for limit in (1 << 62, 0):  # compiled whole run, then the host loop
        monkeypatch.setattr(host_loop, "HOST_LOOP_MIN_ELEMENTS", limit)
        out.append(jl.fit(X, y, **kw))
    return tuple(out)


# tests/test_host_loop.py compares both runs for Newton and L-BFGS in float64 and
# float32 and at max_iter; here: weights with an L2 penalty, separation
@pytest.mark.parametrize("float32_models", [False, True], ids=["exact", "float32"])
@pytest.mark.parametrize(
    "solver,kw",
    [("newton", dict(dtype="float64", l2=0.3, weights=True))],
    ids=["newton-l2-weights"],
)
def test_host_loop_equals_the_compiled_run(monkeypatch, solver, kw, float32_models):
    """With exact model Hessians the host loop retraces the compiled run; with
    float32 products (the default) its iterates differ by the model's rounding, its
    optimum and standard errors do not."""
    monkeypatch.setattr(model_precision, "FLOAT32_MODELS", float32_models)
    monkeypatch.setattr(host_loop, "REUSE_RATIO", 0.0)  # a fresh model every step
    X, y = _data()
    kw = dict(kw)
    if kw.pop("weights", False):
        kw["sample_weight"] = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    compiled, host = _both(monkeypatch, X, y, solver=solver, **kw)
    assert host.n_iter == compiled.n_iter
    assert host.status == compiled.status
    assert host.status == ("max_iter" if kw.get("max_iter") else "converged")
    tol = 1e-5 if kw["dtype"] == "float32" else 1e-10
    np.testing.assert_allclose(host.coef, compiled.coef, rtol=tol, atol=tol)
    np.testing.assert_allclose(host.intercept, compiled.intercept, rtol=tol, atol=tol)
    k = host.n_iter + 1
    path_tol = 1e-7 if float32_models else tol
    np.testing.assert_allclose(
        host.loss_history[:k], compiled.loss_history[:k], rtol=path_tol, atol=tol
    )
    se_host, se_compiled = host.inference.std_err, compiled.inference.std_err
    np.testing.assert_allclose(se_host, se_compiled, rtol=10 * tol)


def test_separation_on_the_host(monkeypatch):
    X, _ = _data()
    y = (X[:, 0] > np.median(X[:, 0])).astype(np.float64)  # completely separated
    compiled, host = _both(monkeypatch, X, y, solver="newton")
    assert host.status == compiled.status == "separation"
    assert host.n_iter == compiled.n_iter


def test_the_rule():
    X, y = _data(50, 3)
    with enable_x64():
        from jaxlogloss.model.objective import Problem
        from jaxlogloss.model.objectives import InMemoryObjective
        from jaxlogloss.model.scaling import identity_scaling
        from jaxlogloss.solvers.registry import make_solver

        problem = Problem(jnp.asarray(X), jnp.asarray(y), None, jnp.asarray(0.0))
        objective = InMemoryObjective(problem, identity_scaling(3, np.float64))
        newton = make_solver("newton", 1e-8, 10)
        assert host_loop.use_host_loop(objective, newton)
        multi = problem._replace(targets=jnp.ones((50, 2)))
        assert not host_loop.use_host_loop(InMemoryObjective(multi, objective.scaling))


class _Programs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        m = re.search(r"Finished XLA compilation of (\S+)", record.getMessage())
        if m:
            self.names.append(m.group(1))


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("small", [True, False])
def test_a_first_fit_compiles_two_or_four_programs(solver, small, monkeypatch):
    """Evaluation and the curvature's weights (Newton's steps and the inference step
    share it; the Gram is formed by NumPy's BLAS); X's moments are read by NumPy
    threads, and only where X has more than HOST_SCALING_MAX_ELEMENTS elements does
    the point at 0 come with them, from two small programs (the slopes over n, the
    scaling and the point over d): no compiled pass over X. A fresh shape (no
    compiled program to reuse) compiles exactly these."""
    if not small:
        monkeypatch.setattr(host_scaling, "HOST_SCALING_MAX_ELEMENTS", 0)
    n = (1237 if solver == "newton" else 1239) + 4 * small  # fresh shapes
    X, y = _data(n, 3, seed=2)
    handler = _Programs()
    logger = logging.getLogger("jax")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            jl.fit(X, y, solver=solver)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    expected = ["jit(curvature_weights)", "jit(evaluate)"]  # the Gram: on the host
    if not small:  # the point at 0 from the moments' read
        expected += ["jit(zero_point_from_moments)", "jit(zero_slopes)"]
    assert sorted(handler.names) == sorted(expected), handler.names


@pytest.mark.parametrize("layout", ["row", "feature"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_host_scaling_equals_the_compiled_one(rng, layout, dtype):
    """host_feature_scaling (NumPy) equals feature_scaling (XLA) on fresh data: weights
    with zeros, an L2 term, a constant feature (scale 1), each layout and dtype; and
    scaling_of takes the NumPy path for such an X."""
    from jaxlogloss.data.design import FeatureMajor
    from jaxlogloss.model.scaling import feature_scaling, host_feature_scaling

    n, d = 500, 4
    X = rng.normal(size=(n, d)) * [1, 100, 1e-3, 1] + [0, 5, -2, 0]
    X[:, 3] = 7.0  # constant
    c = rng.uniform(0, 3, n)
    c[:10] = 0.0
    with enable_x64():
        Xj = jnp.asarray(X, dtype)
        design = FeatureMajor(jnp.asarray(X.T, dtype)) if layout == "feature" else Xj
        for w, l2 in ((None, 0.0), (jnp.asarray(c, dtype), jnp.asarray(0.3, dtype))):
            want = feature_scaling(design, w, l2)
            got = host_feature_scaling(design, w, l2)
            via = host_scaling.scaling_of(design, w, l2)
            cw = np.ones(n) if w is None else np.asarray(w, np.float64)
            Xd = np.asarray(Xj, np.float64)  # the values fitted (float32: rounded)
            mean = cw @ Xd / cw.sum()
            ref = (mean, np.sqrt(cw @ (Xd - mean) ** 2 / cw.sum() + 4 * float(l2)))
            ref[1][3] = ref[1][3] or 1.0  # the constant feature
            for a, b, e, r in zip(got, want, via, ref, strict=True):
                assert a.dtype == b.dtype == e.dtype
                # the host scaling is float64 NumPy's to rounding (float32: the
                # moments rounded, then the rule in float32)
                # (a mean near 0 judged on its column's magnitude: relative to the
                # mean itself, 0.3% of seeds exceeded 1e-13, e.g. 5.7e-13)
                tight = 1e-13 if dtype == "float64" else 3e-7
                r_dt = np.asarray(r.astype(dtype), np.float64)
                near = tight * (np.abs(r_dt) + np.abs(Xd).mean(axis=0))
                assert np.all(np.abs(np.asarray(a, np.float64) - r_dt) <= near), (a, r)
                # float32: XLA sums in float32, NumPy in float64 then rounds (a mean
                # near 0 is off by float32's rounding of the column's magnitude)
                rtol = 1e-12 if dtype == "float64" else 2e-5
                atol = (1e-12 if dtype == "float64" else 2e-6) * np.abs(Xd).mean(axis=0)
                a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
                bound = atol + rtol * np.abs(b64)
                assert np.all(np.abs(a64 - b64) <= bound), (a64, b64, bound)
                np.testing.assert_array_equal(a, e)  # scaling_of took the host path
            assert float(got.scale[3]) == pytest.approx(1.0 if l2 == 0.0 else 1.2**0.5)


@pytest.mark.parametrize("layout", ["rows", "features"])
@pytest.mark.parametrize("k", [None, 3])
def test_widened_products_equal_float64_and_copy_no_x(k, layout):
    rng = np.random.default_rng([SEED, 3])
    n, d = 20000, 6  # more rows than one block (8192): the blocked rule, 3 blocks
    X = rng.standard_normal((n, d)).astype(np.float32)
    w = rng.standard_normal((d,) if k is None else (d, k))
    r = rng.standard_normal((n,) if k is None else (n, k))
    X64 = X.astype(np.float64)
    with enable_x64():
        Xj = jnp.asarray(X) if layout == "rows" else FeatureMajor(jnp.asarray(X.T))
        z = jax.jit(matvec)(Xj, jnp.asarray(w))
        g = jax.jit(rmatvec)(Xj, jnp.asarray(r))
        assert z.dtype == g.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(z), X64 @ w, rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(np.asarray(g), X64.T @ r, rtol=1e-13, atol=1e-10)
        for f, v in ((matvec, w), (rmatvec, r)):
            hlo = jax.jit(f).lower(Xj, jnp.asarray(v)).compile().as_text()
            assert f"f64[{n},{d}]" not in hlo  # no float64 copy of X
            assert f"f64[{d},{n}]" not in hlo
        # same dtype: the rows are contracted in place (no transposed copy of X)
        hlo = jax.jit(rmatvec).lower(jnp.asarray(X64), jnp.asarray(r)).compile()
        assert f"[{d},{n}]" not in hlo.as_text()


@pytest.mark.parametrize("layout", ["rows", "features"])
def test_float64_fit_of_float32_storage_makes_no_float64_copy_of_x(layout, monkeypatch):
    """The programs a float64 fit of a float32-stored X runs (the host loop's value
    and gradient, and its Hessian with the model statistics' sums) widen a block of
    rows at a time: their temporaries stay far below a float64 copy of X (the
    feature-major value and gradient, and the sums' X^T v, widened all of X: 2x X's
    float32 bytes each)."""
    from jaxlogloss.fitting.fit import ONE_BLOCK_MAX_BYTES

    rng = np.random.default_rng([SEED, 4])
    n, d = 60000, 24  # over ONE_BLOCK_MAX_BYTES (a smaller X is read as one block)
    assert n * d * 4 > ONE_BLOCK_MAX_BYTES
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(np.float64)
    design = X if layout == "rows" else jl.feature_major(X)
    temps: dict[str, int] = {}
    real = {name: getattr(host_loop, name) for name in ("evaluate", "curvature")}

    def measured(name):
        def run(*args):
            analysis = real[name].lower(*args).compile().memory_analysis()
            if analysis is None:  # a backend that does not report it
                pytest.skip("no memory analysis on this backend")
            temps[name] = analysis.temp_size_in_bytes
            return real[name](*args)

        return run

    for name in real:
        monkeypatch.setattr(host_loop, name, measured(name))
    # the compiled Gram (X off the host, or a mesh); on the host NumPy forms it from
    # one (d, 8192) block buffer (tests/test_host_gram.py)
    monkeypatch.setattr(host_curvature, "HOST_GRAM_MIN_ELEMENTS", 1 << 62)
    r = jl.fit(design, y, solver="newton", dtype="float64")
    monkeypatch.undo()
    assert r.converged and r.coef.dtype == np.float64
    assert set(temps) == {"evaluate", "curvature"}
    for name, size in temps.items():
        assert size < X.nbytes, (name, size, X.nbytes)  # a float64 copy: 2 X.nbytes
    ref = jl.fit(X.astype(np.float64), y, solver="newton")
    np.testing.assert_allclose(r.coef, ref.coef, rtol=1e-9, atol=1e-12)


def test_compiler_options_fall_back_where_xla_lacks_them(monkeypatch):
    # a jaxlib whose XLA no longer has the option must still fit (with no options):
    # the first compile naming it fails and is retried without options
    from jaxlogloss.fitting import compiled

    monkeypatch.setattr(compiled, "COMPILER_OPTIONS", {"xla_no_such_option": False})
    monkeypatch.setattr(compiled, "_REJECTED", [])
    cpu = jax.default_backend() == "cpu"
    assert compiled.compiler_options() == (compiled.COMPILER_OPTIONS if cpu else {})
    double = compiled.fast_compile(lambda x: 2 * x)
    assert float(double(jnp.float32(3))) == 6.0
    assert compiled.compiler_options() == {}
    assert compiled._REJECTED == ([True] if cpu else [])
    with pytest.raises(TypeError):  # other errors are not swallowed
        double("not an array")
    monkeypatch.undo()
    expected = compiled.COMPILER_OPTIONS if cpu else {}
    assert compiled.compiler_options() == expected


def test_at_the_value_floor_an_overshooting_lbfgs_step_is_halved():
    """Where every value rounds to the same number, the approximate Wolfe test of
    _step(floor_check=True) halves a step whose directional derivative overshoots
    (phi'(t) > 0.8 |phi'(0)|), and accepts the first that does not; without the check
    the flat value accepts the full step. f = c + h theta^2 / 2 (value held flat)."""
    from jaxlogloss.fitting.host_loop import _Point, _Run, _step

    h = 1e-14  # c1 phi'(0) far below the rounding slack of the value

    def point_at(theta):
        return _Point(np.float64(0.5), h * theta, False, None)

    direction = np.array([-10.0])  # from theta = 1: the minimum is at t = 0.1
    slope = float(h * 1.0 * direction[0])
    for check, want in ((True, 0.125), (False, 1.0)):
        run = _Run(np.array([1.0]), point_at(np.array([1.0])), 1e-20, 10)
        _step(point_at, run, direction, slope, True, 30, check)
        np.testing.assert_allclose(run.theta, 1.0 + want * direction)
        assert run.status == (0 if check else 5)  # running (|g| fell) / stalled
    # the compiled line search's test (solvers.linesearch.not_past) agrees, and lets
    # any trial pass where the value moved by more than rounding
    from jaxlogloss.solvers.linesearch import not_past

    with enable_x64():
        for t, want in ((1.0, False), (0.5, False), (0.25, False), (0.125, True)):
            grad = jnp.asarray(h * (1.0 + t * direction))
            args = (jnp.asarray(slope), jnp.asarray(direction))
            assert bool(not_past(0.5, grad, 0.5, *args)) is want
            assert bool(not_past(0.5 - 1e-9, grad, 0.5, *args))
