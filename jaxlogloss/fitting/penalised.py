"""The penalty of a fit: its arguments checked, the solver it needs, and its run.

``fit(..., penalty=, alpha=, l1_ratio=, penalty_factor=, l2=)`` minimises

    mean_c l(y, X w + b) + alpha sum_j f_j (r |w_j| + (1 - r)/2 w_j^2)

(:func:`jaxlogloss.model.penalties.elastic_net_value`; the intercept free). ``l2=A`` is
a synonym of ``penalty="l2", alpha=A`` (both at once is an error). A smooth penalty with
unit factors runs the smooth solvers (Newton, L-BFGS, first-order) on the objective
with its L2 term; L1, elastic net, or any penalty with factors runs a proximal solver
(:data:`~jaxlogloss.solvers.registry.PROXIMAL_SOLVERS`; ``"newton"``/``"auto"`` mean
``"prox_newton"`` there) on the penalty-free objective, and reports the KKT violation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.fitting.host_loop import use_host_loop
from jaxlogloss.fitting.host_prox import prox_newton_host
from jaxlogloss.model.penalties import get_penalty, penalty_names, resolve_l1_ratio
from jaxlogloss.solvers.base import STATUSES, minimise
from jaxlogloss.solvers.prox_newton import proximal_result
from jaxlogloss.solvers.registry import PROXIMAL_SOLVERS, make_proximal_solver

L1_NOTE = (
    "standard errors are not reported for an L1/elastic-net penalised fit: the "
    "estimate is shrunk and its zeros are selected by the data, so the Hessian does "
    "not give its sampling distribution (as glum and statsmodels' fit_regularized)"
)
L2_NOTE = (
    "std err, z, P>|z| and intervals come from the inverse Hessian of the penalised "
    "objective (conditional on alpha, as glum reports them); the estimate is shrunk "
    "towards 0, so they describe its curvature, not an unbiased estimator's spread"
)


class PenaltySpec(NamedTuple):
    """The resolved penalty: name, alpha, l1_ratio r, and the (d,) factors or None."""

    name: str
    alpha: float
    l1_ratio: float
    penalty_factor: np.ndarray | None = None

    @property
    def proximal(self) -> bool:
        """Whether a proximal solver must run (non-smooth, or per-feature factors)."""
        smooth = get_penalty(self.name).smooth or self.alpha * self.l1_ratio == 0
        return not smooth or self.penalty_factor is not None

    @property
    def reports_std_err(self) -> bool:
        """False where the standard errors are not reported (L1 part active)."""
        return self.alpha * self.l1_ratio == 0

    @property
    def note(self) -> str | None:
        """What the summary and the JSON say about the standard errors."""
        if not self.reports_std_err:
            return L1_NOTE
        return L2_NOTE if self.alpha > 0 else None

    def value(self, w: Any) -> float:
        """The penalty at raw weights ``w``."""
        return float(
            self.alpha * np.sum(self.factors(len(w)) * self._terms(np.asarray(w)))
        )

    def factors(self, d: int) -> np.ndarray:
        return np.ones(d) if self.penalty_factor is None else self.penalty_factor

    def _terms(self, w: np.ndarray) -> np.ndarray:
        r = self.l1_ratio
        return r * np.abs(w) + 0.5 * (1 - r) * np.square(w)


def _number(fn: str, name: str, value: Any) -> float:
    ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(f"{fn}: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def resolve_penalty(
    fn: str, penalty: Any, alpha: Any, l1_ratio: Any, l2: Any
) -> PenaltySpec:
    """Check ``penalty``, ``alpha``, ``l1_ratio`` and the ``l2`` synonym together.

    No penalty and no alpha: "none"; alpha alone: "l2". ``l1_ratio`` belongs to
    "elasticnet" (default 0.5); the others fix it (l1: 1, l2: 0).
    """
    if l2 is not None:
        if penalty not in (None, "l2") or alpha is not None:
            raise ValueError(
                f"{fn}: l2= is a synonym of penalty='l2', alpha=; give l2 or "
                f"penalty/alpha, not both (got l2={l2!r}, penalty={penalty!r}, "
                f"alpha={alpha!r})"
            )
        penalty, alpha = "l2", _number(fn, "l2", l2)
    if penalty is None:
        penalty = "none" if alpha is None else "l2"
    if not isinstance(penalty, str) or penalty not in penalty_names():
        known = ", ".join(repr(n) for n in penalty_names())
        raise ValueError(f"{fn}: penalty must be one of {known}, got {penalty!r}")
    alpha = 0.0 if alpha is None else _number(fn, "alpha", alpha)
    if penalty == "none" and alpha != 0:
        raise ValueError(f"{fn}: penalty 'none' takes no alpha, got alpha={alpha!r}")
    fixed = get_penalty(penalty).l1_ratio
    if fixed is None and penalty != "none":
        ratio = resolve_l1_ratio(penalty, 0.5 if l1_ratio is None else l1_ratio, fn)
    elif l1_ratio is not None:
        raise ValueError(
            f"{fn}: l1_ratio applies to penalty 'elasticnet', not {penalty!r} "
            f"(got l1_ratio={l1_ratio!r})"
        )
    else:
        ratio = 0.0 if fixed is None else float(fixed)
    return PenaltySpec(penalty, alpha, ratio)


def with_factors(
    fn: str, spec: PenaltySpec, penalty_factor: Any, names: tuple[str, ...]
) -> PenaltySpec:
    """``spec`` with per-feature factors: a (d,) array or a mapping name -> factor
    (features not named keep 1). Finite and >= 0."""
    if penalty_factor is None:
        return spec
    d = len(names)
    if isinstance(penalty_factor, Mapping):
        factors = np.ones(d)
        index = {n: j for j, n in enumerate(names)}
        for name, value in penalty_factor.items():
            if name not in index:
                raise ValueError(
                    f"{fn}: penalty_factor names column {name!r}, which is not a "
                    f"feature (features: {', '.join(names)})"
                )
            factors[index[name]] = _number(fn, f"penalty_factor[{name!r}]", value)
    else:
        factors = np.asarray(penalty_factor, dtype=np.float64)
        if factors.shape != (d,):
            raise ValueError(
                f"{fn}: penalty_factor must have shape ({d},) (one per feature), got "
                f"{factors.shape}"
            )
        if not np.all(np.isfinite(factors)) or np.any(factors < 0):
            raise ValueError(
                f"{fn}: penalty_factor must be finite numbers >= 0, got {factors}"
            )
    if spec.name == "none":
        raise ValueError(f"{fn}: penalty_factor needs a penalty, got penalty 'none'")
    return spec._replace(penalty_factor=factors)


def proximal_solver_name(fn: str, solver: str, spec: PenaltySpec) -> str:
    """The proximal solver a penalty needs (newton/auto -> prox_newton), or a
    ValueError when ``solver`` cannot handle it."""
    if solver in ("newton", "auto"):
        return "prox_newton"
    if solver not in PROXIMAL_SOLVERS:
        known = ", ".join(("newton", "auto", *PROXIMAL_SOLVERS))
        what = f"penalty {spec.name!r}" + (
            " with penalty_factor" if get_penalty(spec.name).smooth else ""
        )
        raise ValueError(f"{fn}: {what} needs solver one of {known}, got {solver!r}")
    return solver


class ProximalRun(NamedTuple):
    """What a proximal run gives ``fit``."""

    theta: Any
    status: str
    n_iter: int
    value: float
    violation: float  # the largest KKT violation, standardised features
    kkt: float  # the same on the raw coefficients
    history: np.ndarray
    hessian: Any  # the loss's Hessian a stream's last pass kept (None in memory)
    aux: Any


@jax.jit
def _minimise_compiled(solver: Any, objective: Any, theta: Any) -> Any:
    state = minimise(solver, objective, theta)
    return state, proximal_result(solver, objective, state)


def run_proximal(
    objective: Any, name: str, spec: PenaltySpec, tol: float, max_iter: int,
    to_host: Any, start: Any = None,
) -> ProximalRun:  # fmt: skip
    """Run proximal solver ``name`` from ``start`` (None: 0): compiled in memory, a
    host loop on a stream.
    In memory, unit weights and factors are passed as arrays, so every proximal fit of
    one shape runs one compiled program."""
    dtype = objective.dtype
    factors = jnp.asarray(spec.factors(objective.n_features), dtype)
    solver = make_proximal_solver(
        name, jnp.asarray(tol, dtype), max_iter, jnp.asarray(spec.alpha, dtype),
        jnp.asarray(spec.l1_ratio, dtype), factors,
    )  # fmt: skip
    problem = getattr(objective, "problem", None)
    if problem is not None and problem.sample_weight is None:
        # unit weights and factors as arrays: every proximal fit of one shape runs
        # the same compiled program (the weights cost one multiply a row)
        ones = jnp.ones(problem.targets.shape[:1], dtype)
        objective = dataclasses.replace(
            objective, problem=problem._replace(sample_weight=ones)
        )
    theta0 = jnp.zeros((objective.n_features + 1,), dtype)
    if start is not None:
        theta0 = jnp.asarray(start, dtype)
    if name == "prox_newton" and use_host_loop(objective):  # no compiled solver loop
        run = prox_newton_host(solver, objective, to_host(theta0), spec)
        return ProximalRun(
            run.theta, run.status, run.n_iter, run.value, run.violation, run.kkt,
            run.history, None, run.aux,
        )  # fmt: skip
    if objective.derivatives_with_value:  # a stream: the loop runs on the host
        state = minimise(solver, objective, theta0)
        result = proximal_result(solver, objective, state)
    else:
        state, result = _minimise_compiled(solver, objective, theta0)
    it = jax.tree.map(to_host, state.iterate)
    k = int(it.n_iter)
    hessian = getattr(state, "hessian", None)  # a stream's: of S, the ridge part in
    if hessian is not None:
        hessian = hessian - jnp.diag(solver.problem(objective).weights.mu)
    return ProximalRun(
        it.theta, STATUSES[int(result.status)], k, float(result.value),
        float(np.max(np.abs(it.grad))), float(to_host(result.kkt)),
        np.asarray(it.loss_history)[: k + 1], hessian, getattr(state, "aux", None),
    )  # fmt: skip


def ridge_information(spec: PenaltySpec, scaling: Any, total_weight: float) -> Any:
    """The ridge part's Hessian over theta times sum c (added to the information of a
    penalty-free objective): diag(alpha (1 - r) f_j / s_j^2, 0 for b) sum c."""
    s = np.asarray(scaling.scale, np.float64)
    mu = spec.alpha * (1 - spec.l1_ratio) * spec.factors(len(s)) / np.square(s)
    return np.diag(np.r_[mu, 0.0]) * total_weight
