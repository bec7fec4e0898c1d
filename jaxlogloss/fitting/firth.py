"""Firth's penalised likelihood: estimates that exist under separation.

``fit(..., method="firth")`` (CLI ``--firth``) maximises

    l*(beta) = l(beta) + 1/2 log det I(beta),
    l(beta)  = sum_i c_i [y_i z_i - log(1 + e^z_i)],   I(beta) = X~^T W X~,

with X~ = [X, 1], W = diag(c_i p_i (1 - p_i)) and c the frequency weights: the
log-likelihood plus the log of Jeffreys' invariant prior (Firth 1993). Its gradient,
taken here by ``jax.grad`` of the log-determinant, is the modified score

    U*(beta) = X~^T (c (y - p) + h (1/2 - p)),   h = diag(W^1/2 X~ I^-1 X~^T W^1/2),

which Firth solves instead of the score; it removes the O(1/n) bias of the maximum-
likelihood estimate and, since log det I -> -inf as ||beta|| -> inf, it stays finite
under complete and quasi-complete separation.

The iteration is logistf's (Heinze & Schemper 2002) with Newton's step where it is
safe: beta <- beta + H^-1 U* with H = -Hessian of l* (``jax.hessian``; logistf's
I^-1 U* where H is not positive definite), each coordinate's step capped at 5,
halved until l* does not decrease (beyond rounding); on standardised
features (Jeffreys' prior is invariant: l* changes by a constant under the change of
parameters, so the optimum maps back exactly). It stops when ||U*||_inf / sum(c) <= tol,
the same scale as ``fit``'s other solvers.

Standard errors are logistf's: the inverse of the Fisher information I(beta_hat) at the
Firth estimate (the penalty's own curvature, O(1) against I's O(n), left out). The
intervals ``fit`` reports are Wald intervals from those standard errors;
:func:`jaxlogloss.fitting.firth_profile.firth_profile_intervals` computes the profile
penalised-likelihood intervals (logistf's default) on request.

Firth needs every row in one place (its penalty couples all rows through I^-1): a
stream or a mesh is refused with an error naming that limitation.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxlogloss.data.design import FeatureMajor, row_major
from jaxlogloss.fitting.inference import coefficient_inference
from jaxlogloss.fitting.result import fit_warnings
from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.scaling import Scaling, to_raw

Array = jax.Array

METHODS = ("ml", "firth")
MAX_STEP = 5.0  # logistf's maxstep
MAX_HALVINGS = 30
FIRTH_NOTE = (
    "Firth's penalised likelihood (l + 1/2 log det I): std err, z, P>|z| and Wald "
    "intervals from the inverse Fisher information at the Firth estimate, as logistf "
    "reports them (profile-likelihood intervals: firth_profile_intervals)"
)


def check_method(
    fn: str, method: Any, *, stream: bool, mesh: Any, penalty: str, alpha: float,
    penalty_factor: Any, solver: str,
) -> bool:  # fmt: skip
    """Validate ``method``; True for Firth. Firth runs in memory, unpenalised, with
    its own (modified-score Newton) iteration."""
    if method not in METHODS:
        raise ValueError(
            f"{fn}: method must be one of {', '.join(METHODS)}, got {method!r}"
        )
    if method == "ml":
        return False
    if stream or mesh is not None:
        raise ValueError(
            f"{fn}: method='firth' needs all rows in memory on one device (its "
            "penalty 1/2 log det I couples every row through I^-1); a stream or a "
            "mesh is not supported"
        )
    if (penalty != "none" and alpha > 0) or penalty_factor is not None:
        raise ValueError(
            f"{fn}: method='firth' is its own penalty (1/2 log det I); do not combine "
            f"it with penalty={penalty!r}, alpha={alpha!r} or penalty_factor"
        )
    if solver not in ("newton", "auto"):
        raise ValueError(
            f"{fn}: method='firth' runs its own modified-score Newton iteration; "
            f"solver must be newton or auto, got {solver!r}"
        )
    return True


def _design(xt: Array, scaling: Scaling) -> Array:
    """X~ standardised, feature-major (p, n): [(x - mu) / s; 1] (theta = [w', b'])."""
    xs = (xt - scaling.mean[:, None]) / scaling.scale[:, None]
    return jnp.concatenate([xs, jnp.ones((1, xt.shape[1]), xt.dtype)], axis=0)


def fisher_information(theta: Array, xs: Array, c: Array) -> Array:
    """I(theta) = X~^T diag(c p (1 - p)) X~ over the columns of ``xs`` (p, n)."""
    p = jax.nn.sigmoid(theta @ xs)
    return (xs * (c * p * (1 - p))) @ xs.T


def log_likelihood(theta: Array, xs: Array, y: Array, c: Array) -> Array:
    """l(theta) = sum_i c_i (y_i z_i - log(1 + e^z_i))."""
    z = theta @ xs
    return jnp.sum(c * (y * z - jax.nn.softplus(z)))


def penalised_log_likelihood(theta: Array, xs: Array, y: Array, c: Array) -> Array:
    """l*(theta) = l(theta) + 1/2 log det I(theta) (Firth's objective, maximised)."""
    chol = jnp.linalg.cholesky(fisher_information(theta, xs, c))
    half_logdet = jnp.sum(jnp.log(jnp.diagonal(chol)))  # 1/2 log det I
    return log_likelihood(theta, xs, y, c) + half_logdet


firth_score = jax.grad(penalised_log_likelihood)
firth_score.__doc__ = "U*(theta) = grad l*(theta), by autodiff of the log-determinant."


def modified_score(theta: Array, xs: Array, y: Array, c: Array) -> Array:
    """The closed form X~^T (c (y - p) + h (1/2 - p)) of :data:`firth_score`."""
    p = jax.nn.sigmoid(theta @ xs)
    info = fisher_information(theta, xs, c)
    h = c * p * (1 - p) * jnp.sum(xs * jnp.linalg.solve(info, xs), axis=0)
    return xs @ (c * (y - p) + h * (0.5 - p))


class FirthState(NamedTuple):
    theta: Array
    value: Array  # l*(theta)
    score: Array  # U*(theta)
    n_iter: Array
    status: Array  # 0 running, 1 converged, 2 max_iter, 5 stalled (solvers.base)
    history: Array  # -l*/sum(c) after each iteration


def _direction(theta: Array, score: Array, xs: Array, y: Array, c: Array) -> Array:
    """Newton's step on l* (its Hessian by autodiff) where -Hessian is positive
    definite, else logistf's Fisher-scoring step I^-1 U*. Under separation the
    penalty's curvature dominates along the separating direction, where I alone
    would take steps far too long (and converge linearly)."""
    neg_hess = -jax.hessian(penalised_log_likelihood)(theta, xs, y, c)
    chol = jnp.linalg.cholesky(neg_hess)
    newton = jax.scipy.linalg.cho_solve((chol, True), score)
    fisher = jnp.linalg.solve(fisher_information(theta, xs, c), score)
    usable = jnp.all(jnp.isfinite(newton)) & (newton @ score > 0)
    return jnp.where(usable, newton, fisher)


@jax.jit
def _solve(
    xs: Array, y: Array, c: Array, theta0: Array, tol: Array, max_iter: Array,
    history0: Array,
) -> FirthState:  # fmt: skip
    """The modified-score iteration (logistf): compiled in one ``lax.while_loop``."""
    total = jnp.sum(c)
    value_and_score = jax.value_and_grad(penalised_log_likelihood)

    def converged(score: Array) -> Array:
        return jnp.max(jnp.abs(score)) / total <= tol

    def body(s: FirthState) -> FirthState:
        step = _direction(s.theta, s.score, xs, y, c)
        # a decrease below l*'s rounding is no decrease: near the optimum Newton's
        # steps change l* by less than that and must not be halved away
        slack = 64 * jnp.finfo(xs.dtype).eps * (1 + jnp.abs(s.value))
        step = step * jnp.minimum(1.0, MAX_STEP / jnp.max(jnp.abs(step)))

        def halve(carry: tuple) -> tuple:
            t, k, _, _ = carry
            t = t * 0.5
            v, g = value_and_score(s.theta + t, xs, y, c)
            return t, k + 1, v, g

        def worse(carry: tuple) -> Array:
            _, k, v, _ = carry
            return ((v < s.value - slack) | ~jnp.isfinite(v)) & (k < MAX_HALVINGS)

        v0, g0 = value_and_score(s.theta + step, xs, y, c)
        step, k, value, score = lax.while_loop(worse, halve, (step, 0, v0, g0))
        ok = (k < MAX_HALVINGS) & jnp.isfinite(value)
        theta = jnp.where(ok, s.theta + step, s.theta)
        value = jnp.where(ok, value, s.value)
        score = jnp.where(ok, score, s.score)
        n = s.n_iter + 1
        status = jnp.where(
            converged(score), 1, jnp.where(~ok, 5, jnp.where(n >= max_iter, 2, 0))
        )
        history = s.history.at[s.n_iter].set(-value / total)
        return FirthState(theta, value, score, n, status, history)

    value, score = value_and_score(theta0, xs, y, c)
    status = jnp.where(converged(score), 1, 0)
    state = FirthState(theta0, value, score, jnp.asarray(0), status, history0)
    return lax.while_loop(lambda s: s.status == 0, body, state)


class FirthFit(NamedTuple):
    """A Firth fit on standardised features: theta = [w', b'] and what it reports."""

    theta: np.ndarray
    information: np.ndarray  # I(theta) over theta (summed, standardised)
    log_likelihood: float
    penalised: float  # l*(theta)
    score_norm: float  # ||U*||_inf / sum(c)
    n_iter: int
    status: str
    history: np.ndarray


STATUS_NAMES = {1: "converged", 2: "max_iter", 5: "stalled"}
PAD_UP_TO, PAD_AT_LEAST = 4096, 64


def padding(n: int) -> int:
    """How many rows of weight 0 bring n up to the next power of two (at least
    PAD_AT_LEAST; none above PAD_UP_TO). A zero weight takes a row out of l, I and U*,
    so the fit is unchanged, and fits on small data of nearby sizes share one compiled
    program (compiling costs more than fitting them)."""
    if n > PAD_UP_TO:
        return 0
    return max(PAD_AT_LEAST, 1 << (n - 1).bit_length()) - n


def firth_solve(
    xt: Array, y: Array, c: Array | None, scaling: Scaling, tol: float, max_iter: int
) -> FirthFit:
    """Maximise l* on feature-major data ``xt`` (d, n) with labels ``y`` in {0, 1}."""
    xt = jnp.asarray(xt)
    c = jnp.ones(xt.shape[1], xt.dtype) if c is None else jnp.asarray(c, xt.dtype)
    extra = padding(xt.shape[1])  # rows of weight 0: one compiled loop for nearby n
    xs, y, c = _padded(xt, jnp.asarray(y, xt.dtype), c, scaling, extra)
    s = _solve(xs, y, c, jnp.zeros((xs.shape[0],), xs.dtype),
               jnp.asarray(tol, xs.dtype), jnp.asarray(max_iter),
               jnp.full((max_iter,), jnp.nan, xs.dtype))  # fmt: skip
    info, loglik, total = _at_optimum(s.theta, xs, y, c)
    n_iter = int(s.n_iter)
    return FirthFit(
        theta=np.asarray(s.theta, np.float64),
        information=np.asarray(info, np.float64),
        log_likelihood=float(loglik),
        penalised=float(s.value),
        score_norm=float(jnp.max(jnp.abs(s.score)) / total),
        n_iter=n_iter,
        status=STATUS_NAMES[int(s.status)],
        history=np.asarray(s.history[:n_iter], np.float64),
    )


@functools.partial(jax.jit, static_argnames="extra")
def _padded(xt: Array, y: Array, c: Array, scaling: Scaling, extra: int) -> tuple:
    """X~ standardised (p, n + extra), y and c, padded with ``extra`` rows of weight 0."""
    xs = jnp.pad(_design(xt, scaling), ((0, 0), (0, extra)))
    return xs, jnp.pad(y, (0, extra)), jnp.pad(c, (0, extra))


@jax.jit
def _at_optimum(theta: Array, xs: Array, y: Array, c: Array) -> tuple:
    """I(theta), l(theta) and sum(c)."""
    return fisher_information(theta, xs, c), log_likelihood(theta, xs, y, c), c.sum()


def firth_result(
    objective: Any, names: tuple[str, ...], n_samples: int, tol: float,
    max_iter: int, confidence: float,
) -> dict[str, Any]:  # fmt: skip
    """The FitResult fields of a Firth fit of an in-memory ``objective`` (its data,
    weights and scaling; its loss and penalty are not used)."""
    problem = objective.problem
    sw = problem.sample_weight
    X = problem.X  # row-major as fit holds it, or feature-major; held maybe float32
    xt = (X.xt if isinstance(X, FeatureMajor) else row_major(X).T).astype(
        objective.dtype
    )
    firth = firth_solve(xt, problem.targets, sw, objective.scaling, tol, max_iter)
    d = len(names)
    std = LinearParams(jnp.asarray(firth.theta[:d]), jnp.asarray(firth.theta[d]))
    params = jax.tree.map(np.asarray, to_raw(std, objective.scaling))
    scaling = jax.tree.map(np.asarray, objective.scaling)
    total = float(n_samples if sw is None else jnp.sum(sw))
    return dict(
        feature_names=names, intercept=float(params.b),
        coef=np.asarray(params.w, np.float64),
        inference=coefficient_inference(
            params, firth.information, scaling, names, confidence
        ),
        log_loss=-firth.log_likelihood / total, objective=-firth.penalised / total,
        status=firth.status, n_iter=firth.n_iter, grad_norm=firth.score_norm,
        loss_history=firth.history, solver="newton", method="firth",
        inference_note=FIRTH_NOTE,
        warnings=fit_warnings(firth.status, "firth", max_iter, n_samples),
    )  # fmt: skip
