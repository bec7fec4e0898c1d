"""The one registry of claims: ``@claim("S3")`` on a check adds it under its id.

A check takes the run's :class:`~jaxlogloss.experiments.types.Context` and returns a
:class:`~jaxlogloss.experiments.types.ClaimResult`. The config's valid ``claims`` ids,
:data:`jaxlogloss.experiments.config.CLAIM_IDS` and the runner all read this registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from jaxlogloss.experiments.types import ClaimResult, Context

Check = Callable[[Context], ClaimResult]

CLAIMS: dict[str, Check] = {}


def claim(claim_id: str) -> Callable[[Check], Check]:
    """Register the decorated check as claim ``claim_id`` (an id is registered once)."""

    def register(check: Check) -> Check:
        if claim_id in CLAIMS:
            raise ValueError(f"claim {claim_id!r} is already registered")
        CLAIMS[claim_id] = check
        return check

    return register


def _order(claim_id: str) -> tuple[str, int]:
    """Sort key of an id: "S13" -> ("S", 13), so ids sort by number, not as text."""
    m = re.fullmatch(r"(\D*)(\d+)", claim_id)
    return (claim_id, 0) if m is None else (m[1], int(m[2]))


def claim_ids() -> tuple[str, ...]:
    """The registered claim ids in order (S1, S2, ..., S13)."""
    return tuple(sorted(CLAIMS, key=_order))
