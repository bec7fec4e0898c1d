"""What every command's parser shares: the usage error and the argument types.

A user mistake raises :class:`UsageError`; :func:`jaxlogloss.cli.main.main` prints it
as one line on stderr and exits 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

PROG = "jaxlogloss"


class UsageError(Exception):
    """A user mistake: printed as one line on stderr, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def int_at_least(low: int) -> Callable[[str], int]:
    """An argument type: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {low}, got {value}"
            )
        return value

    return parse


def nonnegative_float(text: str) -> float:
    """An argument type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """An argument type: a finite number > 0."""
    value = nonnegative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def command_error(command: str, message: str) -> UsageError:
    """The usage error ``jaxlogloss COMMAND: error: MESSAGE``."""
    return UsageError(f"{PROG} {command}: error: {message}")
