"""Runs the report could not count: failed, incomplete, missing from their sweep, or duplicated."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["failed", "incomplete", "missing", "duplicate"]
PROBLEM_STATUSES: tuple[Status, ...] = ("failed", "incomplete", "missing", "duplicate")


@dataclass(frozen=True)
class Problem:
    """One run that is not counted, and why."""

    # The job dir (the sweep dir for a missing job).
    path: str
    status: Status
    detail: str
    # 'key=value ...' naming the run, where known.
    run: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count(problems: list[Problem]) -> dict[str, int]:
    """Number of problems per status, in PROBLEM_STATUSES order."""
    return {s: sum(p.status == s for p in problems) for s in PROBLEM_STATUSES}


def first_line(x: object) -> str:
    """The line that says what went wrong: the first of a message, the last of a traceback."""
    lines = [ln.strip() for ln in str(x).strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith("Traceback"):
        return lines[-1]
    return lines[0] if lines else ""
