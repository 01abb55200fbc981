"""The one reader of stored records: `results.json` into a typed `RunRecord` (older schemas upgraded), `error.json`
into an `ErrorRecord`.

A file that cannot be read raises `RecordError` with one line naming the file and the field, e.g.
"results.json: accuracy.best_val is missing (schema 3)".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rgp_bench.record.failed import ErrorRecord, RunName
from rgp_bench.record.schema import SCHEMA_VERSION, RunRecord
from rgp_bench.record.typed import RecordError, build
from rgp_bench.record.upgrade import OLDEST_VERSION, upgrade

RESULTS_FILE = "results.json"
ERROR_FILE = "error.json"
MULTIRUN_FILE = "multirun.yaml"  # a sweep folder's plan (Hydra)
EARLIER_PLAN = "multirun.{}.yaml"  # the plan of an earlier, different sweep into the same folder, by its time
COMPLETE, FAILED = "complete", "failed"


@dataclass(frozen=True)
class StoredRecord:
    """A complete record read from its file."""

    record: RunRecord
    # The file's contents as stored (an older schema's layout stays as it was).
    stored: dict[str, Any]
    # The schema the file was written in; `record` is in the current one.
    version: int


def read_results(path: Path) -> StoredRecord:
    """The complete run record in `path` (a results.json of any schema from OLDEST_VERSION on), in the current
    schema; RecordError when it is unreadable, not a complete record, or does not fit its schema."""
    data = _load(path)
    version = _version(path, data)
    status = data.get("status")
    if status is None:
        raise RecordError(f"{path.name}: status is missing")
    if status != COMPLETE:
        error = data.get("error")
        why = str(error).strip().splitlines()[:1] if error else []
        raise RecordError(f"{path.name}: status is {status!r}, not {COMPLETE!r}" + "".join(f": {w}" for w in why))
    try:
        record = build(RunRecord, {k: v for k, v in upgrade(data, version).items()
                                   if k not in ("schema_version", "status")})
    except RecordError as exc:
        raise RecordError(f"{path.name}: {exc} (schema {version})") from None
    return StoredRecord(record, data, version)


def read_record(path: Path) -> tuple[RunRecord, dict[str, Any]]:
    """A complete record of the current schema, typed and as stored (what the run store reuses: a record of an
    older schema is not reused, its run is done again); RecordError otherwise."""
    found = read_results(path)
    if found.version != SCHEMA_VERSION:
        raise RecordError(f"{path.name}: written in schema {found.version}, this code writes {SCHEMA_VERSION}")
    return found.record, found.stored


def read_error(path: Path) -> ErrorRecord:
    """A failed run's error.json; RecordError when it is unreadable or not a JSON object."""
    data = _load(path)
    error = data.get("error")
    return ErrorRecord(name=RunName.of(data), error=error if isinstance(error, str) else "",
                       created=data.get("created") if isinstance(data.get("created"), str) else None)


def read_name(path: Path) -> RunName:
    """Whatever names a run in a record or error file that may not be readable otherwise; never raises."""
    try:
        return RunName.of(_load(path))
    except RecordError:
        return RunName()


def read_created(path: Path) -> str | None:
    """When a record or error file says it was written (its `created` field), or None; never raises."""
    try:
        created = _load(path).get("created")
    except RecordError:
        return None
    return created if isinstance(created, str) else None


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        lines = str(exc).strip().splitlines()
        raise RecordError(f"{path.name}: unreadable ({lines[0] if lines else type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path.name}: not a JSON object")
    return data


def _version(path: Path, data: dict[str, Any]) -> int:
    version = data.get("schema_version")
    if version is None:
        raise RecordError(f"{path.name}: schema_version is missing")
    if isinstance(version, bool) or not isinstance(version, int):
        raise RecordError(f"{path.name}: schema_version is not an integer: {version!r}")
    if version > SCHEMA_VERSION:
        raise RecordError(f"{path.name}: schema_version {version} is newer than this code reads ({SCHEMA_VERSION})")
    if version < OLDEST_VERSION:
        raise RecordError(f"{path.name}: schema_version {version} is older than any this code reads "
                          f"({OLDEST_VERSION} to {SCHEMA_VERSION})")
    return version


def earlier_plans(sweep_dir: Path) -> list[Path]:
    """The plans of earlier, different sweeps kept in `sweep_dir` (rgp_bench.run.relaunch keeps them), oldest first."""
    return sorted(sweep_dir.glob(EARLIER_PLAN.format("*")))
