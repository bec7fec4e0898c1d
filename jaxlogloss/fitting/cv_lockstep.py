"""Cross-validation runs advanced in lockstep: one read of X a step for every run.

Every run m (all rows, then each fold left out) minimises, at each alpha of the grid,

    F_m(theta) = sum_i C_mi l(y_i, z_mi) + 1/2 sum_j mu_j theta_j^2 + sum_j lam_j |theta_j|,
    C_m = c [fold != m] / sum c [fold != m],
    mu = alpha (1 - r) f / s^2,  lam = alpha r f / s  (0 for the intercept),

(theta on standardised features, as in :mod:`jaxlogloss.fitting.path`; r the
l1_ratio). The M runs move in lockstep. Three compiled programs touch the data:

* :func:`batched_gradient`: the M runs' logits Z = W X^T + b as one (M, d) x (d, n)
  product, and their gradients as one (d, n) x (n, M) product;
* :func:`batched_values`: the runs' losses from the kept logits (no pass over X);
* :func:`~jaxlogloss.fitting.cv_hessians.curvature_grams`: the folds' Grams of
  [x~; 1] weighted by c p (1 - p) at the all-rows run's logits, float32 products on
  the folds' rows kept once as float32 blocks (:mod:`jaxlogloss.fitting.cv_hessians`:
  one Gram's work gives every run's Hessian there, exact for run 0 and for a fold to
  its logits' small offsets from run 0's).

Run m steps by proximal Newton on the model matrix B_m + diag(mu). B_m starts as the
run's exact Hessian at the start (``start_hessians``), is corrected by a BFGS update
after every step and carried along the path; all runs' B_m are replaced by
``shared_hessians`` at run 0's point when a step shrank some run's KKT violation by
less than :data:`REFRESH`, or left it above :data:`FAR` times tol. A fold run that
is slow on such a fresh model (near its optimum, or where run 0 was not) has logits
too far from run 0's for it (few rows, near separation): it gets its own exact
Hessian at its own logits at every later refresh (``own_hessians``, one Gram's work
a run; never on the benchmark's 100,000 rows).
With r = 0 the step is one batched Cholesky solve on the host; with an L1 part it is
the feature-sign active-set solve of the model in NumPy
(:func:`~jaxlogloss.fitting.host_prox.model_step`; exact zeros). The first step at
a new alpha needs no pass over X: the gradient there is the last one plus the penalty's
change, so that step is the path's predictor. A full step is kept where it shrank the
run's KKT violation; elsewhere Armijo's rule on F decides, halving the step. A run stops
at the rule of every path point: largest raw KKT violation <= tol; or, at the
precision's floor (float32), as stalled after :data:`IDLE_STEPS` accepted steps in a
row that neither lowered F by more than :data:`NOISE` times its rounding slack nor
reached a new least violation. The model solve's inner tolerance reads each run's
violation on standardised features (as the path's), not the raw one.

Held-out scores come from the logits of the last evaluation (no further pass), gathered
to each fold's held-out rows. Each run is the path of its rows to the tolerance
(``tests/test_cv.py``, ``tests/test_cv_lockstep.py``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.fitting.compiled import fast_compile
from jaxlogloss.fitting.cv_hessians import (  # the model Hessians' names, kept here
    FoldGrams,
    curvature_grams,  # noqa: F401
    fold_blocks,  # noqa: F401
    fold_grams,  # noqa: F401
    fold_layout,
    own_hessians,
    runs_from_grams,  # noqa: F401
    shared_hessians,
    start_hessians,
)
from jaxlogloss.fitting.cv_scores import score_logits
from jaxlogloss.fitting.host_prox import (
    bfgs_updates,
    elastic_net_weights,
    kkt_violations,
    model_step,
    penalty_value,
    raw_kkt,
)
from jaxlogloss.fitting.path_objective import loss_and_residual
from jaxlogloss.model.scaling import Scaling
from jaxlogloss.solvers.base import CONVERGED, MAX_ITER, STALLED
from jaxlogloss.solvers.linesearch import ARMIJO_C1

Array = jax.Array

REFRESH = 0.05  # new models after a step that shrank some run's KKT less than this
FAR = 1e4  # ... or left some run's KKT violation above this times tol
MAX_HALVINGS = 30  # backtracking halvings per step
MERIT = 1e-4  # a full step is kept when it shrinks the KKT violation by this fraction
FLOAT32_EPS = float(np.finfo(np.float32).eps)
IDLE_STEPS = 2  # accepted steps in a row that move neither F nor the KKT: stalled
NOISE = 8  # F moved: fell by more than this times Armijo's slack (a float32 sum's
# rounding over many rows exceeds the slack's 4 eps |F|)


@jax.jit  # XLA's default emitters: 8.5 ms a call here, the classic ones 11.3 ms
def batched_gradient(
    xt: Array, targets: Array, weights: Array, scaling: Scaling, theta: Array
) -> tuple[Array, Array]:
    """Gradients over theta (M, d+1) and logits (M, n) of the M runs' weighted mean
    log-loss (``weights``: (M, n), each row summing to one). No values: their log1p
    was two thirds of the elementwise work (:func:`batched_values` gives them)."""
    d = xt.shape[0]
    w = theta[:, :d] / scaling.scale
    b = theta[:, d] - w @ scaling.mean
    z = w @ xt + b[:, None]
    r = weights * (jax.nn.sigmoid(z) - targets)
    # dL/dw on the raw features as one (d, n) x (n, M) product of a materialised
    # transpose: XLA CPU's float64 (M, n) x (n, d) product (or r.T fused into the dot)
    # measured 3-5x slower, M matrix-vector products ~1.5x
    r_t = jax.lax.optimization_barrier(jnp.transpose(r).copy())
    g_raw = jnp.transpose(xt @ r_t)
    g_b = jnp.sum(r, axis=1)
    g_w = (g_raw - g_b[:, None] * scaling.mean) / scaling.scale
    return jnp.concatenate([g_w, g_b[:, None]], axis=1), z


@fast_compile
def batched_values(z: Array, targets: Array, weights: Array) -> Array:
    """(M,) the runs' weighted mean log-loss at their logits z (M, n)."""
    one = jnp.ones((), z.dtype)
    return jax.vmap(loss_and_residual, (0, None, 0, None))(z, targets, weights, one)[0]


