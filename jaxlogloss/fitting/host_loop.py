"""Newton and L-BFGS driven from the host around one compiled evaluation: a fast first call.

:func:`jaxlogloss.fitting.solve.minimise_compiled` compiles a whole solver run (the
solver's loop, the nested line-search loops, every evaluation) into one program: XLA
then spends seconds on the first call of a fit. Here the solver's logic -- the
stopping rule, the backtracking line search, the L-BFGS two-loop recursion, Newton's
damped (p x p) Cholesky solve -- runs in NumPy on the host, and the data are touched
only by two compiled programs, each compiled once per shape and dtype:

* :func:`evaluate`: f, df/dtheta, the separation certificate and the logits z at theta
  (``objective.evaluate(theta, 1)``: one pass over X; on a large row-major X, in
  one range of blocks a core on threads: :mod:`jaxlogloss.fitting.host_pass`);
* :func:`curvature`: the Hessian at theta from the kept logits (Newton's steps) and,
  when asked, the model statistics' sums (the inference step of every fit uses the
  same program: :func:`information`). Where X is in host memory (one CPU device)
  :func:`model_curvature` forms the Hessian's Gram with NumPy's BLAS instead (its
  symmetric rank-k update: half the products) around a smaller compiled program
  for the per-row weights (:mod:`jaxlogloss.fitting.host_curvature`).

A run from theta = 0 takes its first point (f and df/dtheta at 0, where every logit
is 0) from the scaling's read of X
(:func:`~jaxlogloss.fitting.host_scaling.scaling_and_start`), not from an evaluation.

Each step costs one dispatch and a transfer of p numbers (microseconds, next to a
pass over X of tens of milliseconds at 10^6 x 100). The rules are those of
:mod:`jaxlogloss.solvers` (:func:`~jaxlogloss.solvers.base.advance`,
:func:`~jaxlogloss.solvers.linesearch.backtracking`,
:class:`~jaxlogloss.solvers.newton.Newton`, :class:`~jaxlogloss.solvers.lbfgs.LBFGS`
with optax's two-loop recursion), in the objective's dtype: the same iterates to
rounding (``tests/test_solvers_host.py``). The programs are compiled with XLA's
classic CPU emitters (:func:`~jaxlogloss.fitting.compiled.fast_compile`): half the
compile time, bit-identical results in the measurements of
``benchmarks/compile_time.py``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxlogloss.fitting import path_objective
from jaxlogloss.fitting.background import BACKGROUND
from jaxlogloss.fitting.compiled import fast_compile
from jaxlogloss.fitting.host_curvature import (
    curvature,
    curvature_weights,
    host_curvature,
    sample_stride,
    uses_host_gram,
)
from jaxlogloss.fitting.host_pass import evaluate_in_parts, pass_parts
from jaxlogloss.fitting.model_precision import ModelPrecision
from jaxlogloss.model.objectives import InMemoryObjective
from jaxlogloss.model.zero_point import ZeroPoint
from jaxlogloss.parallel import mesh as dist
from jaxlogloss.solvers.base import (
    CONVERGED,
    DIVERGED,
    MAX_ITER,
    PROGRESS_WINDOW,
    RUNNING,
    SEPARATION,
    STALLED,
    Iterate,
)
from jaxlogloss.solvers.lbfgs import LBFGS
from jaxlogloss.solvers.linesearch import ARMIJO_C1, FLOOR_OVERSHOOT
from jaxlogloss.solvers.newton import Newton

Array = jax.Array

# fit drives an in-memory solver from the host when X has at least this many elements
# (rows x features); 0: always (one device, binary loss, Newton or L-BFGS)
HOST_LOOP_MIN_ELEMENTS: int | None = 0


# the centred float32 copy of X for model Hessians: one program for paths and cv
centred_float32 = fast_compile(path_objective.centred_float32)


@fast_compile
def evaluate(objective: InMemoryObjective, theta: Array) -> tuple[Array, ...]:
    """f, df/dtheta, the separation certificate and the logits at theta (one pass)."""
    ev = objective.evaluate(theta, 1)
    return ev.value, ev.grad, ev.separated, ev.aux


def model_curvature(
    objective: InMemoryObjective, theta: Any, aux: Any, with_sums: Any,
    float32_products: Any, row_stride: int = 1,
) -> tuple[Any, Any, Any]:  # fmt: skip
    """:func:`curvature`, with the Gram on the host's BLAS where X is in host memory
    and the logits are known
    (:func:`~jaxlogloss.fitting.host_curvature.host_curvature`; there
    ``row_stride`` > 1 samples every s-th row for a model; the compiled
    program always sums every row)."""
    if uses_host_gram(objective, aux):
        return host_curvature(
            objective, theta, aux, with_sums, float32_products, row_stride
        )
    return curvature(objective, theta, aux, with_sums, float32_products)


def information(objective: Any, theta: Array, aux: Any) -> tuple[np.ndarray, Any]:
    """The Hessian of the summed penalised loss (the observed information), on the
    host, and the model statistics' sums (None for a multiclass loss)."""
    hessian, total, sums = model_curvature(
        objective, theta, aux, np.bool_(True), np.bool_(False)
    )
    hessian = dist.to_host(hessian)
    return hessian * np.asarray(dist.to_host(total), hessian.dtype), sums


