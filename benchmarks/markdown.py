"""What every recipe shares: its provenance (command, date, machine, duration), its command line, and its section
of BENCHMARKS.md.

Each recipe owns the text between its `<!-- NAME:begin -->` and `<!-- NAME:end -->` markers and leaves the rest of
the file alone, so they can be rerun one at a time.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def utc_stamp() -> str:
    """Now, as `YYYY-MM-DD HH:MM UTC`."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Provenance:
    """How, when and where a recipe ran: what every section states first.

    `machine` holds machine() plus the library versions the recipe's numbers depend on.
    """

    command: str
    date: str
    seconds: float
    machine: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def here(cls, command: str, seconds: float, **versions: str) -> Provenance:
        """This machine, now, with `versions` added to machine()."""
        return cls(command, utc_stamp(), seconds, {**machine(), **versions})

    def stated(self, minutes: bool = False) -> str:
        """"`command` (date; CPU, N cores, torch X; how long)": the sentence a timing section opens with."""
        took = f"{self.seconds / 60:.0f} min" if minutes else f"{self.seconds:.0f} s"
        m = self.machine
        return f"`{self.command}` ({self.date}; {m['cpu']}, {m['cores']} cores, torch {m['torch']}; {took})."


def verdict(ok: bool) -> str:
    """How every section marks a target: "met", or "**missed**" in bold."""
    return "met" if ok else "**missed**"


def parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line every recipe starts from: `--output FILE`."""
    p = argparse.ArgumentParser(prog=prog, description=(doc or "").strip().split("\n")[0])
    p.add_argument("--output", type=Path, help="also write the section (between its markers) into this file, "
                   "keeping the rest of it (make bench: BENCHMARKS.md)")
    return p


def publish(name: str, section: str, output: str | os.PathLike | None) -> None:
    """Print `section`; with `output`, also write it between `name`'s markers there."""
    sys.stdout.write(section.rstrip("\n") + "\n")
    if output is not None:
        write_section(output, name, section)
        print(f"wrote the {name} section of {output}", file=sys.stderr)


def run_recipe(prog: str, doc: str | None, name: str, collect: Callable[[], Any], render: Callable[[Any], str],
               argv: Sequence[str] | None = None) -> int:
    """A recipe's `main`: parse `--output`, measure (`collect`), print the section and (with --output) write it."""
    args = parser(prog, doc).parse_args(argv)
    publish(name, render(collect()), args.output)
    return 0


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
