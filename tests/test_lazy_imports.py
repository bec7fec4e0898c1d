"""``import jaxlogloss`` stays light: pyarrow, matplotlib, rich and the peer libraries
load only when a function that needs them is called."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("matplotlib", "rich", "pyarrow", "sklearn", "statsmodels", "torch")


def _loaded(code: str) -> list[str]:
    script = (
        f"import sys\n{code}\nimport json\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
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
