"""Verification: autodiff vs closed forms vs finite differences, convexity evidence.

:func:`gradcheck` builds a random weighted, L2-penalised problem and, for each loss,
compares

* ``jax.grad`` and ``jax.hessian`` of :func:`~jaxlogloss.objective.objective` with the
  closed forms of :mod:`jaxlogloss.closed_form` (in the chosen dtype);
* both against central finite differences computed in float64 (of the loss for the
  gradient, of the gradient for the Hessian), with step h_i = eps^(1/3) max(1, |t_i|);
* ``jax.test_util.check_grads`` up to second order in forward and reverse mode.

Errors are reported as the max absolute error and the max relative error
``max|a - r| / max|r|`` (relative to the largest reference entry). A check passes when
its relative error is at most its tolerance (:data:`TOLERANCES`):

=========  ======================================  =========================
dtype      autodiff vs closed form (rounding)      either vs float64 FD
=========  ======================================  =========================
float64    1e-9                                    1e-6 (FD truncation)
float32    1e-4                                    1e-4 (float32 rounding)
=========  ======================================  =========================

It also gives the convexity evidence of the source texts, chosen by the loss's
registry record (:mod:`jaxlogloss.losses.registry`):

* a **convexity certificate** for each convex loss (log-loss, softmax): the smallest
  eigenvalue of the Hessian over many random parameter points (scales 0.1 to 10) is
  >= -tol, tol = 100 eps max(1, largest eigenvalue seen);
* a **non-convexity witness** for the first non-convex loss (MSE on the sigmoid): the
  point among as many random ones whose Hessian has the most negative eigenvalue,
  "clearly negative" meaning below -1e-3 times its largest eigenvalue, confirmed with
  ``jax.hessian``.

The checked losses are the registered classification losses (``"all"``: log_loss, mse
and softmax, then any registered later); regression losses on z (squared_error) are not.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

from jaxlogloss.losses.registry import LossNames, get_loss
from jaxlogloss.model.closed_form import (
    flatten_params,
    gradient_unchecked,
    hessian_unchecked,
)
from jaxlogloss.model.objective import objective
from jaxlogloss.model.params import LinearParams, init_params
from jaxlogloss.precision import enable_x64

Array = jax.Array

# live views of the registry: a loss registered later is checked too
CHECKED_LOSSES = LossNames(lambda loss: loss.classification)
LOSS_CHOICES = LossNames(lambda loss: loss.classification, extra=("all",))
DTYPE_CHOICES = ("float32", "float64")
TOLERANCES = {
    "float64": {"rounding": 1e-9, "fd": 1e-6},
    "float32": {"rounding": 1e-4, "fd": 1e-4},
}
CONVEX_LOSSES = LossNames(lambda loss: loss.classification and loss.convex)
WITNESS_RATIO = 1e-3
MAX_ELEMENTS = 5_000_000


@dataclass(frozen=True)
class CheckResult:
    """One comparison: errors of ``name``'s two sides, its tolerance and verdict."""

    name: str
    max_abs_error: float | None
    max_rel_error: float | None
    tolerance: float
    passed: bool


@dataclass(frozen=True)
class ConvexityCertificate:
    """Smallest Hessian eigenvalue of a convex loss over ``n_points`` random points."""

    loss: str
    n_points: int
    min_eigenvalue: float
    max_eigenvalue: float
    tolerance: float
    passed: bool


@dataclass(frozen=True)
class NonConvexityWitness:
    """A parameter point where the Hessian of ``loss`` has a negative eigenvalue."""

    loss: str
    n_points: int
    w: list[Any]
    b: Any
    min_eigenvalue: float
    autodiff_min_eigenvalue: float
    max_eigenvalue: float
    threshold: float
    passed: bool


