"""Content-addressed run store: `<cache_dir>/runs/<run_id>/` holds a run's checkpoint and finished record.

Because the key is the hash of the resolved config, a relaunched sweep finds its finished runs (and the
checkpoints of interrupted ones) even when Hydra gives it a new output directory. A lock per run id
keeps two identical jobs from training at once.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from rgp_bench.fileio import file_lock
from rgp_bench.record import RESULTS_FILE, write_json_atomic

CHECKPOINT_FILE = "checkpoint.pt"


class RunStore:
    """Finished records and in-progress checkpoints, keyed by run id."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, run_id: str) -> Path:
        return self.root / run_id

    def checkpoint(self, run_id: str) -> Path:
        """Where the run's epoch checkpoint lives (it survives relaunches into new sweep dirs)."""
        return self._dir(run_id) / CHECKPOINT_FILE

    def completed(self, run_id: str) -> dict[str, Any] | None:
        """The finished record of `run_id`, or None if it never completed (or its record is unreadable)."""
        path = self._dir(run_id) / RESULTS_FILE
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("status") == "complete" else None

    def save(self, run_id: str, record: dict[str, Any]) -> None:
        """Store the finished record (atomically) and drop the checkpoint."""
        write_json_atomic(self._dir(run_id) / RESULTS_FILE, record)
        self.checkpoint(run_id).unlink(missing_ok=True)

    def lock(self, run_id: str) -> contextlib.AbstractContextManager[None]:
        """Hold the run's lock; a second job with the same id waits here, then finds the run complete."""
        return file_lock(self._dir(run_id) / ".lock")
