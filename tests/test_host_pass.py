"""The host loop's evaluation in parts on threads (jaxlogloss.fitting.host_pass): the
same value, gradient, certificate and logits as the one compiled pass, on every
row-major layout, with ragged ranges; where it applies; jl.fit unchanged by it."""

from __future__ import annotations

import chex
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import logistic_data

import jaxlogloss as jl
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.data.host import in_place_design
from jaxlogloss.fitting import host_loop
from jaxlogloss.fitting import host_pass as hp
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import InMemoryObjective
from jaxlogloss.model.scaling import Scaling
from jaxlogloss.precision import enable_x64


def _objective(design, y, mean, scale, sw=None, l2=0.0, block_size=64):
    problem = Problem(
        design, jnp.asarray(y), None if sw is None else jnp.asarray(sw),
        jnp.asarray(l2, jnp.asarray(y).dtype),
    )  # fmt: skip
    scaling = Scaling(jnp.asarray(mean), jnp.asarray(scale))
    return InMemoryObjective(problem, scaling, block_size=block_size)


@pytest.mark.parametrize("layout", ["array", "rows_in_place"])
@pytest.mark.parametrize("parts", [2, 3, 5])
@pytest.mark.parametrize("weights_l2", [False, True], ids=["plain", "weights-l2"])
def test_parts_equal_the_one_pass(layout, parts, weights_l2):
    """n = 2000 in blocks of 64 (the last one shifted back over its neighbour's
    rows): f, the gradient and the certificate to rounding, z exactly."""
    n, d = 2000, 5
    if layout == "rows_in_place":
        n = (1 << 24) // (8 * d) + 37  # in place from 16 MB
    X, y = logistic_data(n, d, 3)
    rng = np.random.default_rng(4)
    with enable_x64():
        design = jnp.asarray(X) if layout == "array" else in_place_design(X)
        assert design is not None
        sw = rng.uniform(0.2, 2.0, n) if weights_l2 else None
        obj = _objective(design, y, X.mean(0), X.std(0), sw, 0.2 if weights_l2 else 0.0)
        theta = jnp.asarray(rng.normal(0, 0.3, d + 1))
        one = host_loop.evaluate(obj, theta)
        split = hp.evaluate_in_parts(obj, np.asarray(theta), parts)
        chex.assert_trees_all_equal_shapes_and_dtypes(one, split)
        np.testing.assert_allclose(float(split[0]), float(one[0]), rtol=1e-13)
        np.testing.assert_allclose(split[1], one[1], rtol=1e-11, atol=1e-15)
        assert bool(split[2]) == bool(one[2])
        np.testing.assert_array_equal(np.asarray(split[3]), np.asarray(one[3]))


def test_parts_find_separation_and_float32():
    """The certificate from the parts' logits on separable data; a float32
    objective's parts within float32 rounding."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    y = (X[:, 0] > 0).astype(float)
    with enable_x64():
        obj = _objective(jnp.asarray(X), y, X.mean(0), X.std(0))
        m, s = X.mean(0), X.std(0)
        theta = np.array([50.0, 0, 0, 50.0 * m[0] / s[0]])  # boundary at x0 = 0
        assert bool(hp.evaluate_in_parts(obj, theta, 2)[2])
        assert bool(host_loop.evaluate(obj, jnp.asarray(theta))[2])
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    obj = _objective(jnp.asarray(X32), y32, X32.mean(0), X32.std(0))
    theta = np.array([0.5, -0.2, 0.1, 0.0], np.float32)
    one = host_loop.evaluate(obj, jnp.asarray(theta))
    split = hp.evaluate_in_parts(obj, theta, 3)
    assert split[1].dtype == jnp.float32
    np.testing.assert_allclose(split[1], one[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(split[0]), float(one[0]), rtol=1e-6)


def test_where_parts_apply(monkeypatch):
    """A large row-major X in host memory: one part a core (two blocks a part at
    least); not a feature-major X, a small one, a multiclass target or an objective
    with an offset."""
    monkeypatch.setattr(hp, "PARTS_MIN_ELEMENTS", 1000)
    monkeypatch.setattr(hp, "MAX_PARTS", 2)
    monkeypatch.setattr(hp, "parallel_workers", lambda parts: max(1, min(4, parts)))
    X, y = logistic_data(2000, 5, 1)
    with enable_x64():
        theta = jnp.zeros(6)
        obj = _objective(jnp.asarray(X), y, X.mean(0), X.std(0))
        assert hp.pass_parts(obj, theta) == 2
        monkeypatch.setattr(hp, "MAX_PARTS", None)
        assert hp.pass_parts(obj, theta) == 4  # 32 blocks on 4 cores
        feature = _objective(
            FeatureMajor(jnp.asarray(np.ascontiguousarray(X.T))), y, X.mean(0),
            X.std(0),
        )  # fmt: skip
        assert hp.pass_parts(feature, theta) == 1
        few = _objective(jnp.asarray(X), y, X.mean(0), X.std(0), block_size=1024)
        assert hp.pass_parts(few, theta) == 1  # 2 blocks: not two a part
        multi = obj.problem._replace(targets=jnp.ones((2000, 2)))
        assert hp.pass_parts(type(obj)(multi, obj.scaling, block_size=64), theta) == 1
        from jaxlogloss.model.offset import OffsetObjective

        offset = OffsetObjective(
            obj.problem, obj.scaling, block_size=64, offset=jnp.zeros(2000)
        )
        assert hp.pass_parts(offset, theta) == 1
        monkeypatch.setattr(hp, "PARTS_MIN_ELEMENTS", 10**9)
        assert hp.pass_parts(obj, theta) == 1
        monkeypatch.setattr(hp, "PARTS_MIN_ELEMENTS", None)
        assert hp.pass_parts(obj, theta) == 1


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_fits_in_parts_equal_fits_in_one_pass(monkeypatch, solver):
    """jl.fit on a C-ordered array: the same coefficients, standard errors and
    iterations with its passes in parts (here on 16-row blocks) as without."""
    import importlib

    fit_module = importlib.import_module("jaxlogloss.fitting.fit")

    X, y = logistic_data(3000, 4, 9)
    X = np.ascontiguousarray(X)
    calls = []
    real = hp.evaluate_in_parts

    def counted(*args):
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(host_loop, "evaluate_in_parts", counted)
    monkeypatch.setattr(hp, "parallel_workers", lambda parts: max(1, min(2, parts)))
    monkeypatch.setattr(fit_module, "block_rows", lambda *a, **k: 16)
    fits = []
    for limit in (None, 0):
        monkeypatch.setattr(hp, "PARTS_MIN_ELEMENTS", limit)
        fits.append(jl.fit(X, y, solver=solver, l2=0.01))
    one, split = fits
    assert calls and min(calls) >= 2
    assert split.n_iter == one.n_iter and split.status == one.status == "converged"
    np.testing.assert_allclose(split.coef, one.coef, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(
        split.inference.std_err, one.inference.std_err, rtol=1e-9
    )
