"""Penalties: L1, elastic net and L2 against scikit-learn (and python-glmnet where
installed), the KKT conditions by hand in NumPy, class weights, penalty factors,
streamed and sharded fits, vmap over alphas, and every bad argument."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SEED, child_env
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_sample_weight

import jaxlogloss as jl
from jaxlogloss.data.stream import open_stream
from jaxlogloss.data.table import read_table
from jaxlogloss.model.class_weight import class_weights
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import InMemoryObjective
from jaxlogloss.model.penalties import elastic_net_value, get_penalty
from jaxlogloss.model.scaling import feature_scaling
from jaxlogloss.precision import enable_x64
from jaxlogloss.solvers.prox_newton import prox_newton_solve

N, D = 200, 5


@pytest.fixture(scope="module")
def data():
    """Features of unequal scales and offsets, a sparse true model, 0/1 labels."""
    rng = np.random.default_rng([SEED, 12])
    X = rng.standard_normal((N, D)) * np.linspace(0.5, 2.0, D) + np.linspace(-1, 1, D)
    w = np.array([1.2, -0.8, 0.0, 0.0, 0.4])
    p = 1 / (1 + np.exp(-(X - X.mean(0)) @ w - 0.3))
    y = (rng.random(N) < p).astype(np.float64)
    return X, y


def objective_value(X, y, w, b, alpha, r, factor=None, c=None):
    """mean_c log-loss + alpha sum f (r |w| + (1 - r)/2 w^2), in NumPy."""
    c = np.ones(len(y)) if c is None else c
    f = np.ones(len(w)) if factor is None else factor
    z = X @ w + b
    loss = np.sum(c * (np.logaddexp(0, z) - y * z)) / c.sum()
    return loss + alpha * np.sum(f * (r * np.abs(w) + 0.5 * (1 - r) * w * w))


def kkt_by_hand(X, y, w, b, alpha, r, factor=None, c=None):
    """The largest KKT violation on the raw coefficients, in NumPy."""
    c = np.ones(len(y)) if c is None else c
    f = np.ones(len(w)) if factor is None else factor
    resid = c * (1 / (1 + np.exp(-(X @ w + b))) - y) / c.sum()
    g = X.T @ resid + alpha * (1 - r) * f * w
    lam = alpha * r * f
    viol = np.where(
        w == 0, np.maximum(np.abs(g) - lam, 0), np.abs(g + lam * np.sign(w))
    )
    return max(viol.max(), abs(resid.sum()))


def saga(X, y, alpha, r, **kw):
    """scikit-learn's saga at a tight tolerance (C = 1 / (n alpha))."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(
            C=1 / (len(y) * alpha), l1_ratio=r, solver="saga", tol=1e-12,
            max_iter=200_000, **kw,
        )  # fmt: skip
        return model.fit(X, y)


@pytest.mark.parametrize(
    "penalty, alpha, l1_ratio",
    [("l1", 0.02, None), ("elasticnet", 0.03, 0.2), ("elasticnet", 0.03, 0.5),
     ("elasticnet", 0.03, 0.8), ("l2", 0.01, None)],
)  # fmt: skip
def test_objective_no_worse_than_sklearn_saga(data, penalty, alpha, l1_ratio):
    X, y = data
    # proximal Newton for every penalty here (L2 by Newton: tests/test_fit.py)
    res = jl.fit(X, y, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
                 solver="prox_newton")  # fmt: skip
    r = res.l1_ratio
    assert res.status == "converged" and res.penalty == penalty and res.alpha == alpha
    sk = saga(X, y, alpha, r)
    ours = objective_value(X, y, res.coef, res.intercept, alpha, r)
    theirs = objective_value(X, y, sk.coef_[0], sk.intercept_[0], alpha, r)
    assert ours <= theirs + 1e-8
    assert res.objective == pytest.approx(ours, abs=1e-12)
    np.testing.assert_allclose(res.coef, sk.coef_[0], atol=1e-5)
    # the optimality conditions, by hand, on the raw coefficients
    assert kkt_by_hand(X, y, res.coef, res.intercept, alpha, r) < 1e-8
    if res.kkt_violation is not None:
        assert res.kkt_violation == pytest.approx(
            kkt_by_hand(X, y, res.coef, res.intercept, alpha, r), abs=1e-12
        )