@fast_compile(static_argnames="scoring")
def point_outputs(
    z: Array, targets: Array, weights: Array, rows: Array, held: Array, h: Array,
    scoring: str,
) -> tuple[Array, Array]:  # fmt: skip
    """A path point's outputs from the runs' logits z (M, n): run 0's weighted mean
    log-loss, and the (M - 1,) held-out scores, fold k's logits z[k + 1] on its rows
    ``rows[k]`` (targets ``held``, padded with weight 0 in ``h``). One program, its
    results left on the device until the path ends (no wait a point)."""
    one = jnp.ones((), z.dtype)
    loss0 = loss_and_residual(z[0], targets, weights[0], one)[0]
    zs = jnp.take_along_axis(z[1:], rows, axis=1)
    scores = jax.vmap(score_logits, (0, 0, 0, None))(zs, held, h, scoring)
    return loss0, scores


def where_rows(keep: np.ndarray, a: Array, b: Array) -> Array:
    """Rows of a where ``keep`` (M,), else b's."""
    return jnp.where(jnp.asarray(keep)[:, None], a, b)


def held_out_rows(
    fold_of: np.ndarray, folds: int, *weights: np.ndarray
) -> tuple[np.ndarray, ...]:
    """(folds, n_max) row indices of each fold's held-out rows, padded with row 0,
    then each of ``weights`` (e.g. the score weights) on those rows (0 on the
    padding)."""
    members = [np.flatnonzero(fold_of == k) for k in range(folds)]
    width = max(m.size for m in members)
    rows = np.zeros((folds, width), np.int32)
    padded = [np.zeros((folds, width), w.dtype) for w in weights]
    for k, m in enumerate(members):
        rows[k, : m.size] = m
        for out, w in zip(padded, weights, strict=True):
            out[k, : m.size] = w[m]
    return (rows, *padded)


