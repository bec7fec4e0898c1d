"""Fit a binary logistic regression and report what a statistician expects.

:func:`fit` minimises  mean_c log-loss(y, X w + b) + (l2 / 2) ||w||^2  (the intercept
unpenalised; scikit-learn's ``C = 1 / (n * l2)`` for unit weights) with

* ``"newton"`` -- Newton/IRLS with the exact Hessian (:mod:`jaxlogloss.newton`),
* ``"lbfgs"``  -- optax's L-BFGS with a zoom line search (:mod:`jaxlogloss.lbfgs`),
* any first-order optimizer of :mod:`jaxlogloss.optimizers` (``"sgd"``, ``"adam"``, ...)
  through :func:`jaxlogloss.training.train`, full batch,

always on standardised features internally (no copy of X; coefficients are mapped back
to the raw scale), with X in the feature-major layout, and returns a :class:`FitResult`
with coefficients, standard errors, z, p-values and confidence intervals
(:mod:`jaxlogloss.inference`), the log-loss, iterations and convergence. Separation is
reported as ``converged = False`` with a warning suggesting an L2 penalty.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxlogloss import _validation as v
from jaxlogloss.data.design import FeatureMajor
from jaxlogloss.fitting.inference import (
    Inference,
    coefficient_inference,
    observed_information,
)
from jaxlogloss.fitting.train import train
from jaxlogloss.losses.pointwise import logit_log_loss_pointwise, reduce_loss
from jaxlogloss.model.objective import Problem, prepare_problem
from jaxlogloss.model.params import LinearParams, init_params, linear_logits
from jaxlogloss.model.scaling import Scaling, feature_scaling, to_raw, to_standardized
from jaxlogloss.parallel import mesh as dist
from jaxlogloss.precision import enable_x64
from jaxlogloss.solvers import base as cv
from jaxlogloss.solvers.first_order import OPTIMIZERS
from jaxlogloss.solvers.lbfgs import lbfgs_solve
from jaxlogloss.solvers.newton import newton_solve

SOLVERS = ("newton", "lbfgs", *(name for name in OPTIMIZERS if name != "lbfgs"))
DEFAULT_MAX_ITER = {"newton": 100, "lbfgs": 1000}
DEFAULT_FIRST_ORDER_STEPS = 20000


@dataclass(frozen=True)
class FitResult:
    """A fitted binary logistic regression.

    ``log_loss`` is the (weighted) mean log-loss over the rows, without the penalty;
    ``objective`` adds it. ``status`` is one of
    :data:`jaxlogloss.convergence.STATUSES` (first-order solvers: "converged",
    "max_steps" or "diverged").
    """

    feature_names: tuple[str, ...]
    intercept: float
    coef: np.ndarray
    inference: Inference
    log_loss: float
    objective: float
    n_iter: int
    status: str
    solver: str
    l2: float
    tol: float
    grad_norm: float
    n_samples: int
    seconds: float
    loss_history: np.ndarray
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def params(self) -> LinearParams:
        return LinearParams(jnp.asarray(self.coef), jnp.asarray(self.intercept))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (non-finite numbers become None)."""
        inf = self.inference

        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        def by_name(values: np.ndarray) -> dict[str, float | None]:
            return {name: num(x) for name, x in zip(inf.names, values, strict=True)}

        return {
            "intercept": num(self.intercept),
            "coef": {
                n: num(c) for n, c in zip(self.feature_names, self.coef, strict=True)
            },
            "std_err": by_name(inf.std_err),
            "z": by_name(inf.z),
            "p_value": by_name(inf.p_value),
            "ci_low": by_name(inf.ci_low),
            "ci_high": by_name(inf.ci_high),
            "confidence": inf.confidence,
            "log_loss": num(self.log_loss),
            "objective": num(self.objective),
            "n_iter": self.n_iter,
            "converged": self.converged,
            "status": self.status,
            "solver": self.solver,
            "l2": self.l2,
            "tol": self.tol,
            "grad_norm": num(self.grad_norm),
            "n_samples": self.n_samples,
            "seconds": self.seconds,
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        """A statsmodels-like coefficient table with the fit's diagnostics."""
        inf = self.inference
        level = f"{inf.confidence:.3f}".rstrip("0").rstrip(".")
        lo_name = f"[{(1 - inf.confidence) / 2:.3f}"
        hi_name = f"{1 - (1 - inf.confidence) / 2:.3f}]"
        width = max(12, *(len(n) for n in inf.names))
        head = (
            f"{'':<{width}} {'coef':>11} {'std err':>11} {'z':>9} {'P>|z|':>8} "
            f"{lo_name:>11} {hi_name:>11}"
        )
        rule = "=" * len(head)
        lines = [
            "Logistic regression (maximum likelihood"
            + (f", L2 alpha={self.l2:g}" if self.l2 else "")
            + ")",
            rule,
            f"solver: {self.solver}   status: {self.status}   iterations: "
            f"{self.n_iter}   ||grad||_inf: {self.grad_norm:.2e} (tol {self.tol:g})",
            f"rows: {self.n_samples}   log-loss: {self.log_loss:.10g}   "
            f"-log-likelihood: {self.log_loss * self.n_samples:.6g}   "
            f"time: {self.seconds:.3f} s   CI level: {level}",
            rule,
            head,
            "-" * len(head),
        ]
        for i, name in enumerate(inf.names):
            lines.append(
                f"{name:<{width}} {inf.coef[i]:>11.4g} {inf.std_err[i]:>11.4g} "
                f"{inf.z[i]:>9.3f} {inf.p_value[i]:>8.3f} {inf.ci_low[i]:>11.4g} "
                f"{inf.ci_high[i]:>11.4g}"
            )
        lines.append(rule)
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def _check_number(fn: str, name: str, value: Any, low: float, strict: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value > low if strict else value >= low)
    if not ok:
        op = ">" if strict else ">="
        raise ValueError(
            f"{fn}: {name} must be a finite number {op} {low:g}, got {value!r}"
        )
    return value


def fit(
    X: Any,
    y: Any = None,
    *,
    feature_names: tuple[str, ...] | None = None,
    sample_weight: Any = None,
    solver: str = "newton",
    l2: float = 0.0,
    max_iter: int | None = None,
    tol: float | None = None,
    learning_rate: float | None = None,
    dtype: str = "float64",
    confidence: float = 0.95,
    mesh: Mesh | None = None,
    process_local: bool = False,
) -> FitResult:
    """Fit a binary logistic regression (see the module docstring).

    Args:
      X: (n, d) features (any layout: an array, a FeatureMajor view, or a
        ``jaxlogloss.data.TabularData`` whose labels and names are then used).
      y: labels in {0, 1} (omit it when X is a TabularData).
      feature_names: names of the d columns (default x0, x1, ...).
      sample_weight: optional (n,) frequency weights.
      solver: "newton", "lbfgs" or a first-order optimizer name ("sgd", "adam", ...).
      l2: alpha >= 0 of (alpha/2)||w||^2 added to the mean log-loss.
      max_iter: iteration (or step) budget; default 100 (newton), 1000 (lbfgs),
        20000 (first-order).
      tol: stop when ||grad||_inf <= tol on standardised features; default 1e-10
        (float64), 1e-5 (float32).
      learning_rate: for first-order solvers (their default otherwise).
      dtype: "float64" (default: statsmodels-grade answers) or "float32".
      confidence: level of the confidence intervals, in (0, 1).
      mesh: split the rows over the "data" axis of this mesh (every device of a
        multi-process job included); the result equals the one-device fit to rounding.
        See :mod:`jaxlogloss.distributed`.
      process_local: with a mesh over several processes, X, y and sample_weight hold
        only this process's rows (in process order); the fit is over all of them.
    """
    fn = "fit"
    if solver not in SOLVERS:
        raise ValueError(
            f"{fn}: solver must be one of {', '.join(SOLVERS)}, got {solver!r}"
        )
    if dtype not in cv.DEFAULT_TOL:
        raise ValueError(f"{fn}: dtype must be one of float32, float64, got {dtype!r}")
    l2 = _check_number(fn, "l2", l2, 0.0, strict=False)
    tol = (
        cv.DEFAULT_TOL[dtype] if tol is None else _check_number(fn, "tol", tol, 0, True)
    )
    if not 0 < confidence < 1:
        raise ValueError(f"{fn}: confidence must be in (0, 1), got {confidence!r}")
    mesh = dist.check_mesh(fn, mesh)
    if max_iter is None:
        max_iter = DEFAULT_MAX_ITER.get(solver, DEFAULT_FIRST_ORDER_STEPS)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"{fn}: max_iter must be an integer >= 1, got {max_iter!r}")
    if hasattr(X, "xt") and hasattr(X, "feature_names") and hasattr(X, "y"):
        data = X
        X, y = FeatureMajor(data.xt), data.y
        feature_names = tuple(data.feature_names)
        if sample_weight is None:
            sample_weight = data.sample_weight
    elif y is None:
        raise TypeError(f"{fn}: y is required unless X is a jaxlogloss.TabularData")
    with enable_x64(dtype == "float64"):
        design = _as_feature_major(fn, X, dtype)
        d = design.shape[1]
        if feature_names is None:
            feature_names = tuple(f"x{j}" for j in range(d))
        if len(feature_names) != d:
            raise ValueError(
                f"{fn}: feature_names has {len(feature_names)} names but X has {d} columns"
            )
        params0 = init_params(d, dtype=design.dtype)
        params0, design, targets, sw, l2_arr = prepare_problem(
            fn, params0, design, y, loss="log_loss", sample_weight=sample_weight, l2=l2
        )
        problem = Problem(design, targets, sw, jnp.asarray(l2_arr, design.dtype))
        n_samples = int(targets.shape[0])
        local_problem = problem
        if mesh is not None:
            problem, _, n_samples = dist.shard_problem(
                problem, mesh, process_local=process_local
            )
            del design, targets, sw  # the sharded copies are the ones used from here
        start = time.perf_counter()
        params, status, n_iter, objective, grad_norm, hist = _solve(
            problem, params0, solver, tol, max_iter, learning_rate, mesh,
            local_problem, process_local,
        )  # fmt: skip
        del local_problem
        jax.block_until_ready(params)
        seconds = time.perf_counter() - start
        scaling = jax.jit(feature_scaling)(problem.X, problem.sample_weight, problem.l2)
        mean_loss = float(_mean_log_loss(params, problem))
        information = dist.to_host(observed_information(params, problem, scaling, mesh))
        if l2 == 0 and status != "separation":
            direction = cv.quasi_separation_direction(
                np.asarray(information, np.float64),
                lambda v: _margin_range(v, problem, scaling),
            )
            if direction is not None:
                status = "separation"
        params = LinearParams(dist.to_host(params.w), dist.to_host(params.b))
        scaling = Scaling(dist.to_host(scaling.mean), dist.to_host(scaling.scale))
        inference = coefficient_inference(
            params, information, scaling, tuple(feature_names), confidence
        )
        warnings = _warnings(status, params, problem, solver, max_iter, l2, n_samples)
    return FitResult(
        feature_names=tuple(feature_names),
        intercept=float(params.b),
        coef=np.asarray(params.w, np.float64),
        inference=inference,
        log_loss=mean_loss,
        objective=float(objective),
        n_iter=int(n_iter),
        status=status,
        solver=solver,
        l2=l2,
        tol=float(tol),
        grad_norm=float(grad_norm),
        n_samples=n_samples,
        seconds=seconds,
        loss_history=np.asarray(hist),
        warnings=tuple(warnings),
    )