def test_l1_gives_exact_zeros_and_all_zero_above_alpha_max(data):
    X, y = data
    # alpha_max = ||X^T (y - ybar)||_inf / n: every coefficient exactly 0 at it
    alpha_max = np.max(np.abs(X.T @ (y - y.mean()))) / N
    # at 0.6 alpha_max the strongest feature is in and the two without signal are out
    # whatever the seed (a fixed alpha = 0.05 kept them both in for some seeds)
    res = jl.fit(X, y, penalty="l1", alpha=0.6 * alpha_max)
    assert np.any(res.coef == 0) and np.any(res.coef != 0)
    top = jl.fit(X, y, penalty="l1", alpha=alpha_max * 1.001)
    assert np.all(top.coef == 0)
    assert top.intercept == pytest.approx(np.log(y.mean() / (1 - y.mean())), abs=1e-9)
    below = jl.fit(X, y, penalty="l1", alpha=alpha_max * 0.95)
    assert np.sum(below.coef != 0) >= 1


def test_glmnet_objective_where_installed(data):
    glmnet = pytest.importorskip("glmnet")
    X, y = data
    alpha, r = 0.02, 0.7
    model = glmnet.LogitNet(alpha=r, lambda_path=np.array([alpha]), standardize=False,
                            tol=1e-12, max_iter=100000, n_splits=0)  # fmt: skip
    model.fit(X, y.astype(int))
    w_g, b_g = model.coef_path_[0][:, 0], model.intercept_path_[0]
    res = jl.fit(X, y, penalty="elasticnet", alpha=alpha, l1_ratio=r)
    ours = objective_value(X, y, res.coef, res.intercept, alpha, r)
    assert ours <= objective_value(X, y, w_g, b_g, alpha, r) + 1e-8


def test_penalised_inference_is_stated(data):
    X, y = data
    l1 = jl.fit(X, y, penalty="l1", alpha=0.02)
    assert np.all(np.isnan(l1.inference.std_err))
    assert "not reported" in l1.inference_note
    table = l1.summary()
    assert "std err" not in table and "Note: standard errors are not reported" in table
    out = json.loads(json.dumps(l1.to_dict()))
    assert set(out["std_err"].values()) == {None} and out["inference_note"]
    assert out["penalty"] == "l1" and out["kkt_violation"] < 1e-8
    l2 = jl.fit(X, y, l2=0.01, solver="prox_newton")
    assert l2.penalty == "l2" and np.all(np.isfinite(l2.inference.std_err))
    assert "penalised objective" in l2.summary()
    # the penalised information by hand: X1' diag(p(1-p)) X1 + n alpha I on w only
    X1 = np.c_[np.ones(N), X]
    p = 1 / (1 + np.exp(-(X @ l2.coef + l2.intercept)))
    info = X1.T @ (X1 * (p * (1 - p))[:, None]) + N * 0.01 * np.diag(
        np.r_[0, np.ones(D)]
    )
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    np.testing.assert_allclose(l2.inference.std_err, se, rtol=1e-7)


def _newton_polish(X, y, c, alpha, coef, intercept, steps=2):
    """Newton steps in float64 NumPy on sum c l / sum c + alpha |w|^2 / 2 (the
    intercept unpenalised) from (coef, intercept)."""
    A = np.hstack([X, np.ones((len(y), 1))])
    theta = np.append(coef, intercept)
    ridge = np.diag(np.append(np.full(X.shape[1], alpha), 0.0))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(A @ theta)))
        g = A.T @ (c * (p - y)) / c.sum() + ridge @ theta
        H = (A.T * (c * p * (1 - p))) @ A / c.sum() + ridge
        theta = theta - np.linalg.solve(H, g)
    return theta[:-1], theta[-1]


