"""The package's shape: every public name and old module path still works, and the
layout keeps its rules (no import circle, modules under 500 lines, no private name
imported across subpackages, each subpackage with a one-line purpose)."""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from pathlib import Path

import pytest

import jaxlogloss as jl
from jaxlogloss._moved import MOVED_MODULES

ROOT = Path(jl.__file__).parent

# the public API of 0.1 (jaxlogloss/__init__.py before the layout moved)
PUBLIC_0_1 = """closed_form_gradient closed_form_hessian flatten_params log_loss_gradient
log_loss_hessian mse_gradient mse_hessian softmax_gradient softmax_hessian SolverResult
DataError TabularData read_table FeatureMajor feature_major data_mesh FitResult fit
log_loss log_loss_from_logits mse_loss sigmoid softmax_cross_entropy accuracy
brier_score evaluate expected_calibration_error reliability_curve roc_auc LinearParams
init_params logits predict predict_proba LOSSES linear_loss objective make_optimizer
enable_x64 open_stream fit_stream SweepResult sweep TrainResult train GradcheckReport
gradcheck""".split()

# names that users imported from the flat modules of 0.1 (README, tests, notebooks)
OLD_PATHS = {
    "datasets": ["jacket_cardigan", "write_jacket_cardigan_csv", "load_builtin"],
    "training": ["train", "TrainResult", "chunk"],
    "sweeps": ["sweep", "SweepResult"],
    "stream": ["open_stream", "TableStream", "Batch"],
    "streaming": ["fit_stream"],
    "design": ["FeatureMajor", "feature_major", "row_major"],
    "objective": ["objective", "linear_loss", "Problem"],
    "convergence": ["STATUSES", "SolverResult", "DEFAULT_TOL"],
    "config": ["CLAIM_IDS", "load"],
    "optimizers": ["OPTIMIZERS", "make_optimizer"],
    "scaling": ["feature_scaling", "to_raw", "to_standardized"],
    "checkpoint": ["save", "load"],
    "writers": ["JsonlWriter"],
    "distributed": ["data_mesh", "is_writer"],
    "closed_form": ["closed_form_gradient", "flatten_params"],
    "verification": ["gradcheck"],
    "inference": ["coefficient_inference", "Inference"],
}


def test_public_names_of_0_1_are_all_there():
    missing = [name for name in PUBLIC_0_1 if not hasattr(jl, name)]
    assert not missing
    assert set(PUBLIC_0_1) <= set(jl.__all__)
    assert all(hasattr(jl, name) for name in jl.__all__)


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_old_module_paths_import_with_a_deprecation_warning(old):
    name = f"jaxlogloss.{old}"
    sys.modules.pop(name, None)
    with pytest.warns(DeprecationWarning, match=f"{name} moved to"):
        module = importlib.import_module(name)
    assert module is importlib.import_module(MOVED_MODULES[old])
    for attr in OLD_PATHS.get(old, []):
        assert hasattr(module, attr), f"{name}.{attr}"


def test_old_from_imports_still_work():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from jaxlogloss.datasets import jacket_cardigan  # noqa: F401
        from jaxlogloss.training import train  # noqa: F401
    from jaxlogloss.data import read_table  # the packages that kept their names
    from jaxlogloss.model import LinearParams  # noqa: F401

    assert read_table is jl.read_table


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(target module, imported names) of every import, function-level ones included."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return found


def test_layout_rules_hold():
    modules = _modules()
    faces = {m for m, p in modules.items() if p.name == "__init__.py"}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    private = []
    for name, path in modules.items():
        for target, names in _imports(name, path):
            for t in [target, *(f"{target}.{n}" for n in names)]:
                if t in modules and t != name and t not in faces:
                    graph[name].add(t)
            own, other = name.split(".")[1:2], target.split(".")[1:2]
            for n in names:
                if n.startswith("_") and not n.startswith("__") and own != other:
                    if f"{target}.{n}" not in modules:
                        private.append(f"{name} imports {target}.{n}")
    assert not private
    sizes = {m: len(p.read_text().splitlines()) for m, p in modules.items()}
    assert max(sizes.values()) <= 500, max(sizes.items(), key=lambda kv: kv[1])
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            assert state.get(nxt) != 1, " -> ".join([*trail, node, nxt])
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
    packages = [p for p in faces if p != "jaxlogloss"]
    assert len(packages) >= 8
    for package in packages:
        assert importlib.import_module(package).__doc__, (
            f"{package} has no purpose line"
        )
