"""``jax.jit`` with XLA's classic CPU emitters: the fits' programs compile fast.

:func:`fast_compile` wraps a function as ``jax.jit`` does, with
:data:`COMPILER_OPTIONS` on a CPU backend (half the compile time of a blocked pass
over X, bit-identical results in ``benchmarks/compile_time.py``'s measurements),
built on first use (importing compiles nothing) and rebuilt without the options
where this XLA does not know them.
"""

from __future__ import annotations

import functools
from typing import Any

import jax

# XLA CPU compile options of fit's programs: the classic (non-MLIR) fusion emitters
# compile a blocked pass over X in about half the time, with the same results
COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}

_REJECTED: list[bool] = []  # set once an XLA rejected COMPILER_OPTIONS


def compiler_options() -> dict[str, Any]:
    """:data:`COMPILER_OPTIONS` on a CPU backend, unless this XLA rejected them (then
    none). No probe program: the first compile that names an unknown option is
    retried without them (:class:`_LazyJit`), which a probe cost ~60 ms of every
    first call to find out."""
    if jax.default_backend() != "cpu" or _REJECTED:
        return {}
    return dict(COMPILER_OPTIONS)


def _rejects_options(err: Exception) -> bool:
    """Whether ``err`` is XLA refusing an option of :data:`COMPILER_OPTIONS`."""
    text = str(err)
    return "No such compile option" in text and any(k in text for k in COMPILER_OPTIONS)


class _LazyJit:
    """``jax.jit(fun, compiler_options=compiler_options())`` built on the first use,
    so that importing the module neither starts a backend nor compiles; where XLA
    refuses the options, rebuilt without them."""

    def __init__(self, fun: Any, jit_kwargs: dict[str, Any]) -> None:
        self._fun, self._kwargs, self._jitted = fun, jit_kwargs, None
        self._options: dict[str, Any] = {}
        functools.update_wrapper(self, fun)

    def _get(self) -> Any:
        if self._jitted is None or (self._options and _REJECTED):
            self._options = compiler_options()
            self._jitted = jax.jit(
                self._fun, compiler_options=self._options, **self._kwargs
            )
        return self._jitted

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._get()(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 -- re-raised unless XLA refused options
            if not (self._options and _rejects_options(err)):
                raise
            _REJECTED.append(True)
            return self._get()(*args, **kwargs)

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        return self._get().lower(*args, **kwargs)


def fast_compile(fun: Any = None, **jit_kwargs: Any) -> Any:
    """``jax.jit`` with :data:`COMPILER_OPTIONS` where XLA has them (usable as a
    decorator)."""
    if fun is None:
        return functools.partial(fast_compile, **jit_kwargs)
    return _LazyJit(fun, jit_kwargs)