def test_class_weights_equal_sklearn(data):
    X, y = data
    alpha = 0.01
    for cw in ("balanced", {0: 0.5, 1: 3.0}):
        c = compute_sample_weight(cw, y)
        np.testing.assert_allclose(class_weights(y, cw), c, rtol=1e-15)
        # penalty l2 by proximal Newton (the program the other fits here compiled)
        res = jl.fit(X, y, l2=alpha, class_weight=cw, solver="prox_newton")
        # sklearn minimises C sum c l + |w|^2 / 2: C = 1 / (alpha sum c)
        sk = LogisticRegression(
            C=1 / (alpha * c.sum()), class_weight=cw, solver="lbfgs", tol=1e-12,
            max_iter=10000,
        ).fit(X, y)  # fmt: skip
        # scipy's L-BFGS-B may stop on its relative-reduction rule first (|g| 1.9e-8
        # at one seed in 500, 1.4e-7 off in a coefficient): its answer, polished by
        # two float64 Newton steps in NumPy, is the reference
        coef, intercept = _newton_polish(X, y, c, alpha, sk.coef_[0], sk.intercept_[0])
        np.testing.assert_allclose(sk.coef_[0], coef, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(res.coef, coef, rtol=1e-5, atol=1e-7)
        assert res.intercept == pytest.approx(intercept, rel=1e-5, abs=1e-7)
    # multiplied into sample weights
    sw = np.linspace(1, 2, N)
    a = jl.fit(
        X, y, penalty="l1", alpha=0.02, class_weight="balanced", sample_weight=sw
    )
    b = jl.fit(
        X, y, penalty="l1", alpha=0.02, sample_weight=sw * class_weights(y, "balanced")
    )
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10, atol=1e-12)


def test_penalty_factor_equals_rescaled_columns_and_zero_is_free(data):
    X, y = data
    f = np.array([0.5, 2.0, 1.0, 3.0, 1.5])
    res = jl.fit(X, y, penalty="l1", alpha=0.02, penalty_factor=f)
    # alpha f_j |w_j| on X  ==  alpha |v_j| on X_j / f_j with v_j = f_j w_j
    ref = jl.fit(X / f, y, penalty="l1", alpha=0.02)
    np.testing.assert_allclose(res.coef, ref.coef / f, rtol=1e-7, atol=1e-10)
    factor = np.array([0.0, 2.0, 1.0, 1.0, 1.0])
    for alpha in (0.05, 20.0):
        free = jl.fit(X, y, penalty="elasticnet", alpha=alpha, l1_ratio=0.6,
                      penalty_factor={"x0": 0.0, "x1": 2.0})  # fmt: skip
        assert free.coef[0] != 0  # x0 is free
        assert kkt_by_hand(X, y, free.coef, free.intercept, alpha, 0.6, factor) < 1e-8
    assert np.all(free.coef[1:] == 0)  # a huge alpha leaves only x0
    assert free.to_dict()["penalty_factor"]["x1"] == 2.0


@pytest.fixture(scope="module")
def stream_file(data, tmp_path_factory):
    X, y = data
    path = tmp_path_factory.mktemp("pen") / "d.parquet"
    cols = {f"x{j}": X[:, j] for j in range(D)}
    pq.write_table(pa.table({**cols, "y": y.astype(int)}), path, row_group_size=32)
    return path


def test_streamed_l1_equals_in_memory(stream_file):
    ref = jl.fit(read_table(stream_file, target="y", dtype="float64"),
                 penalty="l1", alpha=0.02, class_weight="balanced")  # fmt: skip
    stream = open_stream(stream_file, target="y", dtype="float64", batch_rows=64)
    got = jl.fit(stream, penalty="l1", alpha=0.02, class_weight="balanced")
    assert got.status == ref.status == "converged" and got.solver == "prox_newton"
    np.testing.assert_allclose(got.coef, ref.coef, rtol=1e-8, atol=1e-10)
    assert got.intercept == pytest.approx(ref.intercept, rel=1e-8)
    assert np.array_equal(got.coef == 0, ref.coef == 0)
    assert got.kkt_violation < 1e-8
    # L2 through proximal Newton on the stream: the standard errors of the in-memory fit
    ref2 = jl.fit(read_table(stream_file, target="y", dtype="float64"), penalty="l2",
                  alpha=0.02, solver="prox_newton")  # fmt: skip
    got2 = jl.fit(stream, penalty="l2", alpha=0.02, solver="prox_newton")
    np.testing.assert_allclose(
        got2.inference.std_err, ref2.inference.std_err, rtol=1e-8
    )


