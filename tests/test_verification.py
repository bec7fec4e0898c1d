"""The verification module: checks pass on the real closed forms and fail on wrong ones."""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlogloss.model.verification as gc
from jaxlogloss.precision import enable_x64

SMALL = dict(n=48, d=3, n_points=48)


@functools.cache
def small_report(dtype: str) -> gc.GradcheckReport:
    return gc.gradcheck("all", dtype=dtype, **SMALL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_check_passes_within_its_dtype_tolerance(dtype):
    report = small_report(dtype)
    assert report.passed
    names = [c.name for c in report.checks]
    assert len(names) == 21 and len(set(names)) == 21
    for check in report.checks:
        if check.max_rel_error is not None:
            assert check.max_rel_error <= check.tolerance, check
            assert check.max_abs_error >= 0
    tol = gc.TOLERANCES[dtype]
    rounding = [
        c for c in report.checks if "closed form" in c.name and "FD64" not in c.name
    ]
    assert all(c.tolerance == tol["rounding"] for c in rounding)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_certificates_and_witness(dtype):
    report = small_report(dtype)
    assert [c.loss for c in report.certificates] == ["log_loss", "softmax"]
    for cert in report.certificates:
        assert cert.passed and cert.min_eigenvalue >= -cert.tolerance
        assert cert.max_eigenvalue > 0 and cert.n_points == SMALL["n_points"]
    wit = report.witness
    assert wit.loss == "mse" and wit.passed
    assert wit.min_eigenvalue < wit.threshold < 0
    assert wit.autodiff_min_eigenvalue < wit.threshold
    # the reported point really has negative curvature: recompute independently
    with enable_x64():
        point = gc.LinearParams(
            jnp.asarray(wit.w, jnp.float64), jnp.asarray(wit.b, jnp.float64)
        )
        problem = gc.make_problem("mse", SMALL["n"], SMALL["d"], 3, "float64", 0, 0.0)
        from jaxlogloss import closed_form_hessian

        H = closed_form_hessian(
            point,
            problem.X,
            problem.targets,
            loss="mse",
            sample_weight=problem.sample_weight,
        )
        assert np.linalg.eigvalsh(np.asarray(H))[0] < wit.threshold


def test_report_is_json_serialisable():
    d = small_report("float64").to_dict()
    text = json.dumps(d)
    back = json.loads(text)
    assert back["passed"] is True
    assert set(back) == {"settings", "checks", "certificates", "witness", "passed"}
    assert back["settings"]["dtype"] == "float64"


def test_a_wrong_closed_form_gradient_fails(monkeypatch):
    real = gc.gradient_unchecked

    def off_by_one_percent(*args):
        return jax.tree.map(lambda g: 1.01 * g, real(*args))

    monkeypatch.setattr(gc, "gradient_unchecked", off_by_one_percent)
    report = gc.gradcheck("log_loss", dtype="float64", **SMALL)
    assert not report.passed
    failed = {c.name for c in report.checks if not c.passed}
    assert "log_loss gradient: jax.grad vs closed form" in failed
    assert "log_loss gradient: closed form vs FD64" in failed
    assert "log_loss gradient: jax.grad vs FD64" not in failed


def test_a_wrong_closed_form_hessian_fails(monkeypatch):
    real = gc.hessian_unchecked
    monkeypatch.setattr(gc, "hessian_unchecked", lambda *a: real(*a) + 1e-4)
    report = gc.gradcheck("mse", dtype="float64", **SMALL)
    failed = {c.name for c in report.checks if not c.passed}
    assert "mse Hessian: jax.hessian vs closed form" in failed
    assert not report.passed


def test_central_difference_on_a_known_function(x64):
    theta = jnp.array([0.3, -1.2, 2.0])
    g = gc.central_difference(lambda t: jnp.sum(jnp.sin(t) * t[0]), theta)
    t = np.asarray(theta)
    expected = np.cos(t) * t[0]
    expected[0] += np.sum(np.sin(t))
    np.testing.assert_allclose(g, expected, rtol=1e-9)
    J = gc.central_difference(lambda t: jnp.sin(t), theta)
    np.testing.assert_allclose(J, np.diag(np.cos(theta)), atol=1e-9)


def test_compare_is_relative_to_the_largest_reference_entry():
    r = gc.compare("x", np.array([1.0, 100.0]), np.array([1.5, 100.0]), tolerance=1e-2)
    assert r.max_abs_error == 0.5 and r.max_rel_error == 0.005 and r.passed


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(loss="hinge"), "loss must be one of log_loss, mse, softmax, all"),
        (dict(dtype="float16x"), "dtype must be one of float32, float64"),
        (dict(n=1), "n must be an integer >= 2"),
        (dict(d=0), "d must be an integer >= 1"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(l2=-1.0), "l2 must be a finite number >= 0"),
        (dict(n=10_000_000, d=10), "n \\* d must be at most"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gc.gradcheck(**kwargs)
