"""User-facing errors: one clear line, a non-zero exit, never a traceback."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import SupportsIndex, cast


class UserError(Exception):
    """A mistake in the user's input or environment. Its message is a single line shown as is."""

    exit_code = 2


class RunFailed(UserError):
    """A run that cannot give a result (e.g. training diverged): recorded as failed, reported in one line."""

    exit_code = 1


def choices_error(what: str, value: object, valid: Iterable[object]) -> UserError:
    """Build the standard 'unknown X' error that names the bad value and lists the valid choices."""
    options = ", ".join(str(v) for v in sorted(valid, key=str))
    return UserError(f"unknown {what} {value!r}; valid choices: {options}")


def positive_int(what: str, value: object) -> int:
    """`value` as an int >= 1 (ints and numpy ints only, not bools, floats or strings), else a UserError."""
    try:
        number = operator.index(cast(SupportsIndex, value))  # anything else raises the TypeError handled here
    except TypeError:
        number = 0
    if isinstance(value, bool) or number < 1:
        raise UserError(f"{what} must be an integer >= 1, got {value!r}")
    return number