class HostState(NamedTuple):
    """A host run's final state, shaped as a compiled run's (``iterate``, what it
    keeps at theta: the logits ``aux``; no Hessian)."""

    iterate: Iterate
    hessian: Any = None
    aux: Any = None


class _Point(NamedTuple):
    """An evaluation on the host: the value, the gradient the stopping rule reads,
    the separation certificate, the logits, and ``smooth``: a proximal run's gradient
    of the smooth part (its ``grad`` holds the KKT violations)."""

    value: np.ndarray
    grad: np.ndarray
    separated: bool
    z: Any
    smooth: Any = None


def evaluate_point(objective: Any, theta: np.ndarray) -> _Point:
    """f, df/dtheta (on the host), the separation certificate and the logits at theta,
    as the host loop evaluates them: two parts of the pass on a large row-major X in
    host memory (:mod:`~jaxlogloss.fitting.host_pass`), else :func:`evaluate`."""
    parts = pass_parts(objective, theta)
    if parts > 1:  # the pass's blocks on one thread a core (host_pass)
        value, grad, separated, z = evaluate_in_parts(objective, theta, parts)
    else:
        value, grad, separated, z = evaluate(objective, theta)
    value, grad, separated = jax.device_get((value, grad, separated))
    return _Point(value, grad, bool(separated), z)


class _Run:
    """The iterate and its histories, with :func:`~jaxlogloss.solvers.base.start` and
    :func:`~jaxlogloss.solvers.base.advance`'s rule, on NumPy arrays."""

    def __init__(self, theta: np.ndarray, pt: _Point, tol: Any, max_iter: int):
        self.dtype = np.dtype(pt.value.dtype)
        self.tol, self.max_iter = self.dtype.type(tol), max_iter
        self.theta, self.value, self.grad, self.z = theta, pt.value, pt.grad, pt.z
        gn = np.max(np.abs(pt.grad))
        finite = np.isfinite(pt.value) and np.isfinite(gn)
        self.status = (CONVERGED if gn <= self.tol else RUNNING) if finite else DIVERGED
        self.k = 0
        self.loss = np.full(max_iter + 1, np.nan, self.dtype)
        self.gnorm = np.full(max_iter + 1, np.nan, self.dtype)
        self.loss[0], self.gnorm[0] = pt.value, gn

    @property
    def running(self) -> bool:
        return self.status == RUNNING and self.k < self.max_iter

    def advance(self, theta: np.ndarray, pt: _Point, accepted: bool) -> bool:
        """The stopping rule on a step's point; whether the step was kept."""
        gn = np.max(np.abs(pt.grad))
        finite = bool(np.isfinite(pt.value) and np.isfinite(gn))
        recent = self.gnorm[max(0, self.k - PROGRESS_WINDOW + 1) : self.k + 1]
        progress = pt.value < self.value or gn < np.max(recent)
        if not finite:
            self.status = DIVERGED
        elif gn <= self.tol:
            self.status = CONVERGED
        elif pt.separated:
            self.status = SEPARATION
        elif not accepted or not progress:
            self.status = STALLED
        keep = finite and accepted
        if keep:
            self.theta, self.value, self.grad, self.z = theta, pt.value, pt.grad, pt.z
        self.k += 1
        self.loss[self.k] = self.value
        self.gnorm[self.k] = np.max(np.abs(self.grad))
        return keep

    def state(self) -> HostState:
        status = MAX_ITER if self.status == RUNNING else self.status
        it = Iterate(
            self.theta, self.value, self.grad, np.int32(status), np.int32(self.k),
            self.loss, self.gnorm,
        )  # fmt: skip
        return HostState(it, None, self.z)


