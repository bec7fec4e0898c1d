"""Peak resident memory of a fit, as a multiple of the bytes of X.

A child process builds X, then fits it while a thread samples VmRSS every 2 ms:
``peak_over_x_ratio`` = (peak - RSS before X) / |X| (X itself counts 1x),
``fit_extra_over_x_ratio`` = (peak - RSS with X) / |X|.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

MEMORY_CHILD = textwrap.dedent(
    """
    import json, sys, threading, time
    import numpy as np
    import jax.numpy as jnp
    from jaxlogloss.bench.workload import make_data
    from jaxlogloss.fitting import fit

    def rss_mb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024

    jnp.zeros(1).block_until_ready()
    base = rss_mb()
    X, y = make_data(int(sys.argv[1]), int(sys.argv[2]))
    with_x = rss_mb()
    peak, running = [with_x], [True]

    def sample():
        while running[0]:
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        fit(X, y, solver=sys.argv[3], dtype="float32")
    finally:
        running[0] = False
    t.join()
    print(json.dumps({"base": base, "with_x": with_x, "peak": peak[0], "x_bytes": X.nbytes}))
    """
)


def bench_memory(n: int, d: int, solver: str = "lbfgs") -> dict[str, Any]:
    """Peak resident memory of a float32 fit, sampled every 2 ms in a child process."""
    if not os.path.exists("/proc/self/status"):
        return {"notes": ["no /proc: peak memory not measured on this system"]}
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(n), str(d), solver],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    m = json.loads(proc.stdout)
    mb = 2**20
    return {
        "x_bytes": m["x_bytes"],
        "peak_over_x_ratio": (m["peak"] - m["base"]) * mb / m["x_bytes"],
        "fit_extra_over_x_ratio": (m["peak"] - m["with_x"]) * mb / m["x_bytes"],
    }
