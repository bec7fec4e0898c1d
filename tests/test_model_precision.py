"""Float32 products for a float64 run's model Hessians (fitting/model_precision.py,
data/gram.py): the Gram within float32 rounding of float64 NumPy's, the fits' optimum
and standard errors those of exact models, and the switch to exact products where
rounding X to float32 would stall Newton (nearly collinear features)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlogloss as jl
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.data.gram import centered_gram_and_moment
from jaxlogloss.fitting import host_loop, host_prox, model_precision
from jaxlogloss.fitting.model_precision import ModelPrecision
from jaxlogloss.precision import enable_x64

_gram = jax.jit(centered_gram_and_moment, static_argnames=("block_size", "mesh"))


@pytest.mark.parametrize("layout", ["feature_major", "row_major"])
@pytest.mark.parametrize("storage", ["float64", "float32"])
def test_float32_products_within_float32_rounding(rng, layout, storage):
    """Each block's products in float32, summed in float64: the Gram, the sums and
    X^T u within ~1e-7 of the sums of their terms' sizes (float64 NumPy on the
    stored X; the centred sums cancel); the flag off gives them exactly."""
    n, d = 3037, 6  # several blocks of 1000 rows, the last one partial
    with enable_x64():
        X = (rng.standard_normal((n, d)) * rng.uniform(0.1, 10, d) + 5).astype(storage)
        design = FeatureMajor(jnp.asarray(X.T)) if layout == "feature_major" else X
        design = jnp.asarray(design) if layout == "row_major" else design
        c, u = rng.random(n), rng.standard_normal(n)
        Xw = X.astype(np.float64)
        mean = Xw.mean(axis=0)
        scale = rng.uniform(0.5, 2, d)
        xs = (Xw - mean) / scale
        want = ((xs.T * c) @ xs, xs.T @ c, c.sum(), Xw.T @ u)
        ax, au = np.abs(xs), np.abs(u)  # each sum's terms' sizes: its rounding's scale
        size = ((ax.T * c) @ ax, ax.T @ c, c.sum(), np.abs(Xw - mean).T @ au)
        # float32 products: each block of 1000 terms summed in float32 SIMD lanes, an
        # error of a few u = 6e-8 of the terms (up to 4.1e-7 in 40 seeds on AVX2)
        for flag, rtol in ((False, 1e-12), (True, 1e-6)):
            got = _gram(
                design, jnp.asarray(c), jnp.asarray(u), jnp.asarray(mean),
                jnp.asarray(scale), block_size=1000, float32_products=np.bool_(flag),
            )  # fmt: skip
            assert got[0].dtype == jnp.float64
            for a, b, terms in zip(got, want, size, strict=True):
                err = np.abs(np.asarray(a) - b)
                assert np.all(err <= rtol * terms + 1e-12 * np.abs(b)), err / terms
            gram = np.asarray(got[0])
            if flag:  # rounded, not exact
                assert np.abs(gram - want[0]).max() > 1e-13 * np.abs(want[0]).max()


def test_the_rule():
    assert not ModelPrecision(np.float32).rounded  # float32 products anyway
    p = ModelPrecision(np.float64)
    assert p.rounded and p.float32_products
    p.check(1.0, 0.5)  # halved: kept
    assert p.rounded
    p.check(1.0, 0.51)
    assert not p.rounded and not p.float32_products
    p.check(1.0, 1e-9)  # for good
    assert not p.rounded
    q = ModelPrecision(np.float64)
    q.check(1.0, np.nan)
    assert not q.rounded
    r = ModelPrecision(np.float64)
    assert r.exact() and not r.exact()  # changed once


class _Spy(ModelPrecision):
    made: list[ModelPrecision] = []

    def __init__(self, dtype):
        super().__init__(dtype)
        self.made.append(self)


def _fits(monkeypatch, X, y, **kw):
    """The host fit with float32 models (the default), then with exact ones; the
    ModelPrecision of the first."""
    _Spy.made = []
    monkeypatch.setattr(host_loop, "HOST_LOOP_MIN_ELEMENTS", 0)
    monkeypatch.setattr(host_loop, "ModelPrecision", _Spy)
    monkeypatch.setattr(host_prox, "ModelPrecision", _Spy)
    with enable_x64():
        rounded = jl.fit(X, y, **kw)
        spy = _Spy.made[0]
        monkeypatch.setattr(model_precision, "FLOAT32_MODELS", False)
        exact = jl.fit(X, y, **kw)
    return rounded, exact, spy


def _data(rng, n=2000, d=6, collinear=False):
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d) + rng.uniform(-2, 2, d)
    if collinear:  # column 1 is column 0 plus a part float32 cannot hold
        X[:, 1] = X[:, 0] + 1e-9 * rng.standard_normal(n)
    w = rng.uniform(-1, 1, d) / np.sqrt(d)
    w[1] = 0.0
    z = (X - X.mean(axis=0)) @ w
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    return X, y


@pytest.mark.parametrize(
    "kw",
    [
        dict(solver="newton"),
        dict(solver="newton", l2=0.01, sample_weight="random"),
        dict(penalty="l1", alpha=0.003),
    ],
    ids=["newton", "newton-l2-weights", "prox-newton-l1"],
)
def test_float32_models_reach_the_exact_models_fit(rng, monkeypatch, kw):
    X, y = _data(rng)
    kw = dict(kw)
    if kw.get("sample_weight") == "random":
        kw["sample_weight"] = rng.uniform(0.2, 3, len(y))
    rounded, exact, spy = _fits(monkeypatch, X, y, **kw)
    assert rounded.status == exact.status == "converged"
    assert spy.rounded, "a well-conditioned fit kept its float32 models"
    np.testing.assert_allclose(rounded.coef, exact.coef, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(rounded.intercept, exact.intercept, atol=1e-9)
    np.testing.assert_allclose(rounded.objective, exact.objective, rtol=1e-14)
    if kw.get("penalty") == "l1":
        np.testing.assert_array_equal(rounded.coef == 0, exact.coef == 0)
    else:  # the inference Hessian is exact in both
        se_r, se_e = rounded.inference.std_err, exact.inference.std_err
        np.testing.assert_allclose(se_r, se_e, rtol=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearly_collinear_features_switch_to_exact_products(seed, monkeypatch):
    """Rounding X to float32 erases the difference of two columns that differ by
    1e-9: the float32 model cannot resolve that direction, a step fails to halve the
    gradient, and the run finishes on exact products within a few steps of the exact
    run (kept on float32 models, twelve such fits took 24-100 steps, five of them
    stopping at max_iter; exact ones 3-5). The problem is that ill-posed: runs that
    meet the gradient tolerance differ in F by up to ~5e-6 relative. Fixed seeds:
    on about one draw in sixty the rounded model's steps happen to halve the gradient
    all the way (no switch, and none needed: the run converges as fast)."""
    X, y = _data(np.random.default_rng(seed), collinear=True)
    rounded, exact, spy = _fits(monkeypatch, X, y, solver="newton")
    assert rounded.status == exact.status == "converged"
    assert not spy.rounded
    assert rounded.n_iter <= exact.n_iter + 3
    np.testing.assert_allclose(rounded.objective, exact.objective, rtol=2e-5)