@dataclass(frozen=True)
class GradcheckReport:
    """All checks, certificates and the witness of one :func:`gradcheck` run."""

    settings: dict[str, Any]
    checks: list[CheckResult] = field(default_factory=list)
    certificates: list[ConvexityCertificate] = field(default_factory=list)
    witness: NonConvexityWitness | None = None

    @property
    def passed(self) -> bool:
        items = [*self.checks, *self.certificates]
        if self.witness is not None:
            items.append(self.witness)
        return all(item.passed for item in items)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["passed"] = self.passed
        return out


def compare(name: str, value: Any, reference: Any, tolerance: float) -> CheckResult:
    """Max abs and relative (to max |reference|) error of two arrays or pytrees."""
    a = np.concatenate(
        [np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(value)]
    )
    r = np.concatenate(
        [np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(reference)]
    )
    abs_err = float(np.max(np.abs(a - r)))
    scale = float(np.max(np.abs(r)))
    rel_err = abs_err / scale if scale > 0 else abs_err
    return CheckResult(name, abs_err, rel_err, tolerance, bool(rel_err <= tolerance))


def central_difference(f: Any, theta: Array) -> Array:
    """Central finite differences of ``f`` at ``theta`` along every coordinate.

    ``f`` maps a flat vector to a scalar (-> gradient) or a vector (-> Jacobian, rows
    are outputs). Step h_i = eps^(1/3) max(1, |theta_i|).
    """
    eps = jnp.finfo(theta.dtype).eps
    h = eps ** (1 / 3) * jnp.maximum(1.0, jnp.abs(theta))
    steps = jnp.diag(h)
    plus = jax.vmap(f)(theta + steps)
    minus = jax.vmap(f)(theta - steps)
    diff = (plus - minus) / (2 * h.reshape((-1,) + (1,) * (plus.ndim - 1)))
    return diff.T if diff.ndim == 2 else diff


@dataclass(frozen=True)
class _Problem:
    X: Array
    targets: Array
    sample_weight: Array
    l2: float
    loss: str
    params: LinearParams

    def astype(self, dtype: Any) -> _Problem:
        cast = lambda x: jnp.asarray(x, dtype)  # noqa: E731
        return _Problem(
            cast(self.X),
            cast(self.targets),
            cast(self.sample_weight),
            self.l2,
            self.loss,
            jax.tree.map(cast, self.params),
        )

    def args(self) -> tuple[Any, ...]:
        return (self.X, self.targets, self.sample_weight, self.l2, self.loss)


def make_problem(
    loss: str, n: int, d: int, n_classes: int, dtype: Any, seed: int, l2: float
) -> _Problem:
    """A random problem: Gaussian X, labels from a logistic model, weights in [0.5, 2]."""
    multiclass = get_loss(loss, "make_problem").multiclass
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    weights = rng.uniform(0.5, 2.0, size=n)
    k = n_classes if multiclass else 2
    true = init_params(d, k, key=jax.random.key(seed), scale=1.0, dtype=jnp.float32)
    params = init_params(d, k, key=jax.random.key(seed + 1), scale=0.5)
    params = LinearParams(params.w, params.b + 0.25)
    z = X @ np.asarray(true.w, np.float64)
    if multiclass:
        g = rng.gumbel(size=z.shape)
        targets = np.eye(k)[np.argmax(z + g, axis=1)]
    else:
        targets = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    problem = _Problem(X, targets, weights, l2, loss, params)
    return problem.astype(dtype)


def _loss_fn(problem: _Problem) -> tuple[Array, Any, Any]:
    theta, unravel = flatten_params(problem.params)
    args = problem.args()
    return theta, unravel, lambda t: objective(unravel(t), *args)


