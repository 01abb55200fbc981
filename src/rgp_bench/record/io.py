"""Writing run records, atomically: `results.json` (complete) and `error.json` (failed). Reading: record.read."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from rgp_bench.core.fileio import write_json_atomic
from rgp_bench.record.provenance import now_iso
from rgp_bench.record.read import COMPLETE, ERROR_FILE, FAILED, RESULTS_FILE, read_created, read_record
from rgp_bench.record.schema import SCHEMA_VERSION, RunRecord

__all__ = ["ERROR_FILE", "RESULTS_FILE", "read_record", "set_aside", "set_aside_attempt", "stored_form",
           "write_error", "write_results"]


def stored_form(record: RunRecord | dict[str, Any]) -> dict[str, Any]:
    """The record as it is stored: schema version and status first, then the record's own fields."""
    body = record.to_dict() if isinstance(record, RunRecord) else record
    body = {k: v for k, v in body.items() if k not in ("schema_version", "status")}
    return {"schema_version": SCHEMA_VERSION, "status": COMPLETE, **body}


def write_results(out_dir: Path, record: RunRecord | dict[str, Any]) -> Path:
    """Write the completed run's record; its presence means the run is complete (an earlier attempt's error.json is
    set aside, not deleted: see `set_aside`)."""
    path = out_dir / RESULTS_FILE
    write_json_atomic(path, stored_form(record))
    if (out_dir / ERROR_FILE).is_file():
        set_aside(out_dir / ERROR_FILE)
    return path


def write_error(out_dir: Path, identity: dict[str, Any], error: str) -> Path:
    """Write `error.json` for a failed run, so sweeps and reports list it instead of dropping it (a results.json in
    `out_dir` is then another attempt's, or one the failure kept from being stored: it is set aside)."""
    if (out_dir / RESULTS_FILE).is_file():
        set_aside(out_dir / RESULTS_FILE)
    path = out_dir / ERROR_FILE
    write_json_atomic(path, {"schema_version": SCHEMA_VERSION, "status": FAILED, "created": now_iso(),
                             **identity, "error": error})
    return path



def set_aside_attempt(out_dir: Path, keep: dict[str, Any] | None = None) -> list[Path]:
    """Before a new attempt writes into `out_dir`: rename the record of an earlier attempt (results.json,
    error.json) to `<name>.<its time>.json`, so the directory only ever holds one attempt's record and no earlier
    one is lost. A results.json whose content is `keep` (the record the attempt reuses) stays. Returns the new
    paths."""
    moved = []
    for name in (RESULTS_FILE, ERROR_FILE):
        path = out_dir / name
        if path.is_file() and not (keep is not None and name == RESULTS_FILE and _holds(path, keep)):
            moved.append(set_aside(path))
    return moved


def _holds(path: Path, content: dict[str, Any]) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(content))
    except (OSError, ValueError):
        return False


def set_aside(path: Path, tag: str = "") -> Path:
    """Rename `path` (results.json, error.json) to `<stem>.[<tag>-]<time>.json` beside it, never replacing a file;
    the time is when the file says it was written (`created`), else its modification time."""
    stamp = _written_at(path).strftime("%Y%m%dT%H%M%S")
    base = f"{path.stem}.{tag + '-' if tag else ''}{stamp}"
    target = path.with_name(f"{base}{path.suffix}")
    count = 1
    while target.exists():
        count += 1
        target = path.with_name(f"{base}-{count}{path.suffix}")
    os.replace(path, target)
    return target


def _written_at(path: Path) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(read_created(path) or "")
    except ValueError:
        return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
