"""Fresh-process runs for the benchmarks that time a first call or a peak (imported by
``compile_time.py`` and ``fit_memory.py``, which run from this folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_child(script: str, path: Path, args: list[str]) -> dict[str, Any]:
    """``python script --child ARGS`` with ``path`` (a checkout) on PYTHONPATH and the
    persistent XLA cache off; the JSON object on its last line of output."""
    env = dict(os.environ, JAXLOGLOSS_CACHE_DIR="off", PYTHONPATH=str(path))
    cmd = [sys.executable, script, "--child", *args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 and not (lines and lines[-1].startswith("{")):
        raise RuntimeError(f"child failed ({path}, {args}):\n{out.stderr[-3000:]}")
    # a child that printed its result and then died at exit (an abort at interpreter
    # shutdown) still measured: its exit status is kept for the caller to report
    return dict(json.loads(lines[-1]), exit_status=out.returncode)