def _step(
    point_at: Any, run: _Run, direction: np.ndarray, slope: Any, active: bool,
    max_halvings: int, floor_check: bool = False, unit_only: bool = False,
) -> _Point | None | bool:  # fmt: skip
    """One step of ``run``: backtracking from t = 1
    (:func:`~jaxlogloss.solvers.linesearch.backtracking`) on the values ``point_at``
    gives (``slope``: the directional derivative, or a proximal step's model
    decrease), then :meth:`_Run.advance` on the last trial. Returns the point the
    run kept, or None where it kept none.

    ``floor_check`` (L-BFGS: ``slope`` is phi'(0) = g.d and a point's ``grad`` the
    gradient): where the trial's value is within rounding of the current one, the
    value says nothing, so Hager and Zhang's approximate Wolfe test decides instead:
    a trial whose directional derivative phi'(t) = g(t).d exceeds
    :data:`~jaxlogloss.solvers.linesearch.FLOOR_OVERSHOOT` |phi'(0)| overshot the
    minimum along d and is halved (as the compiled
    :func:`~jaxlogloss.solvers.linesearch.not_past`).

    ``unit_only``: where the unit step fails the rule, return False and leave the
    run as it was (no halving, no advance)."""
    dt = run.dtype.type
    value = run.value
    slack = dt(4) * np.finfo(run.dtype).eps * np.abs(value)
    i = 0
    while True:
        t = dt(0.5) ** i
        pt = point_at(run.theta + t * direction)
        ok = bool(np.isfinite(pt.value)) and bool(
            pt.value <= value + dt(ARMIJO_C1) * t * slope + slack
        )
        if ok and floor_check and abs(pt.value - value) <= slack:
            ok = bool(pt.grad @ direction <= -dt(FLOOR_OVERSHOOT) * slope)
        if unit_only and not ok:
            return False
        if ok or i + 1 >= max_halvings or not active:
            break
        i += 1
    accepted = ok and active
    theta = run.theta + t * direction if accepted else run.theta
    return pt if run.advance(theta, pt, accepted) else None


def newton_host(
    solver: Newton, objective: Any, theta: np.ndarray,
    compiling: threading.Event | None = None, first: _Point | None = None,
) -> HostState:  # fmt: skip
    """:class:`~jaxlogloss.solvers.newton.Newton` with its loop on the host
    (``compiling``: set once :func:`curvature` is compiled, waited for before its
    use). A float64 run's Hessians come from float32 block products
    (:class:`~jaxlogloss.fitting.model_precision.ModelPrecision`) while its steps
    behave, and a model whose step shrank the gradient's largest entry
    :data:`REUSE_RATIO` times or more takes the next step too (Newton's local rate
    left that little to gain from a fresh one: the last Hessian of a fit, 0.2 s at
    10^6 x 100). ``first``: the point at ``theta`` where known (no evaluation)."""
    point_at = functools.partial(evaluate_point, objective)
    first = point_at(theta) if first is None else first
    run = _Run(theta, first, solver.tol, solver.max_iter)
    if compiling is not None:
        compiling.wait()
    no_sums = np.bool_(False)
    precision = ModelPrecision(run.dtype)
    factor = None  # the model's Cholesky factor, while it earns its reuse
    # the first model from theta = 0 (every row's weight c/4) from a sample of the
    # rows (sample_stride; ModelPrecision.may_sample); unusable or its unit step
    # refused, it is formed again whole
    sampling = not np.any(run.theta) and precision.may_sample
    while run.running:
        fresh = factor is None
        stride = sample_stride(*objective.problem.X.shape) if sampling else 1
        sampling = False
        if fresh:
            hess, _, _ = model_curvature(
                objective, run.theta, run.z, no_sums, precision.float32_products,
                stride,
            )  # fmt: skip
            hess = np.asarray(hess)
            delta = 10 * np.finfo(run.dtype).eps * np.max(np.diag(hess))
            damped = hess + delta * np.eye(hess.shape[0], dtype=run.dtype)
            try:
                factor = np.linalg.cholesky(damped)
            except np.linalg.LinAlgError:  # not positive definite:
                factor = None  # NaNs, as jax's Cholesky gives
        if factor is None:
            direction = np.full_like(run.grad, np.nan)
        else:
            direction = -cholesky_solve(factor, run.grad)
        direction = direction.astype(run.dtype)
        slope = run.grad @ direction
        usable = bool(np.all(np.isfinite(direction)) and slope < 0)
        if not usable and (not fresh or stride > 1 or precision.exact()):
            factor = None  # a sampled model formed whole, then an exact one
            continue
        before = run.gnorm[run.k]
        halvings, unit = solver.max_halvings, stride > 1  # a sample: t = 1 only
        kept = _step(point_at, run, direction, slope, usable, halvings, False, unit)
        if kept is False:  # refused (a feature nearly absent from the sample)
            factor = None
            continue
        precision.check(before, run.gnorm[run.k])  # a switch: no reuse (not halved)
        if stride > 1 or not run.gnorm[run.k] <= REUSE_RATIO * before:
            factor = None
    return run.state()