SHARDED = """
import json, sys, numpy as np
import jaxlogloss as jl
from jaxlogloss.parallel import mesh as dist
X = np.array(json.loads(sys.argv[1])); y = np.array(json.loads(sys.argv[2]))
r = jl.fit(X, y, penalty="l1", alpha=0.02, mesh=dist.data_mesh())
print(json.dumps({"devices": len(dist.data_mesh().devices.ravel()),
                  "coef": r.coef.tolist(), "b": r.intercept, "status": r.status}))
"""


def test_sharded_l1_equals_in_memory(data):
    X, y = data
    env = child_env(3)
    args = [json.dumps(X.tolist()), json.dumps(y.tolist())]
    proc = subprocess.run([sys.executable, "-c", SHARDED, *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.splitlines()[-1])
    ref = jl.fit(X, y, penalty="l1", alpha=0.02)
    assert got["devices"] == 3 and got["status"] == "converged"
    np.testing.assert_allclose(got["coef"], ref.coef, rtol=1e-9, atol=1e-11)
    assert got["b"] == pytest.approx(ref.intercept, rel=1e-9)


@pytest.fixture(scope="module")
def objective(data):
    X, y = data
    with enable_x64():
        Xj = jnp.asarray(X)
        problem = Problem(Xj, jnp.asarray(y), jnp.ones(N), jnp.zeros(()))
        yield InMemoryObjective(problem, feature_scaling(Xj), penalty="none")


def test_vmap_over_alphas_equals_the_loop(objective, data):
    X, y = data
    with enable_x64():
        alphas = jnp.array([0.1, 0.03, 0.01, 0.001])

        def one(alpha):
            return prox_newton_solve(objective, jnp.zeros(D + 1), alpha=alpha,
                                     l1_ratio=0.9, penalty_factor=jnp.ones(D),
                                     tol=1e-10, max_iter=50)  # fmt: skip

        batched = jax.jit(jax.vmap(one))(alphas)
        raw = jax.vmap(objective.raw_params)(batched.theta)
    assert np.all(np.asarray(batched.status) == 1)
    assert np.all(np.asarray(batched.kkt) < 1e-8)
    for i, a in enumerate(np.asarray(alphas)):  # the loop: one fit per alpha
        res = jl.fit(X, y, penalty="elasticnet", alpha=float(a), l1_ratio=0.9)
        np.testing.assert_allclose(raw.w[i], res.coef, rtol=1e-8, atol=1e-10)
        assert float(raw.b[i]) == pytest.approx(res.intercept, rel=1e-8, abs=1e-10)
        assert float(batched.value[i]) == pytest.approx(res.objective, abs=1e-13)


def test_fista_solver_through_fit(data):
    X, y = data
    a = jl.fit(X, y, penalty="l1", alpha=0.02, solver="fista", tol=1e-10)
    b = jl.fit(X, y, penalty="l1", alpha=0.02)
    assert a.solver == "fista" and a.status == "converged" and a.kkt_violation < 1e-8
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-8)
    assert np.array_equal(a.coef == 0, b.coef == 0)
    assert a.objective == pytest.approx(b.objective, abs=1e-12)