def derivative_checks(problem: _Problem) -> list[CheckResult]:
    """The seven comparisons for one loss (see the module docstring)."""
    dtype = str(problem.X.dtype)
    tol = TOLERANCES[dtype]
    loss = problem.loss
    args = problem.args()
    theta, _, f = _loss_fn(problem)
    g_auto = jax.jit(jax.grad(f))(theta)
    h_auto = jax.jit(jax.hessian(f))(theta)
    g_closed = flatten_params(gradient_unchecked(problem.params, *args))[0]
    h_closed = hessian_unchecked(problem.params, *args)

    wide = problem.astype(jnp.float64)
    theta64, unravel64, f64 = _loss_fn(wide)
    args64 = wide.args()

    def closed_grad64(t: Array) -> Array:
        return flatten_params(gradient_unchecked(unravel64(t), *args64))[0]

    g_fd, h_fd_closed, h_fd_auto = jax.jit(
        lambda t: (
            central_difference(f64, t),
            central_difference(closed_grad64, t),
            central_difference(jax.grad(f64), t),
        )
    )(theta64)
    try:
        check_grads(jax.jit(f64), (theta64,), order=2, modes=("fwd", "rev"))
        grads_ok = True
    except AssertionError:
        grads_ok = False
    return [
        compare(
            f"{loss} gradient: jax.grad vs closed form",
            g_auto,
            g_closed,
            tol["rounding"],
        ),
        compare(
            f"{loss} Hessian: jax.hessian vs closed form",
            h_auto,
            h_closed,
            tol["rounding"],
        ),
        compare(f"{loss} gradient: closed form vs FD64", g_closed, g_fd, tol["fd"]),
        compare(f"{loss} gradient: jax.grad vs FD64", g_auto, g_fd, tol["fd"]),
        compare(
            f"{loss} Hessian: closed form vs FD64 of closed-form gradient",
            h_closed,
            h_fd_closed,
            tol["fd"],
        ),
        compare(
            f"{loss} Hessian: jax.hessian vs FD64 of jax.grad",
            h_auto,
            h_fd_auto,
            tol["fd"],
        ),
        CheckResult(
            f"{loss} check_grads(order=2, fwd+rev), float64", None, None, 0.0, grads_ok
        ),
    ]


def _random_points(problem: _Problem, n_points: int, seed: int) -> LinearParams:
    """``n_points`` parameter points, each N(0, s^2) with s log-uniform in [0.1, 10]."""
    keys = jax.random.split(jax.random.key(seed + 7), 2)
    scales = jnp.logspace(-1, 1, n_points, dtype=problem.X.dtype)

    def leaf(key: Array, x: Array) -> Array:
        noise = jax.random.normal(key, (n_points, *x.shape), x.dtype)
        return noise * scales.reshape((-1,) + (1,) * x.ndim)

    return LinearParams(
        leaf(keys[0], problem.params.w), leaf(keys[1], problem.params.b)
    )


def _eigenvalue_range(problem: _Problem, points: LinearParams) -> tuple[Array, Array]:
    hess = jax.jit(jax.vmap(lambda p: hessian_unchecked(p, *problem.args())))(points)
    eig = jnp.linalg.eigvalsh(hess)
    return eig[:, 0], eig[:, -1]


def convexity_certificate(
    problem: _Problem, n_points: int, seed: int
) -> ConvexityCertificate:
    """Smallest eigenvalue of the closed-form Hessian over random points >= -tol."""
    lo, hi = _eigenvalue_range(problem, _random_points(problem, n_points, seed))
    eps = float(jnp.finfo(problem.X.dtype).eps)
    top = float(jnp.max(hi))
    tol = 100 * eps * max(1.0, top)
    low = float(jnp.min(lo))
    return ConvexityCertificate(problem.loss, n_points, low, top, tol, low >= -tol)


def nonconvexity_witness(
    problem: _Problem, n_points: int, seed: int
) -> NonConvexityWitness:
    """The random point with the most negative Hessian eigenvalue, checked by autodiff."""
    points = _random_points(problem, n_points, seed)
    lo, hi = _eigenvalue_range(problem, points)
    i = int(jnp.argmin(lo))
    point = jax.tree.map(lambda x: x[i], points)
    threshold = -WITNESS_RATIO * float(hi[i])
    theta, unravel = flatten_params(point)
    args = problem.args()
    h_auto = jax.hessian(lambda t: objective(unravel(t), *args))(theta)
    auto_low = float(jnp.linalg.eigvalsh(h_auto)[0])
    low = float(lo[i])
    return NonConvexityWitness(
        problem.loss,
        n_points,
        np.asarray(point.w).tolist(),
        np.asarray(point.b).tolist(),
        low,
        auto_low,
        float(hi[i]),
        threshold,
        low < threshold and auto_low < threshold,
    )


