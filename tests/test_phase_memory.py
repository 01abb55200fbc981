"""Each phase's peak resident memory (issue 22: a bounded default needs its memory measured): the high-water mark is
reset between phases on Linux, so a phase that allocates little does not inherit the peak of the one before."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rgp_bench.measure.memory import peak_rss_bytes, reset_peak
from rgp_bench.measure.timer import Timer

MIB = 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resetting the high-water mark is Linux's")
def test_the_peak_rises_with_an_allocation() -> None:
    assert reset_peak()  # else an earlier test's peak in this worker may already be above the allocation
    before = peak_rss_bytes()
    block = np.ones(64 * MIB // 8)  # 64 MiB, touched
    assert peak_rss_bytes() >= before + 48 * MIB
    del block


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resetting the high-water mark is Linux's")
def test_each_phase_has_its_own_peak_and_the_run_the_largest() -> None:
    assert reset_peak()
    timer = Timer()
    with timer.phase("large"):
        block = np.ones(192 * MIB // 8)
        del block
    with timer.phase("small"):
        pass
    peaks = timer.peaks()
    assert set(peaks) == {"large", "small", "run"}
    assert peaks["large"] >= peaks["small"] + 128  # the small phase does not inherit the large one's peak
    assert peaks["run"] == max(peaks["large"], peaks["small"])
    assert timer.totals().keys() >= {"large", "small", "total"}