def test_penalty_registry_values():
    w = jnp.array([1.0, -2.0, 0.0])
    assert float(get_penalty("l1").value(w, 0.5)) == pytest.approx(1.5)
    assert float(elastic_net_value(w, 0.5, 0.25, jnp.array([1.0, 2.0, 3.0]))) == (
        pytest.approx(0.5 * (0.25 * 5 + 0.375 * 9))
    )
    assert not get_penalty("elasticnet").smooth and get_penalty("l2").smooth


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(penalty="l3", alpha=1.0), "penalty must be one of"),
        (dict(penalty="l1", alpha=-1.0), "alpha must be a finite number >= 0"),
        (dict(penalty="l1", alpha=float("nan")), "alpha must be"),
        (
            dict(penalty="elasticnet", alpha=0.1, l1_ratio=1.5),
            r"l1_ratio must be .*\[0, 1\]",
        ),
        (dict(penalty="l1", alpha=0.1, l1_ratio=0.5), "l1_ratio applies to penalty"),
        (dict(penalty="none", alpha=0.1), "penalty 'none' takes no alpha"),
        (dict(l2=0.1, penalty="l1"), "l2= is a synonym"),
        (dict(l2=0.1, alpha=0.1), "l2= is a synonym"),
        (dict(l2=-0.1), "l2 must be a finite number >= 0"),
        (dict(penalty="l1", alpha=0.1, solver="lbfgs"), "needs solver one of"),
        (dict(penalty="l1", alpha=0.1, class_weight="heavy"), "class_weight must be"),
        (dict(penalty="l1", alpha=0.1, class_weight={2: 1.0}), "not among the labels"),
        (dict(penalty="l1", alpha=0.1, class_weight={1: -1.0}), "finite number >= 0"),
        (dict(penalty="l1", alpha=0.1, penalty_factor={"nope": 1}), "not a feature"),
        (dict(penalty="l1", alpha=0.1, penalty_factor=[1.0, 2.0, 3.0]), "shape"),
        (
            dict(penalty="l1", alpha=0.1, penalty_factor=[-1.0] * 2),
            "finite numbers >= 0",
        ),
        (dict(penalty_factor={"x0": 0.0}), "needs a penalty"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    X = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, 0.1], [3.0, 0.3]])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    with pytest.raises((ValueError, TypeError), match=match):
        jl.fit(X, y, **kwargs)


def test_paired_gram_under_vmap_with_fewer_rows_than_a_block():
    """Regression: the K-runs Gram under vmap failed for n < 64 (its block > n)."""
    from jaxlogloss.data.gram import centered_gram

    rng = np.random.default_rng([SEED, 40])
    with enable_x64():
        X = jnp.asarray(rng.standard_normal((40, 3)))
        h = jnp.asarray(rng.random((4, 40)))
        mean, scale = jnp.zeros(3), jnp.ones(3)
        batched = jax.vmap(lambda c: centered_gram(X, c, mean, scale))(h)
        for k in range(4):
            want = (X.T * h[k]) @ X
            np.testing.assert_allclose(batched[0][k], want, rtol=1e-12)


@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("name", ["none", "l2"])
def test_penalty_hessian_closed_form_equals_autodiff(rng, name, k):
    """A penalty's ``curvature`` gives the same Hessian over theta as jax.hessian of
    its value (w = theta_w / s: diag(P'' / s^2), 0 for the intercepts), binary and
    multiclass, jit and no jit; a penalty without ``curvature`` falls back to
    autodiff."""
    from dataclasses import replace

    from jaxlogloss.model import penalties
    from jaxlogloss.model.objectives import penalty_hessian
    from jaxlogloss.model.scaling import Scaling

    d = 4
    p = d * (k or 1) + (k or 1)
    with enable_x64():
        theta = jnp.asarray(rng.normal(size=p))
        scaling = Scaling(
            jnp.asarray(rng.normal(size=d)), jnp.asarray(rng.random(d) + 0.2)
        )
        alpha = jnp.asarray(0.37)
        got = penalty_hessian(theta, name, alpha, scaling, d, k)
        jitted = jax.jit(penalty_hessian, static_argnums=(1, 4, 5))
        got_jit = jitted(theta, name, alpha, scaling, d, k)
        record = penalties.get_penalty(name)
        bare = replace(record, name="test_bare_" + name, curvature=None)
        penalties.register_penalty(bare)
        try:
            want = penalty_hessian(theta, bare.name, alpha, scaling, d, k)
        finally:
            del penalties._REGISTRY[bare.name]
    assert got.shape == (p, p) and got.dtype == jnp.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got_jit, want, rtol=1e-12, atol=1e-15)
    scale = np.asarray(scaling.scale)
    by_hand = np.zeros(p)
    if name == "l2":
        by_hand[: d * (k or 1)] = np.repeat(0.37 / scale**2, k or 1)
    np.testing.assert_allclose(np.diag(got), by_hand, rtol=1e-12)