class _Models:
    """The runs' Newton matrices B_m + diag(mu) (module docstring; ``hess`` the B_m:
    each run's Hessian at the last refresh, BFGS-updated since), kept positive
    definite: a run whose matrix fails its Cholesky factor gets 10 eps32 max_j |B_jj|
    on its diagonal (a near-singular Hessian, few rows or near separation, whose
    float32 products rounded below zero), and where that fails too (a stale update)
    restarts from the all-rows run's Hessian of that refresh (``base``). All runs'
    factors, solves and updates are batched."""

    def __init__(self, exact: np.ndarray) -> None:
        self.mu = np.zeros(exact.shape[-1])
        self.reset(exact)

    @property
    def matrix(self) -> np.ndarray:
        return self.hess + np.diag(self.mu)[None]

    def reset(self, exact: np.ndarray) -> None:
        """Every run's B_m from its own Hessian ``exact`` (M, p, p)."""
        self.hess, self.base = exact.copy(), exact[0].copy()
        self._check(np.arange(exact.shape[0]))

    def penalty(self, mu: np.ndarray) -> None:
        """Switch the penalty's diagonal to ``mu`` and check every run."""
        self.mu = mu
        self._check(np.arange(self.hess.shape[0]))

    def _check(self, runs: np.ndarray) -> None:
        matrix = self.matrix
        try:
            np.linalg.cholesky(matrix[runs])
            return
        except np.linalg.LinAlgError:
            pass
        for m in runs:
            try:
                np.linalg.cholesky(matrix[m])
                continue
            except np.linalg.LinAlgError:  # near-singular (few rows, near
                pass  # separation): the Grams' float32 products round at ~eps32
            floor = 10 * FLOAT32_EPS * np.abs(np.diag(matrix[m])).max()
            eye = np.eye(matrix.shape[-1])
            try:
                np.linalg.cholesky(matrix[m] + floor * eye)
                self.hess[m] += floor * eye
            except np.linalg.LinAlgError:  # a stale update: restart from the base
                self.hess[m] = self.base

    def directions(self, g: np.ndarray) -> np.ndarray:
        return -np.linalg.solve(self.matrix, g[..., None])[..., 0]

    def secants(self, runs: np.ndarray, s: np.ndarray, y: np.ndarray) -> None:
        """BFGS updates of the given runs' matrices from steps s and gradient changes
        y (rows of (M, p) arrays); a run failing the curvature condition keeps its."""
        if runs.size == 0:
            return
        new, ok = bfgs_updates(self.matrix[runs], s[runs], y[runs])
        updated = runs[ok]
        if updated.size:
            self.hess[updated] = new[ok] - np.diag(self.mu)
            self._check(updated)


class LockstepStart(NamedTuple):
    """What every l1_ratio's runs share: the start theta (M, d+1), the runs'
    gradients and logits there, each run's exact Hessian at the start and the folds'
    float32 rows for later Hessians
    (:func:`~jaxlogloss.fitting.cv_hessians.fold_layout`)."""

    theta: np.ndarray
    grad: np.ndarray
    z: Array
    exact: np.ndarray
    layout: FoldGrams


def _gradients(
    xt: Array, targets: Array, weights: Array, scaling: Scaling, theta: np.ndarray
) -> tuple[np.ndarray, Array]:
    grad, z = batched_gradient(
        xt, targets, weights, scaling, jnp.asarray(theta, targets.dtype)
    )
    return np.asarray(grad, np.float64), z


def lockstep_start(
    xt: Array, targets: Array, weights: Array, scaling: Scaling, theta0: np.ndarray,
    fold_rows: np.ndarray, fold_c: np.ndarray,
) -> LockstepStart:  # fmt: skip
    """The runs' shared start (:class:`LockstepStart`): one batched evaluation and
    the M exact Hessians at ``theta0`` (zero slopes;
    :func:`~jaxlogloss.fitting.cv_hessians.start_hessians` from the folds' rows and
    weights), computed once for every l1_ratio."""
    theta = np.asarray(theta0, np.float64)
    grad, z = _gradients(xt, targets, weights, scaling, theta)
    layout = fold_layout(xt, fold_rows, fold_c, scaling)
    exact = start_hessians(layout, scaling, theta)
    return LockstepStart(theta, grad, z, exact, layout)