def cholesky_solve(lower: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with L L' x = b, from the lower Cholesky factor L (two solves of (p, p), tens
    of microseconds: NumPy's, where scipy.linalg's import took ~0.2 s of a CLI run)."""
    return np.linalg.solve(lower.T, np.linalg.solve(lower, b))


# Newton's model takes another step after shrinking |g| this much (1e-2 cost an extra
# step in 11 of 40 small fits, 1e-3 in 1, while saving 27 of 251 Hessians)
REUSE_RATIO = 1e-3


class _Memory:
    """optax's ``scale_by_lbfgs`` state and update (the two-loop recursion), in NumPy."""

    def __init__(self, size: int, p: int, dtype: Any) -> None:
        self.size, self.dtype = size, dtype
        self.count = 0
        self.params = np.zeros(p, dtype)
        self.updates = np.zeros(p, dtype)
        self.dparams = np.zeros((size, p), dtype)
        self.dupdates = np.zeros((size, p), dtype)
        self.weights = np.zeros(size, dtype)

    def update(self, grad: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, Any]:
        """H_k g after adding the pair (theta - last theta, grad - last grad); the
        new memory (``count``, buffers) is returned as a tuple to commit or drop."""
        m, dt = self.size, self.dtype
        idx, prev = self.count % m, (self.count - 1) % m
        dparams, dupdates = theta - self.params, grad - self.updates
        vdot = dupdates @ dparams
        weight = dt.type(0) if vdot == 0 else dt.type(1) / vdot
        if self.count == 0:
            dparams, dupdates = np.zeros_like(dparams), np.zeros_like(dupdates)
            weight = dt.type(0)
        S, Y, rho = self.dparams.copy(), self.dupdates.copy(), self.weights.copy()
        S[prev], Y[prev], rho[prev] = dparams, dupdates, weight
        if self.count > 0:
            denominator = dupdates @ dupdates
            scale = dupdates @ dparams / denominator if denominator > 0 else dt.type(1)
        else:
            scale = min(dt.type(1), dt.type(1) / np.sqrt(grad @ grad))
        order = (idx + np.arange(m)) % m
        q = grad.copy()
        alphas = np.zeros(m, dt)
        for j in range(m - 1, -1, -1):  # newest pair first
            a = rho[order[j]] * (S[order[j]] @ q)
            q = q - a * Y[order[j]]
            alphas[j] = a
        q = dt.type(scale) * q
        for j in range(m):  # oldest pair first
            beta = rho[order[j]] * (Y[order[j]] @ q)
            q = q + (alphas[j] - beta) * S[order[j]]
        return q, (self.count + 1, theta, grad, S, Y, rho)

    def commit(self, new: Any) -> None:
        self.count, self.params, self.updates = new[:3]
        self.dparams, self.dupdates, self.weights = new[3:]

    def reset(self) -> None:
        self.__init__(self.size, self.params.shape[0], self.dtype)


