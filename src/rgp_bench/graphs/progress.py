"""Plain progress lines for long graph builds: one line on stderr every few seconds, readable in logs too."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

EVERY_S = 5.0


class Heartbeat:
    """While the ``with`` block runs, print ``<label>: N s elapsed[, T swaps tried][, aspl A]`` every ``every_s``.

    It also stands in for the optimiser's tqdm bar (``update``, ``set_postfix``, ``close``), so the lines carry the
    swap count once the search starts; the phases before it (the start graph, the metrics) still get a line. A block
    that lasted longer than ``every_s`` always ends with a ``done`` line, so a slow build is never silent.
    """

    def __init__(self, label: str, every_s: float = EVERY_S, stream: TextIO | None = None) -> None:
        self.label, self.every_s = label, every_s
        self._stream = stream if stream is not None else sys.stderr
        self._tried = 0
        self._postfix = ""
        self._stop = threading.Event()
        self._start = 0.0
        self._thread = threading.Thread(target=self._loop, name="graphs-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        elapsed = time.monotonic() - self._start
        if elapsed >= self.every_s and exc[0] is None:
            self._print(f"{self.label}: done in {elapsed:.0f} s")

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._print(self.line())

    def line(self) -> str:
        """The progress line as it stands now."""
        parts = [f"{self.label}: {time.monotonic() - self._start:.0f} s elapsed"]
        if self._tried:
            parts.append(f"{self._tried} swaps tried")
        if self._postfix:
            parts.append(self._postfix)
        return ", ".join(parts)

    def _print(self, text: str) -> None:
        print(text, file=self._stream, flush=True)

    # the optimiser's tqdm-like interface
    def update(self, tried: int) -> None:
        self._tried += int(tried)

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        self._postfix = ", ".join(f"{key} {value}" for key, value in values.items())

    def close(self) -> None:
        """The search ended; the lines go on until the ``with`` block ends."""
