"""Writing run records, atomically: `results.json` (complete) and `error.json` (failed). Reading: record.read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rgp_bench.core.fileio import write_json_atomic
from rgp_bench.record.provenance import now_iso
from rgp_bench.record.read import COMPLETE, ERROR_FILE, FAILED, RESULTS_FILE, read_record
from rgp_bench.record.schema import SCHEMA_VERSION, RunRecord

__all__ = ["ERROR_FILE", "RESULTS_FILE", "read_record", "stored_form", "write_error", "write_results"]


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

