"""Peak resident memory of this process, per phase.

Linux keeps the process's resident high-water mark (`VmHWM` in /proc/self/status) and resets it when "5" is written
to /proc/self/clear_refs, so each phase's own peak can be read without a sampling thread. Elsewhere (or where the
reset is not allowed) `getrusage`'s ru_maxrss, the peak since the process started, is the best there is.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
RESET_HIGH_WATER = "5"  # proc(5): "reset the peak resident set size (VmHWM) to the current value"


def maxrss_bytes(ru_maxrss: int) -> int:
    """`getrusage`'s ru_maxrss in bytes (macOS states bytes, Linux kB)."""
    return ru_maxrss if sys.platform == "darwin" else ru_maxrss * 1024


def peak_rss_bytes() -> int:
    """The process's resident high-water mark in bytes: since the last `reset_peak()` on Linux, else since start."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # stated in kB
    except (OSError, ValueError, IndexError):
        pass
    return maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def reset_peak() -> bool:
    """Lower the high-water mark to the current resident size; False where the platform cannot."""
    try:
        CLEAR_REFS.write_text(RESET_HIGH_WATER)
    except OSError:
        return False
    return True
