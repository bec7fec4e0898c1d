"""``import jaxlogloss`` stays light: pyarrow, matplotlib, rich and the peer libraries
load only when a function that needs them is called."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("matplotlib", "rich", "pyarrow", "sklearn", "statsmodels", "torch")


def _loaded(code: str, modules: tuple[str, ...] = HEAVY) -> list[str]:
    script = (
        f"import sys\n{code}\nimport json\n"
        f"print(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_jaxlogloss_imports_no_heavy_module():
    assert _loaded("import jaxlogloss") == []


def test_the_cli_parser_imports_no_heavy_module():
    assert _loaded("import jaxlogloss.cli.main") == []


def test_lazy_names_load_on_first_use():
    assert _loaded(
        "import jaxlogloss as jl\n"
        "from jaxlogloss import read_table, DataError\n"
        "assert read_table is jl.read_table and jl.open_stream and jl.TabularData\n"
        "assert 'read_table' in dir(jl)"
    ) == ["pyarrow"]


# optax and scipy.linalg (~0.1 s and ~0.2 s of a CLI process) load only for what needs
# them: a first-order optimizer, an L1 fit's LAPACK call
SOLVER_LIBRARIES = ("optax", "scipy.linalg")


def test_a_newton_fit_imports_neither_optax_nor_scipy_linalg():
    fit = (
        "import numpy as np, jaxlogloss as jl\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((300, 3))\n"
        "y = (X[:, 0] + rng.standard_normal(300) > 0).astype(float)\n"
        "r = jl.fit(X, y, solver='newton')\n"
        "assert r.status == 'converged', r.status"
    )
    assert _loaded(fit, SOLVER_LIBRARIES) == []


def test_solver_libraries_load_on_first_use():
    code = (
        "import numpy as np, jaxlogloss as jl\n"
        "from jaxlogloss.solvers.first_order import OPTIMIZERS\n"
        "assert list(OPTIMIZERS)[:2] == ['sgd', 'adam']\n"
        "import sys; assert 'optax' not in sys.modules\n"
        "assert OPTIMIZERS['adam'] is sys.modules['optax'].adam\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((300, 3))\n"
        "y = (X[:, 0] + rng.standard_normal(300) > 0).astype(float)\n"
        "jl.fit(X, y, penalty='l1', alpha=0.01)"
    )
    assert _loaded(code, SOLVER_LIBRARIES) == ["optax", "scipy.linalg"]
