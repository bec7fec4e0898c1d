"""Paths on a working set: with an L1 part most passes read only the active rows of X.

A path with an L1 part (l1_ratio > 0) is sparse along most of its length, and a pass
over every feature spends most of its reads on coefficients held at zero. As glmnet
and skglm do, each point here is solved on a working set W of features and checked
on all of them (with no L1 part every feature is free: W is all of X, and the run is
proximal Newton whose model step is one Newton solve):

1. W starts as the previous point's support and the free coordinates (the intercept,
   features with penalty factor 0) and, with ``screening``, the features whose KKT
   condition the warm start violates at the new alpha (|g_j| > lam_j + tol). The
   sequential strong rule (|g_j| >= 2 lam_j - lam_j', Tibshirani et al. 2012) keeps a
   larger set: measured slower here (0.50 s against 0.41 s at 100,000 x 50, 20
   alphas), since a larger W pads to a larger block and reaches the whole of X
   sooner. Without ``screening`` every entering feature is found by step 3.
2. Proximal Newton on the problem restricted to W (the other coordinates held at 0)
   runs on W's rows of feature-major X, gathered once into a (B, n) block (B: |W|
   rounded up to a power of two >= 8, so that few shapes compile; the whole of X
   where B > d / 2: a block that large and its point's checking pass read more than
   X itself, and the move to it would gather, centre and form a model once more).
   The rows beyond |W| are not padding: W is widened to B with the features off it
   nearest to entering (:func:`pad_working_set`), read at no cost, and the next
   point reuses the block while its W fits in it (no gather and no new model rows;
   4 gathers instead of 8 and 1.03-1.05x the path at 100,000 x 50, 20 alphas,
   ``benchmarks/NOTES.md``). Its model is the loss Hessian on W (float32 products on
   the centred rows, as :mod:`jaxlogloss.fitting.path_objective` forms it), kept
   along the path, recomputed on W after a step that shrank the KKT violation by less
   than :data:`REFRESH` and updated by BFGS between (the compiled path's rule). A
   full step is kept where it shrinks W's KKT violation; elsewhere Armijo's rule on
   F halves it. The restricted run stops at W's largest raw KKT violation <= tol.
3. One pass over all of X at that point gives the full gradient (from the logits the
   last restricted pass left: only the X^T r product reads X): where features
   outside W violate their KKT condition by more than tol they join W and step 2
   resumes; otherwise the point meets the path's stopping rule on every feature
   (largest raw KKT violation <= tol) and the next alpha starts from it, with its
   gradient, logits and model.

With no L1 part the first Newton step of a point misses the point by a term second
order in the step along the path, which changes slowly from point to point: each
point's first step is first tried with the last point's miss added
(theta_k - u_k, u_k its first Newton point, scaled by
:func:`second_order_ratio`), and kept where it shrinks the KKT violation (else the
plain step is taken, one pass more). On a dense grid most points then need one step
fewer: the 256-strength L2 path of ``benchmarks/fit_speed.py``'s sweep (20,000 x
20) 406 steps against 497, 0.81-0.88 s against 1.25-1.39 s in alternating processes
(its points' losses, read back once at the end, count in that too); 4-5% fewer on
paths of 64-128 strengths (``benchmarks/NOTES.md``).

Near the optimum in float32 the rounding of F and of the gradient's sums sets a
floor: F stops falling and the violation wanders above it. A step that neither lowers
F by more than :data:`NOISE` times Armijo's rounding slack nor reaches a new least
violation is idle: on a kept model the step is not taken and the model is recomputed
at the iterate; on a fresh one it is taken only where it lowers the violation, and
:data:`IDLE_STEPS` in a row stop the run as stalled (so does an idle step that would
raise the violation). A stalled run on W still lets violators outside W join it.

The fixed point is that of :func:`jaxlogloss.fitting.path.solve_path` (tests:
``tests/test_path_working_set.py``); the stopping rule is the raw KKT violation every
path point reports (as :mod:`jaxlogloss.fitting.cv_lockstep` stops), where the compiled
path stops on the standardised one and reports the raw one. ``n_iter`` counts the
proximal Newton steps (the checking passes of step 3 come on top: one a point, one
more each time W grows).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.fitting.compiled import fast_compile
from jaxlogloss.fitting.host_loop import centred_float32
from jaxlogloss.fitting.host_prox import (
    bfgs_update,
    elastic_net_weights,
    kkt_violations,
    model_step,
    penalty_value,
    raw_kkt,
    raw_violations,
)
from jaxlogloss.fitting.path_objective import (
    REFRESH,
    centred_hessian,
    loss_and_residual,
)
from jaxlogloss.model.scaling import Scaling
from jaxlogloss.solvers.base import CONVERGED, MAX_ITER, STALLED
from jaxlogloss.solvers.linesearch import ARMIJO_C1

Array = jax.Array

MERIT = 1e-4  # a full step is kept when it shrinks W's KKT violation by this fraction
MAX_HALVINGS = 40  # backtracking halvings per step
MIN_BLOCK = 8  # the smallest gathered block of rows
IDLE_STEPS = 2  # steps in a row that move neither F nor the KKT violation: stalled
NOISE = 8  # F moved: fell by more than this times Armijo's slack (a float32 sum's
# rounding over many rows exceeds the slack's 4 eps |F|)


@fast_compile
def gather_rows(xt: Array, idx: Array, keep: Array) -> Array:
    """The (B, n) rows ``idx`` of feature-major X, zero where not ``keep`` (padding)."""
    return jnp.where(keep[:, None], xt[idx], 0)


def _theta_gradient(xs: Array, r: Array, mean: Array, scale: Array) -> Array:
    """The gradient over theta = [w * scale, b + w.mean] from the residuals r."""
    g_b = jnp.sum(r)
    return jnp.concatenate([(xs @ r - g_b * mean) / scale, g_b[None]])


@fast_compile
def block_gradient(
    xs: Array, targets: Array, c: Array, mean: Array, scale: Array, theta: Array
) -> tuple[Array, Array]:
    """The gradient over theta of the weighted mean log-loss (``c`` sums to one) on
    the features of the rows ``xs``, and the logits. No value: its log1p is most of
    the elementwise work, and a full step kept on the KKT rule needs none
    (:func:`block_loss` gives it from the logits)."""
    b_feat = xs.shape[0]
    w = theta[:b_feat] / scale
    z = w @ xs + (theta[b_feat] - w @ mean)
    r = c * (jax.nn.sigmoid(z) - targets)
    return _theta_gradient(xs, r, mean, scale), z


@fast_compile
def gradient_at_logits(
    xt: Array, targets: Array, c: Array, mean: Array, scale: Array, z: Array
) -> tuple[Array, Array]:
    """The full gradient over theta and the loss from the logits z already known at
    theta (a point's checking pass: one read of X, the X^T r product, instead of two)."""
    value, r = loss_and_residual(z, targets, c, jnp.ones((), c.dtype))
    return _theta_gradient(xt, r, mean, scale), value


@fast_compile
def block_loss(z: Array, targets: Array, c: Array) -> Array:
    """The weighted mean log-loss at the logits z (no pass over X)."""
    return loss_and_residual(z, targets, c, jnp.ones((), c.dtype))[0]


centred_hessian_jit = fast_compile(centred_hessian)


def block_size(k: int) -> int:
    """The rows of a gathered block for k features: k rounded up to a power of two,
    at least :data:`MIN_BLOCK` (few shapes compile)."""
    return max(MIN_BLOCK, 1 << max(k - 1, 0).bit_length())


def pad_working_set(on: np.ndarray, g: np.ndarray, lam: np.ndarray, size: int) -> None:
    """Widen W (``on`` over theta's d + 1 coordinates, in place) to ``size`` features
    (at most d) with the features off W nearest to entering: the largest
    |g_j| / lam_j (g the smooth part's gradient over theta, lam its L1 weights). A
    block reads ``size`` rows whatever W holds; so these rows are read at no cost,
    their gradients come with every step, and a feature among them that enters needs
    no new block and no new model rows."""
    d = on.shape[0] - 1
    spare = min(size, d) - int(on[:d].sum())
    if spare <= 0:
        return
    lam_w = lam[:d]
    near = np.abs(g[:d]) / np.where(lam_w > 0, lam_w, np.inf)
    near[on[:d]] = -np.inf
    on[np.argsort(-near, kind="stable")[:spare]] = True


class _Block:
    """The working set's rows as the device reads them: ``cols`` (W's k features, then
    the intercept's index d), the (B, n) rows (gathered and padded, or the whole of X:
    ``full``, every feature free to move) with their scaling (padding: mean 0, scale
    1), and the rows centred and rounded to float32, made on the block's first
    Hessian."""

    def __init__(
        self, xt: Array, feats: np.ndarray, mean: np.ndarray, scale: np.ndarray
    ):
        d = mean.shape[0]
        self.full = feats.size == d
        if self.full:
            self.size, self.rows = d, xt
        else:
            self.size = block_size(feats.size)
            idx = np.zeros(self.size, np.int64)
            idx[: feats.size] = feats
            keep = np.arange(self.size) < feats.size
            self.rows = gather_rows(xt, idx, keep)  # NumPy arguments: ~0.15 ms less
        self.feats, self.k = feats, feats.size
        self.cols = np.r_[feats, d]
        self.slots = np.r_[np.arange(self.k), self.size]  # W's places in the block
        m, s = np.zeros(self.size), np.ones(self.size)
        m[: self.k], s[: self.k] = mean[feats], scale[feats]
        self.mean_w, self.scale_w = mean[feats], scale[feats]
        # NumPy leaves: the compiled calls take them as arguments (jnp.asarray cost
        # ~0.15 ms each, a tenth of a small block's step)
        self.scaling = Scaling(np.asarray(m, xt.dtype), np.asarray(s, xt.dtype))
        self.centred: Array | None = None

    def hessian(self, c: Array, z: Array) -> np.ndarray:
        """W's rows and columns of the loss Hessian at logits z."""
        if self.centred is None:
            self.centred = centred_float32(self.rows, self.scaling)
        h = centred_hessian_jit(self.centred, c, z, self.scaling)
        return np.asarray(h, np.float64)[np.ix_(self.slots, self.slots)]

    def gradient(self, targets: Array, c: Array, theta_w: np.ndarray) -> Any:
        """W's loss gradient (NumPy) and the logits at W's coordinates theta_w."""
        padded = np.zeros(self.size + 1, targets.dtype)
        padded[self.slots] = theta_w
        mean, scale = self.scaling
        grad, z = block_gradient(self.rows, targets, c, mean, scale, padded)
        return np.asarray(grad, np.float64)[self.slots], z


def working_set_path(
    xt: Array, targets: Array, c: Array, scaling: Any, theta0: np.ndarray,
    grid: np.ndarray, l1_ratio: float, factor: np.ndarray, tol: float,
    max_iter: int, screening: bool,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The path (module docstring) from theta0 over the decreasing ``grid``:
    ``theta`` (K, d+1) on standardised features, ``value`` (F), ``n_iter``,
    ``status`` and ``kkt`` (the largest raw KKT violation) per point. ``c``: the
    row weights (any positive scale); ``factor``: (d,) penalty factors."""
    dtype = targets.dtype
    d = xt.shape[0]
    mean, scale = (np.asarray(a, np.float64) for a in scaling)
    cw = c / jnp.sum(c)
    lam_unit, mu_unit = elastic_net_weights(1.0, l1_ratio, factor, scale)
    free = lam_unit == 0  # the intercept and features with factor 0
    whole = _Block(xt, np.arange(d), mean, scale)
    block = whole

    def block_for(on: np.ndarray, g: np.ndarray, lam: np.ndarray) -> _Block:
        """W's block, W widened in place to the block's features: the whole of X (made
        once) once W's block would hold more than half the features; the last block
        while W fits in it; else a new one, its spare rows filled by the features
        nearest to entering (:func:`pad_working_set`)."""
        feats = np.flatnonzero(on[:d])
        if 2 * block_size(feats.size) > d:
            return whole
        if not block.full and np.isin(feats, block.feats).all():
            on[block.feats] = True
            return block
        pad_working_set(on, g, lam, block_size(feats.size))  # B <= d / 2 < d
        return _Block(xt, np.flatnonzero(on[:d]), mean, scale)

    theta = np.asarray(theta0, np.float64).copy()
    mean_d, scale_d = whole.scaling
    if theta[:d].any():
        grad, z = whole.gradient(targets, cw, theta)
    else:  # the null model (a path's start): its logits need no read of X
        z = jnp.full(targets.shape, theta[d], targets.dtype)
        grad_d, _ = gradient_at_logits(xt, targets, cw, mean_d, scale_d, z)
        grad = np.asarray(grad_d, np.float64)
    model = _Model(d + 1)
    k_points = len(grid)
    out = {
        "theta": np.zeros((k_points, d + 1)), "value": np.zeros(k_points),
        "kkt": np.zeros(k_points), "n_iter": np.zeros(k_points, np.int32),
        "status": np.zeros(k_points, np.int32),
    }  # fmt: skip
    missed = None  # theta less the last point's first Newton point (no L1 part)
    losses: list[Any] = []  # each point's loss, read back once at the end
    grid = np.asarray(grid, np.float64)
    for k, alpha in enumerate(grid):
        lam, mu = alpha * lam_unit, alpha * mu_unit
        g = grad + mu * theta
        on = (theta != 0) | free
        if screening and not on[:d].all():  # the warm start's violators (step 1)
            on[:d] |= raw_violations(theta, g, lam, mean, scale) > tol
        run = _Restricted(targets, cw, lam, mu, tol, max_iter, dtype, model)
        ratio = second_order_ratio(grid, k)
        if missed is not None and ratio > 0:  # (0: the guess would be the plain step)
            run.correction = missed * ratio
        while True:
            block = block_for(on, g, lam)
            theta, grad_w, z = run.solve(block, theta, grad[block.cols], z)
            if block.full:  # the loss at z: a device scalar, read back at the end
                grad, loss = grad_w, block_loss(z, targets, cw)
            else:  # the logits at theta are known: one read of X for the rest
                grad_d, loss = gradient_at_logits(xt, targets, cw, mean_d, scale_d, z)
                grad = np.asarray(grad_d, np.float64)
            g = grad + mu * theta
            # violators outside W join it unless the budget ran out (a run stalled
            # at the precision's floor on W still grows it)
            if run.status == MAX_ITER or block.full:
                break
            outside = ~on[:d] & (raw_violations(theta, g, lam, mean, scale) > tol)
            if not outside.any():
                break
            on[:d] |= outside
            run.status = MAX_ITER
        kkt = float(raw_kkt(theta, g, lam, mean, scale))
        missed = None
        if run.newton_point is not None and run.status == CONVERGED:
            missed = theta - run.newton_point
        status = run.status
        if status == CONVERGED and kkt > tol:  # W met tol, the full pass's rounding
            status = STALLED  # of the same sums did not: the precision's floor
        out["theta"][k], out["kkt"][k] = theta, kkt
        out["value"][k] = penalty_value(theta, lam, mu)
        losses.append(loss)
        out["n_iter"][k], out["status"][k] = run.steps, status
    out["value"] += np.asarray(jax.device_get(losses), np.float64).reshape(-1)
    return out


def second_order_ratio(grid: np.ndarray, k: int) -> float:
    """(log(a_{k-1} / a_k) / log(a_{k-2} / a_{k-1}))^2 for the grid a: how the first
    Newton step's miss, second order in the step along the path, scales from point
    k - 1 to point k (0 before the third point, or after a repeated alpha: no miss
    to scale)."""
    if k < 2 or grid[k - 2] == grid[k - 1]:
        return 0.0
    ratio = np.log(grid[k - 1] / grid[k]) / np.log(grid[k - 2] / grid[k - 1])
    return float(ratio**2)


class _Model:
    """The loss Hessian the quadratic models use, over theta's d + 1 coordinates,
    carried along the path: ``valid`` marks the coordinates of its last computation
    (entries among them are that computation's, BFGS-updated since)."""

    def __init__(self, p: int) -> None:
        self.matrix = np.zeros((p, p))
        self.valid = np.zeros(p, bool)

    def block(self, cols: np.ndarray) -> np.ndarray:
        return self.matrix[cols][:, cols]

    def set(self, cols: np.ndarray, h: np.ndarray, fresh: bool) -> None:
        self.matrix[cols[:, None], cols] = h
        if fresh:
            self.valid[:] = False
            self.valid[cols] = True


class _Restricted:
    """Proximal Newton on a working set (module docstring, step 2) at one alpha:
    ``steps`` taken so far and the ``status`` (converged, max_iter, stalled)."""

    def __init__(
        self, targets: Array, cw: Array, lam: np.ndarray, mu: np.ndarray, tol: float,
        max_iter: int, dtype: Any, model: _Model,
    ) -> None:  # fmt: skip
        self.targets, self.cw, self.lam, self.mu = targets, cw, lam, mu
        self.tol, self.max_iter, self.dtype, self.model = tol, max_iter, dtype, model
        self.steps, self.status = 0, MAX_ITER
        # with no L1 part: a guess of the first Newton step's miss (added to it
        # once), and where that step went (theta's d + 1 coordinates)
        self.correction: np.ndarray | None = None
        self.newton_point: np.ndarray | None = None

    def solve(
        self, block: _Block, theta: np.ndarray, grad_w: np.ndarray, z: Array
    ) -> tuple[np.ndarray, np.ndarray, Array]:
        """From theta (W's loss gradient and the logits there): theta, W's loss
        gradient and the logits where the run stopped."""
        cols, tol, dtype, model = block.cols, self.tol, self.dtype, self.model
        lam_w, mu_w = self.lam[cols], self.mu[cols]

        def f_at(th_w: np.ndarray, zz: Array) -> float:
            loss = float(block_loss(zz, self.targets, self.cw))
            return loss + float(penalty_value(th_w, lam_w, mu_w))

        def violation(th_w: np.ndarray, g_w: np.ndarray) -> float:
            g = g_w + mu_w * th_w
            return float(raw_kkt(th_w, g, lam_w, block.mean_w, block.scale_w))

        th, g_loss = theta[cols], grad_w
        kkt = violation(th, g_loss)
        self.status = CONVERGED if kkt <= tol else MAX_ITER
        first, idle, fresh = True, 0, False  # fresh: the model was formed at th
        best = kkt  # the least violation so far
        while self.status == MAX_ITER and self.steps < self.max_iter:
            if not model.valid[cols].all():
                model.set(cols, block.hessian(self.cw, z), fresh=True)
                fresh = True
            g = g_loss + mu_w * th
            viol = float(np.max(kkt_violations(th, g, lam_w)))
            u, decrease = model_step(
                model.block(cols) + np.diag(mu_w), g, th, lam_w, viol, tol
            )
            if not (np.all(np.isfinite(u)) and decrease < 0):
                self.status = STALLED
                break
            f_now = None  # F at th, computed only where Armijo's rule is needed
            t, accepted, f_trial = 1.0, False, None
            guessed = None
            if first and self.newton_point is None and not self.lam.any():
                self.newton_point = np.zeros(model.matrix.shape[0])
                self.newton_point[cols] = u
                if self.correction is not None:  # the corrected full step: kept
                    guess = u + self.correction[cols]  # where it shrank the violation
                    g_guess, z_guess = block.gradient(self.targets, self.cw, guess)
                    kkt_guess = violation(guess, g_guess)
                    if kkt_guess <= (1 - MERIT) * kkt:
                        guessed = (guess, g_guess, z_guess, kkt_guess)
            for _ in range(MAX_HALVINGS):
                if guessed is not None:
                    (trial, t_grad, t_z, t_kkt), accepted = guessed, True
                    break
                trial = th + t * (u - th)
                t_grad, t_z = block.gradient(self.targets, self.cw, trial)
                t_kkt = violation(trial, t_grad)
                # a full step is kept where it shrank the KKT violation; elsewhere
                # Armijo's rule on F decides, halving the step
                if t == 1.0 and t_kkt <= (1 - MERIT) * kkt:
                    accepted = True
                    break
                if f_now is None:
                    f_now = f_at(th, z)
                    slack = 4 * np.finfo(dtype).eps * abs(f_now)
                f_trial = f_at(trial, t_z)
                if f_trial <= f_now + ARMIJO_C1 * t * decrease + slack:
                    accepted = True
                    break
                t *= 0.5
            self.steps += 1
            if not accepted:
                self.status = STALLED
                break
            # progress: the violation reached a new low, or F fell (at the rounding
            # floor, float32, F stops falling and the violation wanders)
            progress = t_kkt < best
            if not progress:  # F decides (the kept logits: no pass over X)
                if f_now is None:
                    f_now = f_at(th, z)
                    slack = 4 * np.finfo(dtype).eps * abs(f_now)
                if f_trial is None:
                    f_trial = f_at(trial, t_z)
                progress = f_trial < f_now - NOISE * slack
            if not progress and not fresh:  # idle on a kept model: not taken; the
                model.set(cols, block.hessian(self.cw, z), fresh=True)  # exact one
                fresh = True  # at th, then the step again
                continue
            if not (progress or t_kkt < kkt):  # idle on a fresh model, and the
                self.status = STALLED  # violation would rise: the precision's floor
                break  # (the step not taken)
            s, y = trial - th, t_grad - g_loss
            th, g_loss, z = trial, t_grad, t_z
            slow = not first and t_kkt > REFRESH * kkt
            kkt, first, best = t_kkt, False, min(best, t_kkt)
            idle = 0 if progress else idle + 1
            if kkt <= tol:
                self.status = CONVERGED
            elif idle >= IDLE_STEPS:
                self.status = STALLED
            elif slow:
                model.set(cols, block.hessian(self.cw, z), fresh=True)
                fresh = True
            else:
                fresh = False
                updated = bfgs_update(model.block(cols), s, y)
                if updated is not None:
                    model.set(cols, updated, fresh=False)
        out = np.zeros_like(theta)
        out[cols] = th
        return out, g_loss, z