def _as_feature_major(fn: str, X: Any, dtype: str) -> FeatureMajor:
    if isinstance(X, FeatureMajor):
        xt = X.xt
        if not (isinstance(xt, jax.Array) and xt.dtype == dtype):
            xt = jnp.asarray(np.asarray(xt, dtype=dtype))
        return FeatureMajor(xt)
    arr = v._as_array(fn, "X", X) if not isinstance(X, np.ndarray) else X
    if arr.ndim != 2:
        raise ValueError(
            f"{fn}: X must be an (n, d) matrix, got shape {tuple(arr.shape)}"
        )
    if not np.issubdtype(np.dtype(arr.dtype), np.floating):
        raise TypeError(f"{fn}: X must have a floating dtype, got {arr.dtype}")
    # one transposing copy on the device, straight into the layout the compiled
    # functions want (measured: +1x X kept, +2x X for a moment; a NumPy transpose
    # first keeps +2x)
    return FeatureMajor(_transpose_to(np.asarray(arr), dtype))


@functools.partial(jax.jit, static_argnames="dtype")
def _transpose_to(X: Any, dtype: str) -> jax.Array:
    return jnp.transpose(X).astype(dtype)


def _solve(
    problem: Problem,
    params0: LinearParams,
    solver: str,
    tol: float,
    max_iter: int,
    learning_rate: float | None,
    mesh: Mesh | None = None,
    local_problem: Problem | None = None,
    process_local: bool = False,
) -> tuple[LinearParams, str, int, float, float, np.ndarray]:
    if solver in ("newton", "lbfgs"):
        scaling = jax.jit(feature_scaling)(problem.X, problem.sample_weight, problem.l2)
        start = to_standardized(params0, scaling)
        tol_arr = jnp.asarray(tol, problem.targets.dtype)
        if solver == "newton":
            out = newton_solve(start, problem, scaling, tol_arr, max_iter, mesh=mesh)
        else:
            out = lbfgs_solve(start, problem, scaling, tol_arr, max_iter)
        res = cv.make_result(out[0], *(dist.to_host(x) for x in out[1:]))
        return (
            res.params,
            res.status,
            res.n_iter,
            res.loss,
            res.grad_norm,
            res.loss_history,
        )
    if mesh is not None:  # train shards the rows itself
        problem = local_problem
    result = train(
        params0, problem.X, problem.targets, sample_weight=problem.sample_weight,
        l2=problem.l2, optimizer=solver, learning_rate=learning_rate, steps=max_iter,
        tol=tol, standardize=True, chunk_size=min(max_iter, 500), mesh=mesh,
        process_local=process_local,
    )  # fmt: skip
    hist = result.history
    return (
        result.params,
        result.status,
        result.n_steps,
        float(hist["loss"][-1]),
        float(hist["grad_norm"][-1]),
        result.step_losses,
    )


