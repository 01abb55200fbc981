"""Writing and reading run records: `results.json` (complete) and `error.json` (failed), both atomic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rgp_bench.core.fileio import write_json_atomic
from rgp_bench.record.provenance import now_iso
from rgp_bench.record.schema import SCHEMA_VERSION, RecordError, RunRecord

RESULTS_FILE = "results.json"
ERROR_FILE = "error.json"
COMPLETE, FAILED = "complete", "failed"


def stored_form(record: RunRecord | dict[str, Any]) -> dict[str, Any]:
    """The record as it is stored: schema version and status first, then the record's own fields."""
    body = record.to_dict() if isinstance(record, RunRecord) else record
    body = {k: v for k, v in body.items() if k not in ("schema_version", "status")}
    return {"schema_version": SCHEMA_VERSION, "status": COMPLETE, **body}


def write_results(out_dir: Path, record: RunRecord | dict[str, Any]) -> Path:
    """Write the completed run's record; its presence means the run is complete (an earlier error.json goes)."""
    path = out_dir / RESULTS_FILE
    write_json_atomic(path, stored_form(record))
    (out_dir / ERROR_FILE).unlink(missing_ok=True)
    return path


def write_error(out_dir: Path, identity: dict[str, Any], error: str) -> Path:
    """Write `error.json` for a failed run, so sweeps and reports list it instead of dropping it."""
    path = out_dir / ERROR_FILE
    write_json_atomic(path, {"schema_version": SCHEMA_VERSION, "status": FAILED, "created": now_iso(),
                             **identity, "error": error})
    return path


def read_record(path: Path) -> tuple[RunRecord, dict[str, Any]]:
    """A stored complete record, typed and as stored; RecordError when it is unreadable, failed or incomplete."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecordError(f"unreadable {path.name}: {exc}") from None
    if not isinstance(data, dict) or data.get("status") != COMPLETE:
        raise RecordError(f"{path.name} is not a complete record")
    return RunRecord.from_dict(data), data