def lbfgs_host(
    solver: LBFGS, objective: Any, theta: np.ndarray, first: _Point | None = None
) -> HostState:
    """:class:`~jaxlogloss.solvers.lbfgs.LBFGS` with its loop on the host
    (``first``: the point at ``theta`` where known)."""
    point_at = functools.partial(evaluate_point, objective)
    first = point_at(theta) if first is None else first
    run = _Run(theta, first, solver.tol, solver.max_iter)
    memory = _Memory(solver.memory_size, theta.shape[0], run.dtype)
    while run.running:
        with np.errstate(all="ignore"):
            scaled, new = memory.update(run.grad, run.theta)
            direction = -scaled
            slope = run.grad @ direction
        if np.all(np.isfinite(direction)) and slope < 0:
            memory.commit(new)
        else:  # not a descent direction: forget the pairs, steepest descent
            direction, slope = -run.grad, -(run.grad @ run.grad)
            memory.reset()
        _step(point_at, run, direction, slope, True, solver.max_halvings, True)
    return run.state()


def compile_curvature(objective: Any, theta: np.ndarray) -> threading.Event:
    """Compile :func:`curvature` for ``objective`` on the background compiler while
    the first evaluation compiles: XLA compiles without holding the GIL, so on two
    cores the two compilations overlap. Wait for the returned event before calling
    ``curvature``."""
    targets = objective.problem.targets  # the logits: its shape and placement
    z = jax.ShapeDtypeStruct(
        targets.shape, objective.dtype, sharding=getattr(targets, "sharding", None)
    )
    if uses_host_gram(objective, z):  # the Gram's weights only
        program = curvature_weights.lower(objective, theta, z, np.bool_(False))
        return BACKGROUND.submit(program.compile)
    return BACKGROUND.submit(
        lambda: curvature.lower(objective, theta, z, *[np.bool_(False)] * 2).compile()
    )


def minimise_host(
    solver: Any, objective: InMemoryObjective, theta: Any,
    at_zero: ZeroPoint | None = None,
) -> HostState:  # fmt: skip
    """Newton or L-BFGS from ``theta`` with the loop on the host (module docstring):
    the final state, shaped as :func:`~jaxlogloss.solvers.base.minimise`'s. The
    curvature program (Newton's, and the inference step's) compiles meanwhile.
    ``at_zero``: the objective at theta = 0
    (:func:`~jaxlogloss.fitting.host_scaling.scaling_and_start`), the first point of a
    run from 0 in place of a pass over X."""
    tol = np.asarray(solver.tol)
    theta = np.asarray(theta).astype(tol.dtype)
    compiling = compile_curvature(objective, theta)
    first = None
    if at_zero is not None and not np.any(theta):
        value, grad = jax.device_get(tuple(at_zero))
        targets = objective.problem.targets  # the logits: all 0, placed as targets
        z = np.zeros(targets.shape, theta.dtype)  # (so curvature's compile is reused)
        z = jax.device_put(z, getattr(targets, "sharding", None))
        first = _Point(value.astype(theta.dtype), grad.astype(theta.dtype), False, z)
    try:
        if type(solver) is Newton:
            return newton_host(solver, objective, theta, compiling, first)
        return lbfgs_host(solver, objective, theta, first)
    finally:
        compiling.wait()


def use_host_loop(objective: Any, solver: Any = None) -> bool:
    """Whether ``fit`` runs this solver on this objective from the host: Newton or
    L-BFGS, a binary loss on one device, X of at least :data:`HOST_LOOP_MIN_ELEMENTS`
    elements (never when that is None)."""
    limit = HOST_LOOP_MIN_ELEMENTS
    if limit is None or not isinstance(objective, InMemoryObjective):
        return False
    if solver is not None and type(solver) not in (Newton, LBFGS):
        return False
    targets = objective.problem.targets
    if objective.mesh is not None or getattr(targets, "ndim", 1) != 1:
        return False
    n, d = objective.problem.X.shape
    return n * d >= limit
