"""Solvers written once against an objective: Newton, L-BFGS, first-order, line search."""
