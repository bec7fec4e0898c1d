"""Solvers written once against an objective: Newton, L-BFGS, first-order, line search."""

from jaxlogloss.solvers.base import Status as Status
from jaxlogloss.solvers.base import minimise as minimise
from jaxlogloss.solvers.lbfgs import LBFGS as LBFGS
from jaxlogloss.solvers.newton import Newton as Newton
from jaxlogloss.solvers.registry import register_solver as register_solver
