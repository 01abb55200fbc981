"""What every benchmark (`make bench`) shares: the machine it ran on, and its section of BENCHMARKS.md.

Each benchmark owns the text between its `<!-- NAME:begin -->` and `<!-- NAME:end -->` markers and leaves
the rest of the file alone, so they can be rerun one at a time.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from rgp_bench.core.fileio import atomic_write_text

TITLE = "# rgp-bench benchmarks\n"


def machine() -> dict[str, str]:
    """CPU model, usable cores, Python and OS of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": str(cores), "python": platform.python_version(), "os": platform.platform(terse=True)}


def write_section(path: str | os.PathLike, name: str, section: str) -> None:
    """Replace the text between `name`'s markers in `path` (appended, in a new file with a title if need be)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    p = Path(path)
    text = p.read_text(encoding="utf-8") if p.exists() else TITLE
    block = f"{begin}\n{section.rstrip()}\n{end}"
    if begin in text and end in text and text.index(begin) < text.index(end):
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(p, text)