def _margin_range(v: np.ndarray, problem: Problem, scaling: Any) -> tuple[float, float]:
    """Least and greatest (2y - 1) x~'_i . v over the weighted examples, v over
    [w', b'] on standardised features (reduced on the devices: any sharding)."""
    dtype = problem.targets.dtype
    direction = LinearParams(jnp.asarray(v[:-1], dtype), jnp.asarray(v[-1], dtype))
    low, high = signed_score_range(direction, problem, scaling)
    return float(low), float(high)


@jax.jit
def signed_score_range(
    params_std: LinearParams, problem: Problem, scaling: Any
) -> tuple[jax.Array, jax.Array]:
    scores = linear_logits(to_raw(params_std, scaling), problem.X)
    signed = (2 * problem.targets - 1) * scores
    sw = problem.sample_weight
    used = jnp.ones_like(signed, bool) if sw is None else sw > 0
    return (
        jnp.min(jnp.where(used, signed, jnp.inf)),
        jnp.max(jnp.where(used, signed, -jnp.inf)),
    )


@jax.jit
def _separation_counts(
    params: LinearParams, problem: Problem
) -> tuple[jax.Array, jax.Array]:
    z = linear_logits(params, problem.X)
    y = problem.targets
    sw = problem.sample_weight
    used = jnp.ones_like(z, bool) if sw is None else sw > 0
    right = jnp.sum(used & ((2 * y - 1) * z > 0))
    saturated = jnp.sum(used & (jnp.abs(jax.nn.sigmoid(z) - y) < 1e-6))
    return right, saturated