def solve_lockstep(
    xt: Array, targets: Array, weights: Array, scaling: Scaling, start: LockstepStart,
    grid: np.ndarray, l1_ratio: float, factor: np.ndarray, tol: float,
    max_iter: int, rows: np.ndarray, h: np.ndarray, scoring: str,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Every run's path (module docstring). ``weights`` (M, n): run m's row weights
    (rows summing to one; run 0 all rows); ``start``: :func:`lockstep_start`;
    ``rows``, ``h`` the folds' held-out rows (:func:`held_out_rows`). Returns
    ``theta`` (M, K, d+1), ``value`` (F of run 0; NaN for the folds), ``kkt``,
    ``n_iter``, ``status`` (M, K) and ``scores`` (M - 1, K)."""
    dtype = np.dtype(targets.dtype)
    mean, scale = (np.asarray(a, np.float64) for a in scaling)
    m_runs, p = start.theta.shape
    lam_unit, mu_unit = elastic_net_weights(1.0, l1_ratio, factor, scale)  # x alpha
    smooth = l1_ratio == 0
    rows_d, h_d = jnp.asarray(rows), jnp.asarray(h, dtype)
    held = jax.device_put(np.asarray(targets)[rows])  # gathered once, no program

    def evaluate(theta: np.ndarray) -> tuple[np.ndarray, Array]:
        return _gradients(xt, targets, weights, scaling, theta)

    def values(theta: np.ndarray, z: Array, mu: np.ndarray, lam: np.ndarray) -> Any:
        loss = np.asarray(batched_values(z, targets, weights), np.float64)
        return loss + penalty_value(theta, lam, mu)

    def directions(
        g: np.ndarray, theta: np.ndarray, lam: np.ndarray, active: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if smooth:
            step = models.directions(g)
            return step, np.sum(g * step, axis=1)
        step, decrease = np.zeros_like(theta), np.zeros(m_runs)
        matrix = models.matrix  # a property: every run's, formed once
        # the model solve's inner tolerance reads the violation on standardised
        # features (the raw one, far larger where a feature's scale is, stopped it
        # before any feature entered)
        viol = np.max(kkt_violations(theta, g, lam), axis=-1)
        for m in np.flatnonzero(active):
            u, decrease[m] = model_step(
                matrix[m], g[m], theta[m], lam, float(viol[m]), tol
            )
            step[m] = u - theta[m]
        return step, decrease

    def armijo(theta, z, step, decrease, active, ok, trial, t_grad, t_z, mu, lam):
        """Backtracking on F for the active runs whose full step did not shrink the
        KKT violation (``ok`` False): from t = 1 (the trial already evaluated), halved
        until F <= F(theta) + c1 t Delta (Delta the model decrease; rounding slack
        4 eps |F|). Returns the accepted mask, the runs where no halving was
        accepted, and the trial points, their gradients and logits (rows of rejected
        runs: anything)."""
        value = values(theta, z, mu, lam)
        slack = 4 * np.finfo(dtype).eps * np.abs(value)
        pending = active & ~ok
        t = 1.0
        for _ in range(MAX_HALVINGS):
            f_trial = values(trial, t_z, mu, lam)
            good = pending & np.isfinite(f_trial)
            good &= f_trial <= value + ARMIJO_C1 * t * decrease + slack
            ok = ok | good
            pending &= ~good
            if not pending.any():
                break
            t *= 0.5
            half = np.where(pending[:, None], theta + t * step, trial)
            h_grad, h_z = evaluate(half)
            keep = np.where(pending[:, None], h_grad, t_grad)
            t_z = where_rows(~pending, t_z, h_z)
            trial, t_grad = half, keep
        return ok, pending, trial, t_grad, t_z

    theta, grad, z = start.theta, start.grad, start.z
    models = _Models(start.exact)
    own = np.zeros(m_runs, bool)  # runs refreshed with their own exact Hessian
    shape = (m_runs, len(grid))
    out = {
        "theta": np.zeros((*shape, p)), "value": np.zeros(shape),
        "kkt": np.zeros(shape), "n_iter": np.zeros(shape, np.int32),
        "status": np.zeros(shape, np.int32), "scores": np.zeros((m_runs - 1, shape[1])),
    }  # fmt: skip
    pending_outputs = []  # each point's point_outputs, fetched when the path ends
    for k, alpha in enumerate(np.asarray(grid, np.float64)):
        mu, lam = alpha * mu_unit, alpha * lam_unit
        models.penalty(mu)
        g = grad + mu * theta
        kkt = raw_kkt(theta, g, lam, mean, scale)
        status = np.where(kkt <= tol, CONVERGED, MAX_ITER).astype(np.int32)
        n_iter = np.zeros(m_runs, np.int32)
        fresh = np.zeros(m_runs, bool)  # the run's model was formed at its iterate
        idle = np.zeros(m_runs, np.int32)  # steps in a row that moved neither
        best = kkt.copy()  # each run's least violation at this alpha
        while True:
            active = (status == MAX_ITER) & (n_iter < max_iter)
            if not active.any():
                break
            step, decrease = directions(g, theta, lam, active)
            usable = active & np.isfinite(decrease) & (decrease < 0)
            step[~usable] = 0.0
            trial = theta + step
            t_grad, t_z = evaluate(trial)
            t_g = t_grad + mu * trial
            t_kkt = raw_kkt(trial, t_g, lam, mean, scale)
            # a full step is kept where it shrank the KKT violation; elsewhere (far
            # from the optimum) Armijo's rule on F decides, halving the step
            ok = usable & np.isfinite(t_kkt) & (t_kkt <= (1 - MERIT) * kkt)
            stuck = active & ~usable
            # moved: the violation reached a new low, or F fell (else the step is idle)
            moved = ok & (t_kkt < best)
            if (usable & ~ok).any():
                ok, pending, trial, t_grad, t_z = armijo(
                    theta, z, step, decrease, usable, ok, trial, t_grad, t_z, mu, lam
                )
                stuck |= pending
                t_g = t_grad + mu * trial
                t_kkt = raw_kkt(trial, t_g, lam, mean, scale)
                moved |= ok & (t_kkt < best)
            unsure = ok & ~moved  # no new low: F decides (the kept logits, no pass)
            if unsure.any():
                f_old, f_new = values(theta, z, mu, lam), values(trial, t_z, mu, lam)
                noise = NOISE * 4 * np.finfo(dtype).eps * np.abs(f_old)
                moved |= unsure & (f_new < f_old - noise)
            # at the rounding floor (float32) F stops falling and the violation
            # wanders: IDLE_STEPS idle steps in a row (a refresh between) stall a run
            idle = np.where(ok & ~moved, idle + 1, 0)
            best = np.where(ok, np.minimum(best, t_kkt), best)
            stuck |= active & (idle >= IDLE_STEPS)
            z = t_z if (ok | ~active).all() else where_rows(ok, t_z, z)
            models.secants(np.flatnonzero(ok), trial - theta, t_g - g)
            theta = np.where(ok[:, None], trial, theta)
            grad = np.where(ok[:, None], t_grad, grad)
            g = grad + mu * theta
            n_iter += active
            new_kkt = np.where(ok, t_kkt, kkt)
            status = np.where(active & (new_kkt <= tol), CONVERGED, status)
            status = np.where(stuck & (new_kkt > tol), STALLED, status)
            status = status.astype(np.int32)
            going = active & (status == MAX_ITER)
            slow = going & ((new_kkt > REFRESH * kkt) | (new_kkt > FAR * tol))
            # slow on a model just formed at the all-rows run's logits, near its
            # optimum or where run 0 (whose model that is exactly) was not: the
            # fold's own logits are too far from run 0's (few rows, near
            # separation); its own exact Hessian from now on
            lagging = fresh & (new_kkt > REFRESH * kkt)
            run0_fast = status[0] == CONVERGED or not lagging[0]
            own[1:] |= (going & lagging & ((new_kkt <= FAR * tol) | run0_fast))[1:]
            kkt = new_kkt
            fresh[:] = slow.any()
            if slow.any():
                hess = shared_hessians(start.layout, z[0], scaling)
                models.reset(own_hessians(hess, start.layout, z, scaling, own))
        out["theta"][:, k], out["kkt"][:, k] = theta, kkt
        out["n_iter"][:, k], out["status"][:, k] = n_iter, status
        # F of the all-rows run (CVResult.path's objective; the folds' are not
        # reported: their log1p over every row cost ~5% of a CV) and the scores
        pending_outputs.append(
            point_outputs(z, targets, weights, rows_d, held, h_d, scoring)
        )
    if not pending_outputs:
        return out
    losses, scores = zip(*jax.device_get(pending_outputs), strict=True)
    alphas = np.asarray(grid, np.float64)[:, None]
    out["value"][:] = np.nan
    out["value"][0] = np.asarray(losses, np.float64) + penalty_value(
        out["theta"][0], alphas * lam_unit, alphas * mu_unit
    )
    out["scores"][:] = np.asarray(scores, np.float64).T
    return out
