"""The linear-logit model against NumPy/SciPy float64 references."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import rtol_for
from scipy.special import expit, softmax
from sklearn.linear_model import LogisticRegression

import jaxlogloss as jl
from jaxlogloss.data.design import row_major


def random_params(rng, d, k, dtype):
    if k == 2:
        return jl.LinearParams(
            rng.standard_normal(d).astype(dtype), dtype(rng.standard_normal())
        )
    return jl.LinearParams(
        rng.standard_normal((d, k)).astype(dtype), rng.standard_normal(k).astype(dtype)
    )


def test_init_params_shapes_dtypes_and_keys(dtype):
    p = jl.init_params(4, dtype=dtype)
    chex.assert_shape((p.w, p.b), [(4,), ()])
    chex.assert_type((p.w, p.b), dtype)
    np.testing.assert_array_equal(p.w, 0)
    q = jl.init_params(4, n_classes=3, key=jax.random.key(0), scale=2.0, dtype=dtype)
    chex.assert_shape((q.w, q.b), [(4, 3), (3,)])
    assert np.std(np.asarray(q.w)) > 0.5
    np.testing.assert_array_equal(q.b, 0)
    r = jl.init_params(4, n_classes=3, key=jax.random.key(0), scale=2.0, dtype=dtype)
    chex.assert_trees_all_equal(q, r)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("layout", ["row", "feature"])
def test_logits_and_probabilities_match_numpy(rng, dtype, k, layout):
    n, d = 40, 5
    X = rng.standard_normal((n, d)).astype(dtype)
    params = random_params(rng, d, k, dtype)
    design = X if layout == "row" else jl.feature_major(X)
    z_ref = X.astype(np.float64) @ np.asarray(params.w, np.float64) + np.asarray(
        params.b, np.float64
    )
    z = jl.logits(params, design)
    chex.assert_type(z, dtype)
    chex.assert_shape(z, (n,) if k == 2 else (n, k))
    np.testing.assert_allclose(
        z, z_ref, rtol=10 * rtol_for(dtype), atol=10 * np.finfo(dtype).eps
    )
    proba = jl.predict_proba(params, design)
    ref = expit(z_ref) if k == 2 else softmax(z_ref, axis=1)
    np.testing.assert_allclose(proba, ref, rtol=1e-5, atol=1e-6)
    labels = jl.predict(params, design)
    chex.assert_type(labels, jnp.int32)
    expected = (z_ref > 0).astype(int) if k == 2 else np.argmax(z_ref, axis=1)
    np.testing.assert_array_equal(labels, expected)


def test_predict_matches_sklearn_with_the_same_coefficients(rng):
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] + 0.5 * rng.standard_normal(200) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    params = jl.LinearParams(
        jnp.asarray(clf.coef_[0], jnp.float32), jnp.float32(clf.intercept_[0])
    )
    X32 = X.astype(np.float32)
    np.testing.assert_array_equal(jl.predict(params, X32), clf.predict(X32))
    np.testing.assert_allclose(
        jl.predict_proba(params, X32), clf.predict_proba(X32)[:, 1], rtol=1e-5
    )


def test_predict_threshold_on_the_logit_scale(rng):
    X = rng.standard_normal((100, 2)).astype(np.float32)
    params = random_params(rng, 2, 2, np.float32)
    proba = np.asarray(jl.predict_proba(params, X), np.float64)
    for t in [0.2, 0.8]:
        np.testing.assert_array_equal(
            jl.predict(params, X, threshold=t), (proba > t).astype(int)
        )


def test_feature_major_view_is_the_same_matrix(rng):
    X = rng.standard_normal((7, 3)).astype(np.float32)
    fm = jl.feature_major(X)
    assert fm.shape == (7, 3) and fm.xt.shape == (3, 7)
    np.testing.assert_array_equal(row_major(fm), X)
    assert jl.feature_major(fm) is fm
    # a pytree: passes through jit
    out = jax.jit(jl.logits)(jl.init_params(3), fm)
    chex.assert_shape(out, (7,))


def test_params_accept_a_dict_and_vmap_over_params(rng):
    X = rng.standard_normal((10, 2)).astype(np.float32)
    w = rng.standard_normal((4, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    batched = jax.vmap(jl.logits, in_axes=(0, None))(jl.LinearParams(w, b), X)
    loop = jnp.stack([jl.logits({"w": w[i], "b": b[i]}, X) for i in range(4)])
    chex.assert_trees_all_close(batched, loop, rtol=1e-6, atol=1e-6)  # matmul vs matvec
