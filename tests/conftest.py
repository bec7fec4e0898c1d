"""Shared fixtures: float64 switched on only where asked, fresh but replayable data."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import settings

from jaxlogloss.precision import enable_x64, x64_enabled

# The CLI switches JAX's persistent compilation cache on for its process (a
# process-wide setting): tests that call its main() in-process must not leave it on
# for every later test. A test of the cache sets the variable itself.
os.environ.setdefault("JAXLOGLOSS_CACHE_DIR", "off")

# Compiling is most of the suite's time (the programs run on tiny arrays), so the
# tests ask XLA for a cheaper compile: no LLVM optimisation of the generated CPU code
# and XLA's classic element-wise emitter. The programs are the same (XLA's own passes,
# fusion and simplification, still run) and compute the same IEEE arithmetic (exp and
# log to within an ulp of the default build's), so every numeric check checks what it
# checked; only XLA's code generation is quicker. Set before any test makes JAX's
# backend; child processes inherit it. JAXLOGLOSS_TEST_FAST_COMPILE=0: XLA's defaults.
FAST_COMPILE_FLAGS = (
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
    "--xla_cpu_use_fusion_emitters=false",  # a newer XLA field: probed separately
)


def _xla_accepts(flags: str) -> bool:
    """Whether this jaxlib starts with ``flags`` (an unknown flag aborts XLA)."""
    env = dict(os.environ, XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} {flags}")
    probe = [sys.executable, "-c", "import jax; jax.devices()"]
    try:
        return (
            subprocess.run(probe, env=env, capture_output=True, timeout=120).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


def _fast_compile() -> None:
    """Add the accepted flags to XLA_FLAGS, once per run (xdist's workers inherit the
    controller's environment, so only the first process probes)."""
    if os.environ.get("JAXLOGLOSS_TEST_FAST_COMPILE", "1") == "0":
        return
    if FAST_COMPILE_FLAGS[0] in os.environ.get("XLA_FLAGS", ""):
        return  # set by the parent process (or by hand)
    for count in (2, 1):
        flags = " ".join(FAST_COMPILE_FLAGS[:count])
        if _xla_accepts(flags):
            os.environ["XLA_FLAGS"] = (
                f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
            )
            return
    os.environ["JAXLOGLOSS_TEST_FAST_COMPILE"] = "0"  # XLA's defaults: nothing accepted


_fast_compile()


def child_env(devices: int | None = None) -> dict[str, str]:
    """The environment for a child process: this one's (the compile flags above, the
    disk cache off), with ``devices`` CPU devices if given."""
    env = dict(os.environ, JAXLOGLOSS_CACHE_DIR="off")
    if devices is not None:
        flags = [
            flag
            for flag in env.get("XLA_FLAGS", "").split()
            if not flag.startswith("--xla_force_host_platform_device_count")
        ]
        flags.append(f"--xla_force_host_platform_device_count={devices}")
        env["XLA_FLAGS"] = " ".join(flags)
    return env


# jit compiles make the first example slow: no deadline; fewer examples on CI.
settings.register_profile("default", deadline=None, max_examples=40)
settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# Fresh random inputs every session, replayable: JAXLOGLOSS_TEST_SEED=<seed> pytest.
# CI (CI=true) runs a fixed draw, like hypothesis' derandomized profile, so a landing
# run is reproducible; local runs keep drawing fresh inputs.
_DEFAULT_SEED = "20261125" if os.environ.get("CI") else str(secrets.randbelow(2**31))
SEED = int(os.environ.get("JAXLOGLOSS_TEST_SEED", _DEFAULT_SEED))
# the workers pytest-xdist starts inherit the draw: every process, and the header's
# replay line, use one seed (each drew its own before)
os.environ.setdefault("JAXLOGLOSS_TEST_SEED", str(SEED))


def pytest_report_header(config: pytest.Config) -> str:
    return f"jaxlogloss test seed: {SEED} (replay with JAXLOGLOSS_TEST_SEED={SEED})"


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A NumPy generator seeded from the session seed and the test's name."""
    return np.random.default_rng([SEED, *request.node.nodeid.encode()])


@pytest.fixture
def x64():
    """Switch JAX's float64 mode on for one test and restore it afterwards."""
    with enable_x64():
        yield


@pytest.fixture(autouse=True)
def _x64_does_not_leak():
    before = x64_enabled()
    yield
    assert x64_enabled() == before, "a test left jax_enable_x64 changed"


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest):
    """Each test twice: float32, and float64 with x64 switched on for the test only."""
    if request.param == "float64":
        with enable_x64():
            yield np.float64
    else:
        yield np.float32


def logistic_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from a logistic model on features of unequal scales and offsets (the
    host-loop tests' data: deterministic per seed)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.normal(0, 2, d)
    z = X @ rng.normal(0, 0.5, d) - 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    return X, y


def rtol_for(dtype) -> float:
    """Relative tolerance against a float64 reference for results in ``dtype``."""
    return {np.float32: 2e-6, np.float64: 1e-12}[np.dtype(dtype).type]


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop every compiled XLA program after each test module.

    Each loaded CPU executable holds a few memory mappings; a whole-suite run compiles
    enough programs to reach the kernel's limit (vm.max_map_count, 65530), after which
    XLA crashes inside compilation. Programs are shared within a module (module-scoped
    fixtures), rarely across modules.
    """
    yield
    import jax

    jax.clear_caches()


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Files holding a test marked ``slow`` run first, the longest of them first.

    The suite runs on 2 workers, one whole file per worker at a time (``--dist
    loadfile --no-loadscope-reorder`` keeps this order): the long files start first
    and the short ones fill in behind them, so both workers end together. A file's
    rank: its ``slow`` marks' ``seconds=`` (a measured estimate) added up.
    """
    weight: dict[str, float] = {}
    for item in items:
        mark = item.get_closest_marker("slow")
        if mark is not None:
            key = str(item.path)
            weight[key] = weight.get(key, 0.0) + float(mark.kwargs.get("seconds", 1.0))
    items.sort(key=lambda item: -weight.get(str(item.path), 0.0))
