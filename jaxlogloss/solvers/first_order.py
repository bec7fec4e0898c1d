"""Optax optimizers and learning-rate schedules by name.

``make_optimizer("adam", learning_rate=1e-2)`` returns an
``optax.GradientTransformationExtraArgs``: every optimizer here is called the same way,
``update(grads, state, params, value=..., grad=..., value_fn=...)``, which L-BFGS needs
for its line search and the others ignore.

Optimizers (:data:`OPTIMIZERS`) and the hyperparameters each accepts:

=========  =========================================================
sgd        learning_rate, momentum (None), nesterov (False)
adam       learning_rate, b1 (0.9), b2 (0.999), eps (1e-8)
adamw      learning_rate, b1, b2, eps, weight_decay (1e-4)
adagrad    learning_rate, initial_accumulator_value (0.1), eps (1e-7)
rmsprop    learning_rate, decay (0.9), eps (1e-8), momentum (None), nesterov
lbfgs      learning_rate (None: the zoom line search picks the step), memory_size (10)
=========  =========================================================

Schedules (:data:`SCHEDULES`): ``constant``, ``cosine`` (decay to ``alpha`` x over
``decay_steps``), ``exponential`` (``decay_rate`` every ``transition_steps``),
``warmup_cosine`` (linear warm-up over ``warmup_steps`` then cosine), ``linear``
(to ``end_value`` over ``transition_steps``). The schedule's peak / initial value is the
optimizer's ``learning_rate``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import jax

if TYPE_CHECKING:
    import optax


class OptaxByName(Mapping[str, Any]):
    """A read-only mapping from names to optax's functions (or to tuples whose first
    entry is one), looked up in optax on access: importing optax takes ~0.1 s, which
    a process that runs no first-order optimizer (a CLI Newton fit) does not pay."""

    def __init__(self, entries: dict[str, str | tuple[Any, ...]]) -> None:
        self._entries = entries

    def __getitem__(self, name: str) -> Any:
        import optax

        entry = self._entries[name]
        if isinstance(entry, str):
            return getattr(optax, entry)
        return (getattr(optax, entry[0]), *entry[1:])

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"OptaxByName({list(self._entries)})"


OPTIMIZERS: Mapping[str, Any] = OptaxByName(
    {name: name for name in ("sgd", "adam", "adamw", "adagrad", "rmsprop", "lbfgs")}
)

SCHEDULES: Mapping[str, tuple[Any, str, tuple[str, ...]]] = OptaxByName(
    {
        # name: (optax function, name of its peak/initial argument, required arguments)
        "constant": ("constant_schedule", "value", ()),
        "cosine": ("cosine_decay_schedule", "init_value", ("decay_steps",)),
        "exponential": (
            "exponential_decay",
            "init_value",
            ("transition_steps", "decay_rate"),
        ),
        "warmup_cosine": (
            "warmup_cosine_decay_schedule",
            "peak_value",
            ("warmup_steps", "decay_steps"),
        ),
        "linear": ("linear_schedule", "init_value", ("end_value", "transition_steps")),
    }
)

DEFAULT_LEARNING_RATE = {
    "sgd": 0.1,
    "adam": 0.01,
    "adamw": 0.01,
    "adagrad": 0.1,
    "rmsprop": 0.01,
    "lbfgs": None,
}


def _options(fn: Any, exclude: tuple[str, ...]) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p not in exclude]


def make_schedule(
    name: str, learning_rate: float, **kwargs: Any
) -> optax.Schedule | float:
    """A learning-rate schedule peaking at ``learning_rate`` (see the module table)."""
    fn = "make_schedule"
    if name not in SCHEDULES:
        raise ValueError(
            f"{fn}: schedule must be one of {', '.join(SCHEDULES)}, got {name!r}"
        )
    schedule, peak_arg, required = SCHEDULES[name]
    missing = [r for r in required if r not in kwargs]
    if missing:
        raise ValueError(
            f"{fn}: schedule {name!r} needs {', '.join(missing)} (given: "
            f"{', '.join(kwargs) or 'nothing'})"
        )
    allowed = _options(schedule, (peak_arg,))
    unknown = [k for k in kwargs if k not in allowed]
    if unknown:
        raise ValueError(
            f"{fn}: schedule {name!r} has no option {unknown[0]!r}; expected one of "
            f"{', '.join(allowed)}"
        )
    if name == "warmup_cosine":
        kwargs.setdefault("init_value", 0.0)
    return schedule(**{peak_arg: learning_rate}, **kwargs)


def make_optimizer(
    name: str,
    learning_rate: float | None = None,
    *,
    schedule: str | None = None,
    schedule_options: dict[str, Any] | None = None,
    **hyperparameters: Any,
) -> optax.GradientTransformationExtraArgs:
    """An optax optimizer by name, with its hyperparameters and optional schedule.

    Args:
      name: one of :data:`OPTIMIZERS`.
      learning_rate: step size (> 0); default per optimizer (:data:`DEFAULT_LEARNING_RATE`);
        for lbfgs ``None`` lets the zoom line search choose.
      schedule: optional schedule name (:data:`SCHEDULES`), peaking at ``learning_rate``.
      schedule_options: the schedule's arguments, e.g. ``{"decay_steps": 1000}``.
      **hyperparameters: the optimizer's own options (module table).

    >>> opt = make_optimizer("sgd", 0.1, momentum=0.9, nesterov=True)
    """
    fn = "make_optimizer"
    if name not in OPTIMIZERS:
        raise ValueError(
            f"{fn}: optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}"
        )
    factory = OPTIMIZERS[name]
    allowed = _options(factory, ("learning_rate",))
    unknown = [k for k in hyperparameters if k not in allowed]
    if unknown:
        raise ValueError(
            f"{fn}: optimizer {name!r} has no option {unknown[0]!r}; expected one of "
            f"{', '.join(allowed)}"
        )
    if learning_rate is None:
        learning_rate = DEFAULT_LEARNING_RATE[name]
    if learning_rate is not None and (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, int | float)
        or not (0 < learning_rate < math.inf)
    ):
        raise ValueError(
            f"{fn}: learning_rate must be a number > 0, got {learning_rate!r}"
        )
    if schedule is not None:
        if learning_rate is None:
            raise ValueError(f"{fn}: a schedule needs a learning_rate for {name!r}")
        rate: Any = make_schedule(schedule, learning_rate, **(schedule_options or {}))
    else:
        rate = learning_rate
    return factory(learning_rate=rate, **hyperparameters)


def first_order_update(
    params: Any, opt_state: Any, fun: Any, optimizer: Any
) -> tuple[Any, Any, Any, Any]:
    """One step of an optax optimizer on ``fun`` at ``params`` -- the first-order
    loop's body, written once (training chunks, sweeps and streams call it).

    Returns (new params, new optimizer state, f(params), grad f(params)).
    """
    import optax

    value, grads = jax.value_and_grad(fun)(params)
    updates, opt_state = optimizer.update(
        grads, opt_state, params, value=value, grad=grads, value_fn=fun
    )
    return optax.apply_updates(params, updates), opt_state, value, grads
