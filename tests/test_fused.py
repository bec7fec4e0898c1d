"""The one-pass value and gradient equal the two-pass ``jax.value_and_grad``.

:func:`jaxlogloss.data.design.blocked_value_grad` reads each block of rows once;
``InMemoryObjective.evaluate`` uses it for binary losses. Its value, gradient and logits
must equal autodiff of the plain objective to rounding: float64 on fresh random inputs
(the session seed), with sample weights, both layouts, a block size that does not divide
n, under ``jit`` and ``vmap``, for every binary registered loss; float32 to float32
tolerance.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlogloss.data.design import FeatureMajor, blocked_value_grad
from jaxlogloss.losses.registry import get_loss, loss_names
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import Evaluation, InMemoryObjective
from jaxlogloss.model.scaling import Scaling
from jaxlogloss.precision import enable_x64

BINARY = [name for name in loss_names() if not get_loss(name).multiclass]
N, D, BLOCK = 203, 5, 32  # 203 = 6 * 32 + 11: a short last block


def _data(rng: np.random.Generator, dtype: str, layout: str, weighted: bool):
    X = rng.standard_normal((N, D)) * rng.uniform(0.5, 3.0, D) + rng.normal(size=D)
    y = (rng.random(N) < 0.4).astype(dtype)
    c = rng.uniform(0.0, 2.0, N).astype(dtype) if weighted else None
    X = jnp.asarray(X, dtype)
    design = FeatureMajor(jnp.asarray(X.T)) if layout == "feature" else X
    scaling = Scaling(
        jnp.asarray(rng.normal(size=D), dtype),
        jnp.asarray(rng.uniform(0.5, 2, D), dtype),
    )
    return design, jnp.asarray(y), None if c is None else jnp.asarray(c), scaling


def _objective(design, y, c, scaling, loss, l2=0.01):
    return InMemoryObjective(
        Problem(design, y, c, l2), scaling, loss, "l2", None, BLOCK
    )


def _two_pass(obj: InMemoryObjective, theta):
    return jax.value_and_grad(obj.value)(theta)


def _fused(obj: InMemoryObjective, theta) -> Evaluation:
    """The one-pass value and gradient (evaluate uses it on row-major X)."""
    f, g, z = obj.fused_value_and_grad(theta)
    return Evaluation(f, g, None, jnp.asarray(False), z)


@pytest.mark.parametrize("loss", BINARY)
@pytest.mark.parametrize("layout", ["feature", "row"])
@pytest.mark.parametrize("weighted", [True, False])
def test_fused_equals_two_pass_float64(rng, loss, layout, weighted):
    with enable_x64():
        design, y, c, scaling = _data(rng, "float64", layout, weighted)
        obj = _objective(design, y, c, scaling, loss)
        theta = jnp.asarray(0.3 * rng.standard_normal(D + 1))
        ev = jax.jit(_fused)(obj, theta)
        f, g = jax.jit(_two_pass)(obj, theta)
        np.testing.assert_allclose(ev.value, f, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ev.grad, g, rtol=1e-10, atol=1e-13)
        z = obj.problem.X.xt.T if layout == "feature" else obj.problem.X
        raw = obj.raw_params(theta)
        np.testing.assert_allclose(ev.aux, z @ raw.w + raw.b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("loss", BINARY)
@pytest.mark.parametrize("layout", ["feature", "row"])
def test_fused_under_vmap_float64(rng, loss, layout):
    """vmap over theta, the penalty and the scaling (as sweeps do), X shared."""
    runs = 3
    with enable_x64():
        design, y, c, scaling = _data(rng, "float64", layout, True)
        thetas = jnp.asarray(0.3 * rng.standard_normal((runs, D + 1)))
        l2s = jnp.asarray([0.0, 0.01, 1.0])
        scales = jnp.asarray(rng.uniform(0.5, 2, (runs, D)))

        def one(theta, l2, scale, fused):
            obj = _objective(design, y, c, Scaling(scaling.mean, scale), loss, l2)
            if fused:
                return obj.fused_value_and_grad(theta)[:2]
            return _two_pass(obj, theta)

        fused = jax.jit(jax.vmap(lambda *a: one(*a, True)))(thetas, l2s, scales)
        plain = jax.jit(jax.vmap(lambda *a: one(*a, False)))(thetas, l2s, scales)
        np.testing.assert_allclose(fused[0], plain[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(fused[1], plain[1], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("loss", BINARY)
@pytest.mark.parametrize("block", [1, 7, 32, N, 4 * N])
def test_blocked_value_grad_float64(rng, loss, block):
    """The helper itself, against autodiff of sum c l(y, X w + b), any block size."""
    with enable_x64():
        design, y, c, _ = _data(rng, "float64", "row", True)
        w = jnp.asarray(0.3 * rng.standard_normal(D))
        b = jnp.asarray(0.1)
        spec = get_loss(loss)

        def total(w, b):
            return jnp.sum(c * spec.value(y, design @ w + b))

        s, gw, gb, z = jax.jit(
            lambda w, b: blocked_value_grad(
                design, y, c, w, b, spec.value, spec.grad, block
            )
        )(w, b)
        f, (rw, rb) = jax.value_and_grad(total, argnums=(0, 1))(w, b)
        np.testing.assert_allclose(s, f, rtol=1e-12)
        np.testing.assert_allclose(gw, rw, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, rb, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(z, design @ w + b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("loss", BINARY)
@pytest.mark.parametrize("layout", ["feature", "row"])
def test_fused_float32(rng, loss, layout):
    design, y, c, scaling = _data(rng, "float32", layout, True)
    obj = _objective(design, y, c, scaling, loss)
    theta = jnp.asarray(0.3 * rng.standard_normal(D + 1), jnp.float32)
    ev = jax.jit(_fused)(obj, theta)
    f, g = jax.jit(_two_pass)(obj, theta)
    assert ev.value.dtype == ev.grad.dtype == jnp.float32
    np.testing.assert_allclose(ev.value, f, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ev.grad, g, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layout", ["feature", "row"])
@pytest.mark.parametrize("weighted", [True, False])
def test_fused_with_mesh_float64(rng, layout, weighted):
    """Rows over a mesh: the pass runs under shard_map (here a one-device mesh; the
    several-device runs are tests/test_distributed.py's)."""
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
    with enable_x64():
        design, y, c, scaling = _data(rng, "float64", layout, weighted)
        obj = _objective(design, y, c, scaling, "log_loss")
        sharded = InMemoryObjective(obj.problem, scaling, "log_loss", "l2", mesh, BLOCK)
        theta = jnp.asarray(0.3 * rng.standard_normal(D + 1))
        ev = jax.jit(_fused)(sharded, theta)
        f, g = jax.jit(_two_pass)(obj, theta)
        np.testing.assert_allclose(ev.value, f, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ev.grad, g, rtol=1e-10, atol=1e-13)


def test_evaluate_uses_the_fused_pass_on_row_major(rng):
    """evaluate(theta, 1) on a row-major X is the one-pass result (and Newton's
    order-2 evaluation keeps its logits)."""
    with enable_x64():
        design, y, c, scaling = _data(rng, "float64", "row", True)
        obj = _objective(design, y, c, scaling, "log_loss")
        theta = jnp.asarray(0.3 * rng.standard_normal(D + 1))
        ev = jax.jit(lambda o, t: o.evaluate(t, 2))(obj, theta)
        fused = jax.jit(_fused)(obj, theta)
        np.testing.assert_allclose(ev.value, fused.value, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ev.grad, fused.grad, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ev.aux, fused.aux, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ev.hessian, jax.hessian(obj.value)(theta), rtol=1e-9)