@jax.jit
def _mean_log_loss(params: LinearParams, problem: Problem) -> jax.Array:
    z = linear_logits(params, problem.X)
    per_example = logit_log_loss_pointwise(problem.targets, z)
    return reduce_loss(per_example, problem.sample_weight)


def _warnings(
    status: str,
    params: LinearParams,
    problem: Problem,
    solver: str,
    max_iter: int,
    l2: float,
    n_samples: int,
) -> list[str]:
    out = []
    if status == "separation":
        right, saturated = (int(c) for c in _separation_counts(params, problem))
        out.append(
            f"the classes are (quasi-)separable: {right} of {n_samples} rows are classified "
            f"correctly and {saturated} have fitted probabilities within 1e-6 of 0 or 1 "
            "while ||w|| keeps growing, so the maximum-likelihood estimate does not exist "
            "(coefficients and standard errors are not meaningful); add an L2 penalty, "
            "e.g. --l2 1e-3 (l2=1e-3)"
        )
    elif status in ("max_iter", "max_steps"):
        out.append(
            f"{solver} stopped after its budget of {max_iter} iterations before "
            "||grad||_inf <= tol; raise max_iter (--max-iter) or use solver newton"
        )
    elif status == "diverged":
        out.append(
            f"{solver} diverged (non-finite loss); lower the learning rate or use "
            "solver newton"
        )
    elif status == "stalled":
        out.append(
            "the solver stopped making progress before ||grad||_inf <= tol: "
            "the requested tol is probably below what the dtype resolves"
        )
    return out
