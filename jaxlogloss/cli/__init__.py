"""The jaxlogloss command: ``main`` parses and dispatches (:mod:`jaxlogloss.cli.main`);
one module per command (gradcheck, fit, run, bench, launch)."""

from jaxlogloss.cli.main import main as main
