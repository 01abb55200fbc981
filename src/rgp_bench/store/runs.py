"""Content-addressed run store: `<cache_dir>/runs/<run_id>/` holds a run's checkpoint and finished record.

Because the key is the hash of the resolved config, a relaunched sweep finds its finished runs (and the
checkpoints of interrupted ones) even when Hydra gives it a new output directory. A lock per run id
keeps two identical jobs from training at once.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rgp_bench.core.fileio import file_lock, link_or_copy, write_json_atomic
from rgp_bench.record.io import RESULTS_FILE, read_record, stored_form
from rgp_bench.record.schema import RecordError, RunRecord

CHECKPOINT_FILE = "checkpoint.pt"
log = logging.getLogger(__name__)


class RunStore:
    """Finished records and in-progress checkpoints, keyed by run id."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, run_id: str) -> Path:
        return self.root / run_id

    def checkpoint(self, run_id: str) -> Path:
        """Where the run's epoch checkpoint lives (it survives relaunches into new sweep dirs)."""
        return self._dir(run_id) / CHECKPOINT_FILE

    def completed(self, run_id: str) -> tuple[RunRecord, dict[str, Any]] | None:
        """The finished record of `run_id` (typed, and as stored), or None if there is no complete record.

        A stored file that is not a complete record of this schema is a miss: the run is done again.
        """
        path = self._dir(run_id) / RESULTS_FILE
        if not path.is_file():
            return None
        try:
            return read_record(path)
        except RecordError as exc:
            log.warning("stored record %s is not usable (%s); the run is done again", path, exc)
            return None

    def save(self, run_id: str, record: RunRecord, artifacts: Sequence[Path] = ()) -> None:
        """Store the finished record (atomically) with the run's artefact files, and drop the checkpoint."""
        for path in artifacts:
            link_or_copy(path, self._dir(run_id) / path.name)
        write_json_atomic(self._dir(run_id) / RESULTS_FILE, stored_form(record))
        self.checkpoint(run_id).unlink(missing_ok=True)
        shutil.rmtree(self.method_state(run_id), ignore_errors=True)

    def method_state(self, run_id: str) -> Path:
        """A directory private to the run's method (e.g. a search's checkpoint), dropped once the run is stored."""
        return self._dir(run_id) / "method"

    def copy_artifacts(self, run_id: str, names: Sequence[str], out_dir: Path) -> None:
        """Copy the stored artefacts of a finished run (those that exist) into `out_dir`."""
        for name in names:
            if (self._dir(run_id) / name).is_file():
                link_or_copy(self._dir(run_id) / name, out_dir / name)

    def lock(self, run_id: str) -> contextlib.AbstractContextManager[None]:
        """Hold the run's lock; a second job with the same id waits here, then finds the run complete."""
        return file_lock(self._dir(run_id) / ".lock")
