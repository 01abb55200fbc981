"""Wall time and peak resident memory per pipeline phase."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rgp_bench.measure.memory import peak_rss_bytes, reset_peak

MIB = 2**20


class Timer:
    """Accumulates wall-clock seconds per named phase, plus the total since creation, and each phase's peak
    resident memory (MiB), plus the run's (`run`: the largest of them and the start). Where the high-water mark
    cannot be reset (not Linux), a phase's figure is the peak so far, an upper bound."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, float] = {}
        self._start = time.perf_counter()
        self._run_peak = peak_rss_bytes()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._run_peak = max(self._run_peak, peak_rss_bytes())
        reset_peak()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            peak = peak_rss_bytes()
            self._run_peak = max(self._run_peak, peak)
            self.peak_mib[name] = max(self.peak_mib.get(name, 0.0), round(peak / MIB, 1))

    def totals(self) -> dict[str, float]:
        return {**self.seconds, "total": time.perf_counter() - self._start}

    def peaks(self) -> dict[str, float]:
        """Peak resident memory (MiB) of each phase so far and of the run (`run`)."""
        run_peak = max(self._run_peak, peak_rss_bytes())
        return {**self.peak_mib, "run": round(run_peak / MIB, 1)}
