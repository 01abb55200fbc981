"""User-facing errors: one clear line, a non-zero exit, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable


class UserError(Exception):
    """A mistake in the user's input or environment. Its message is a single line shown as is."""

    exit_code = 2


def choices_error(what: str, value: object, valid: Iterable[object]) -> UserError:
    """Build the standard 'unknown X' error that names the bad value and lists the valid choices."""
    options = ", ".join(str(v) for v in sorted(valid, key=str))
    return UserError(f"unknown {what} {value!r}; valid choices: {options}")
