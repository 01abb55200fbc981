"""Search checkpoints: the whole state of a search after an episode, so a killed search resumes to the same result.

Written atomically (temp file + os.replace, via train.checkpoint) and loaded with weights_only=True; a file
whose fingerprint (method settings, ratio, seed, channel groups) differs from the search at hand, or that
cannot be read, is ignored and the search starts over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from rgp_bench.train.checkpoint import load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 10  # episodes between checkpoints, at least CHECKPOINT_SECONDS apart
CHECKPOINT_SECONDS = 30.0


def fingerprint(**facts: Any) -> str:
    """A stable hash of what determines a search's result (JSON-serialisable facts)."""
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class SearchCheckpoint:
    """One search's checkpoint file under the run's state directory (no file at all without one)."""

    def __init__(self, state_dir: Path | None, name: str, key: str) -> None:
        self.path = None if state_dir is None else Path(state_dir) / f"{name}_search.pt"
        self.key = key
        self._saved = time.monotonic()

    def due(self, episodes_done: int) -> bool:
        """Whether to checkpoint after `episodes_done` episodes: every CHECKPOINT_EVERY episodes, but not within
        CHECKPOINT_SECONDS of the last save (a search of thousands of short episodes would spend its time saving)."""
        return (self.path is not None and episodes_done % CHECKPOINT_EVERY == 0
                and time.monotonic() - self._saved >= CHECKPOINT_SECONDS)

    def save(self, state: dict[str, Any]) -> None:
        if self.path is not None:
            save_checkpoint(self.path, {"key": self.key, **state})
            self._saved = time.monotonic()

    def load(self) -> dict[str, Any] | None:
        """The saved state of this very search, or None."""
        if self.path is None:
            return None
        state = load_checkpoint(self.path)
        if state is None:
            return None
        if state.get("key") != self.key:
            log.warning("ignoring search checkpoint %s: it belongs to another search", self.path)
            return None
        log.info("resuming the search from %s (%d episodes done)", self.path, state["episode"])
        return state
