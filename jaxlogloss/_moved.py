"""Old module paths of the flat 0.1 layout, kept working for this release.

``import jaxlogloss.newton`` (and every other module that moved into a subpackage)
still works: a meta-path finder hands back the module at its new home and issues a
``DeprecationWarning`` naming it. The table below is the one place that lists the moves.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED_MODULES = {
    "closed_form": "jaxlogloss.model.closed_form",
    "objective": "jaxlogloss.model.objective",
    "verification": "jaxlogloss.model.verification",
    "scaling": "jaxlogloss.model.scaling",
    "design": "jaxlogloss.data.design",
    "stream": "jaxlogloss.data.stream",
    "datasets": "jaxlogloss.data.datasets",
    "convergence": "jaxlogloss.solvers.base",
    "newton": "jaxlogloss.solvers.newton",
    "lbfgs": "jaxlogloss.solvers.lbfgs",
    "optimizers": "jaxlogloss.solvers.first_order",
    "inference": "jaxlogloss.fitting.inference",
    "training": "jaxlogloss.fitting.train",
    "sweeps": "jaxlogloss.fitting.sweeps",
    "streaming": "jaxlogloss.fitting.fit",
    "checkpoint": "jaxlogloss.fitting.checkpoint",
    "writers": "jaxlogloss.fitting.writers",
    "distributed": "jaxlogloss.parallel.mesh",
    "config": "jaxlogloss.experiments.config",
    "experiment": "jaxlogloss.experiments.runner",
    "claims": "jaxlogloss.experiments.claims",
    "report": "jaxlogloss.experiments.report",
    "figures": "jaxlogloss.experiments.figures",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.target}; import it from there "
            "(the old path goes away in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module is already executed."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds ``jaxlogloss.<old name>`` at its new path."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != "jaxlogloss" or name not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(MOVED_MODULES[name]))


def install() -> None:
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
