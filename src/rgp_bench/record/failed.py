"""What a listing of runs needs from a file that holds no complete record: a failed run's `error.json`, or the
names of a run whose `results.json` cannot be read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunName:
    """The fields that name a run, as far as a file states them (None: not stated, or not of the right type)."""

    run_id: str | None = None
    method: str | None = None
    dataset: str | None = None
    model: str | None = None
    ratio: float | None = None
    seed: int | None = None
    regime: str | None = None
    sanity: str | None = None

    @classmethod
    def of(cls, data: object) -> RunName:
        """The names in a parsed record or error file; never raises (a value of the wrong type is unknown)."""
        if not isinstance(data, dict):
            return cls()
        return cls(run_id=_text(data.get("run_id")), method=_text(data.get("method")),
                   dataset=_text(data.get("dataset")), model=_text(data.get("model")),
                   ratio=_number(data.get("ratio")), seed=_integer(data.get("seed")),
                   regime=_text(data.get("regime")), sanity=_text(data.get("sanity")))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class ErrorRecord:
    """A failed run's `error.json`: what names the run, when it failed and the error (empty when none is given)."""

    name: RunName
    error: str
    created: str | None = None
