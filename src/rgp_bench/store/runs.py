"""Content-addressed run store: `<cache_dir>/runs/<run_id>/` holds a run's checkpoint and finished record.

Because the key is the hash of the resolved config, a relaunched sweep finds its finished runs (and the
checkpoints of interrupted ones) even when Hydra gives it a new output directory. A lock per run id
keeps two identical jobs from training at once.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rgp_bench.core.fileio import file_lock, link_or_copy, remove_stale_temps, try_file_lock, write_json_atomic
from rgp_bench.record.io import RESULTS_FILE, read_record, set_aside, stored_form
from rgp_bench.record.schema import RecordError, RunRecord

# The fields that name a run: a stored record is this slot's only if each of them is the slot's.
IDENTITY_FIELDS = ("run_id", "method", "dataset", "model", "ratio", "seed", "regime", "sanity")
LOCK_FILE = ".lock"

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

    def completed(self, identity: Mapping[str, Any]) -> tuple[RunRecord, dict[str, Any]] | None:
        """The finished record of the run named by `identity` (typed, and as stored), or None if there is none.

        A stored file that is not a complete record of this schema is a miss: the run is done again. A complete
        record of another run (an identity field differs from the slot's) is a miss too, and is moved aside
        (`results.foreign-<time>.json`), never deleted.
        """
        path = self._dir(identity["run_id"]) / RESULTS_FILE
        if not path.is_file():
            return None
        try:
            record, stored = read_record(path)
        except RecordError as exc:
            log.warning("stored record %s is not usable (%s); the run is done again", path, exc)
            return None
        differs = foreign_fields(record, identity)
        if differs:
            aside = set_aside(path, "foreign")
            log.warning("stored record %s is another run's (%s); moved to %s, the run is done again", path,
                        ", ".join(differs), aside.name)
            return None
        return record, stored

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
        return file_lock(self._dir(run_id) / LOCK_FILE)

    def remove_stale_temps(self, started: float) -> list[Path]:
        """Remove the temp files a killed job left in the store (older than `started`, in a slot no job holds);
        returns those removed."""
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        for slot in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if not any(slot.glob(".*.tmp")) and not any(slot.glob("method/**/.*.tmp")):
                continue
            with try_file_lock(slot / LOCK_FILE) as held:
                if held:
                    removed += remove_stale_temps(slot, started, recursive=True)
        return removed


def foreign_fields(record: RunRecord, identity: Mapping[str, Any]) -> list[str]:
    """The identity fields on which `record` differs from `identity` ('seed: 1 != 0'); empty when it is this run's."""
    return [f"{name}: {getattr(record, name)!r} != {identity[name]!r}" for name in IDENTITY_FIELDS
            if name in identity and getattr(record, name) != identity[name]]
