"""Each phase's peak resident memory (issue 22: a bounded default needs its memory measured): the high-water mark is
reset between phases on Linux, so a phase that allocates little does not inherit the peak of the one before.

In a fresh process: in a test worker, memory freed by earlier tests stays resident and an allocation may reuse it
without raising the peak."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CODE = """
import json, numpy as np
from rgp_bench.measure.memory import peak_rss_bytes, reset_peak
from rgp_bench.measure.timer import Timer
MIB = 2**20
before = peak_rss_bytes()
block = np.ones(64 * MIB // 8)
rise = (peak_rss_bytes() - before) / MIB
del block
timer = Timer()
with timer.phase("large"):
    block = np.ones(192 * MIB // 8)
    del block
with timer.phase("small"):
    pass
print(json.dumps({"rise": rise, "peaks": timer.peaks(), "phases": sorted(timer.totals())}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resetting the high-water mark is Linux's")
def test_each_phase_has_its_own_peak_and_the_run_the_largest() -> None:
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["rise"] >= 48  # a 64 MiB allocation raises the peak
    peaks = out["peaks"]
    assert set(peaks) == {"large", "small", "run"} and out["phases"] == ["large", "small", "total"]
    assert peaks["large"] >= peaks["small"] + 128  # the small phase does not inherit the large one's peak
    assert peaks["run"] == max(peaks.values())
