"""The solver registry: second-order solvers by the name users pass (``solver=``).

Each entry is a dataclass of hyperparameters with ``init(objective, theta)`` and
``step(objective, state)`` (:mod:`jaxlogloss.solvers.base`), built as
``cls(tol, max_iter)``; ``fit``, ``sweep`` and the experiment runner find solvers here.
First-order optimizers are optax's, by name, in :mod:`jaxlogloss.solvers.first_order`.

The proximal solvers (:data:`PROXIMAL_SOLVERS`: ``"prox_newton"``, ``"fista"``) also
take the elastic net they add to a penalty-free objective, so they are built with
:func:`make_proximal_solver`; they handle every penalty (L1 and elastic net only them).
"""

from __future__ import annotations

from typing import Any

from jaxlogloss.solvers.fista import FISTA
from jaxlogloss.solvers.lbfgs import LBFGS
from jaxlogloss.solvers.newton import Newton
from jaxlogloss.solvers.prox_newton import ProxNewton

SOLVER_CLASSES: dict[str, Any] = {"newton": Newton, "lbfgs": LBFGS}
PROXIMAL_SOLVERS: dict[str, Any] = {"prox_newton": ProxNewton, "fista": FISTA}


def register_solver(name: str, cls: Any) -> None:
    """Make ``cls`` (a solver dataclass taking ``(tol, max_iter)``) available by name."""
    if name in SOLVER_CLASSES:
        raise ValueError(f"register_solver: a solver named {name!r} is registered")
    SOLVER_CLASSES[name] = cls


def unregister_solver(name: str) -> None:
    """Remove a solver added with :func:`register_solver` (the built-ins stay)."""
    if name not in ("newton", "lbfgs"):
        SOLVER_CLASSES.pop(name, None)


def make_solver(name: str, tol: Any, max_iter: int) -> Any:
    """The solver ``name`` with its tolerance and iteration budget."""
    if name not in SOLVER_CLASSES:
        known = ", ".join(SOLVER_CLASSES)
        raise ValueError(f"make_solver: solver must be one of {known}, got {name!r}")
    return SOLVER_CLASSES[name](tol, max_iter)


def make_proximal_solver(
    name: str, tol: Any, max_iter: int, alpha: Any, l1_ratio: Any, penalty_factor: Any
) -> Any:
    """The proximal solver ``name`` for the elastic net (alpha, l1_ratio, factors)."""
    if name not in PROXIMAL_SOLVERS:
        known = ", ".join(PROXIMAL_SOLVERS)
        raise ValueError(
            f"make_proximal_solver: solver must be one of {known}, got {name!r}"
        )
    return PROXIMAL_SOLVERS[name](
        tol, max_iter, alpha=alpha, l1_ratio=l1_ratio, penalty_factor=penalty_factor
    )