def validate_settings(
    loss: str,
    n: int,
    d: int,
    n_classes: int,
    dtype: str,
    seed: int,
    l2: float,
    n_points: int,
) -> None:
    """ValueError naming the first bad setting."""

    def integer(name: str, value: Any, low: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(
                f"gradcheck: {name} must be an integer >= {low}, got {value!r}"
            )

    if loss not in LOSS_CHOICES:
        raise ValueError(
            f"gradcheck: loss must be one of {', '.join(LOSS_CHOICES)}, got {loss!r}"
        )
    if dtype not in DTYPE_CHOICES:
        raise ValueError(
            f"gradcheck: dtype must be one of {', '.join(DTYPE_CHOICES)}, got {dtype!r}"
        )
    integer("n", n, 2)
    integer("d", d, 1)
    integer("n_classes", n_classes, 2)
    integer("seed", seed, 0)
    integer("n_points", n_points, 1)
    if n * d > MAX_ELEMENTS:
        raise ValueError(
            f"gradcheck: n * d must be at most {MAX_ELEMENTS:,} (a check, not a "
            f"benchmark), got {n} * {d} = {n * d:,}"
        )
    if (
        isinstance(l2, bool)
        or not isinstance(l2, int | float)
        or not 0 <= l2 < math.inf
    ):
        raise ValueError(f"gradcheck: l2 must be a finite number >= 0, got {l2!r}")


def gradcheck(
    loss: str = "all",
    *,
    n: int = 256,
    d: int = 5,
    n_classes: int = 3,
    dtype: str = "float64",
    seed: int = 0,
    l2: float = 0.01,
    n_points: int = 256,
) -> GradcheckReport:
    """Run every derivative check, the convexity certificate(s) and the MSE witness.

    Args:
      loss: a registered classification loss ("log_loss", "mse", "softmax", ...) or
        "all" of them (:data:`LOSS_CHOICES`).
      n, d: rows and features of the random problem; n_classes: K for softmax.
      dtype: "float32" or "float64": the precision of the checked computations (finite
        differences always run in float64).
      seed: seeds the data, the parameter point and the random points.
      l2: L2 strength in the checked objective (weights in [0.5, 2] are always used).
      n_points: parameter points for the certificate and the witness search.

    >>> gradcheck("log_loss", n=32, d=2, n_points=16).passed
    True
    """
    validate_settings(loss, n, d, n_classes, dtype, seed, l2, n_points)
    losses = CHECKED_LOSSES if loss == "all" else (loss,)
    settings = dict(
        loss=loss,
        n=n,
        d=d,
        n_classes=n_classes,
        dtype=dtype,
        seed=seed,
        l2=l2,
        n_points=n_points,
        tolerances=TOLERANCES[dtype],
    )
    checks: list[CheckResult] = []
    certificates: list[ConvexityCertificate] = []
    witness = None
    with enable_x64():
        for name in losses:
            problem = make_problem(name, n, d, n_classes, dtype, seed, l2)
            checks.extend(derivative_checks(problem))
            # convexity is a property of the loss: judged without the penalty alpha I
            unpenalised = dataclasses.replace(problem, l2=0.0)
            if get_loss(name, "gradcheck").convex:
                certificates.append(convexity_certificate(unpenalised, n_points, seed))
            elif witness is None:  # the report holds one witness: the first found
                witness = nonconvexity_witness(unpenalised, n_points, seed)
    return GradcheckReport(settings, checks, certificates, witness)
