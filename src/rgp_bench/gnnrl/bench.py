"""CPU benchmark of gnnrl against its control, random_search (and uniform), on the default digits / MLP setting.

    python -m rgp_bench.gnnrl.bench [--seeds 0 1 2] [--ratio 0.5] [--workdir DIR] [--output FILE] [OVERRIDE ...]

Runs one Hydra multirun of the real CLI (dense training cached and shared, search, 30 fine-tuning epochs) and
prints a Markdown table: per method, the search time, reward evaluations, best validation top-1 of the
masked model before fine-tuning (the search's reward + 100) and test top-1 after fine-tuning, as mean ± std
over the seeds, with the command, date and machine. Extra arguments are passed to every run as overrides.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from rgp_bench.bench_file import machine, write_section

METHODS = ("gnnrl", "random_search", "uniform")


def sweep_command(seeds: Sequence[int], ratio: float, workdir: Path, overrides: Sequence[str]) -> list[str]:
    """The CLI multirun that produces the benchmark's runs."""
    return [sys.executable, "-m", "rgp_bench", "-m", f"method={','.join(METHODS)}",
            f"seed={','.join(str(s) for s in seeds)}", f"ratio={ratio}", "logger=none", "train.progress=false",
            f"hydra.sweep.dir={workdir / 'sweep'}", f"cache_dir={workdir / 'cache'}", *overrides]


def _stat(values: Iterable[float | None], digits: int = 2) -> str:
    found = [v for v in values if v is not None]
    if not found:
        return "—"
    if len(found) == 1:
        return f"{found[0]:.{digits}f}"
    return f"{statistics.mean(found):.{digits}f} ± {statistics.stdev(found):.{digits}f}"


def table(records: Sequence[dict[str, Any]]) -> str:
    """Markdown rows per method over its seeds (records as results.json holds them)."""
    lines = ["| method | seeds | search s | reward evaluations | best val top-1 before FT (%) | "
             "test top-1 after FT (%) | MACs removed |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for method in METHODS:
        runs = [r for r in records if r["method"] == method and r.get("status") == "complete"]
        if not runs:
            continue
        info = [r["method_info"] for r in runs]
        search = [i.get("search", {}) for i in info]
        lines.append(
            f"| {method} | {len(runs)} | {_stat([s.get('seconds') for s in search], 1)} | "
            f"{_stat([s.get('evaluations') for s in search], 0)} | {_stat([i.get('best_val_top1') for i in info])} | "
            f"{_stat([r['accuracy']['final']['top1'] for r in runs])} | "
            f"{_stat([r['cost']['reduction']['macs'] for r in runs], 4)} |")
    return "\n".join(lines)


def report(records: Sequence[dict[str, Any]], command: Sequence[str], seconds: float) -> str:
    """The benchmark's Markdown section."""
    info = machine()
    shown = " ".join(["python", *command[1:]])
    return "\n".join([
        "## GNN-RL vs random search (`rgp_bench.gnnrl.bench`)",
        "",
        f"- Command: `python -m rgp_bench.gnnrl.bench` = `{shown}` (whole run {seconds:.0f} s)",
        f"- Date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {info['cpu']}, {info['cores']} cores; {info['os']}; Python {info['python']}, "
        f"torch {torch.__version__}",
        "- Setting: digits, MLP 512 x 4 (3 prunable channel groups), dense 30 epochs (cached), search with the "
        "default budget, 30 fine-tuning epochs with frozen masks. Search seconds are wall time on a machine shared "
        "with other jobs; uniform has no search.",
        "",
        table(records),
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rgp_bench.gnnrl.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--ratio", type=float, default=0.5, help="fraction of the MACs removed (default 0.5)")
    parser.add_argument("--workdir", type=Path, default=None, help="where runs and caches go (default: a temp dir)")
    parser.add_argument("--output", help="also write the section (between its markers) into this file")
    parser.add_argument("overrides", nargs="*", help="extra config overrides for every run")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gnnrl_bench_"))
    command = sweep_command(args.seeds, args.ratio, workdir, args.overrides)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, check=False)
    records = [json.loads(p.read_text()) for p in sorted((workdir / "sweep").glob("**/results.json"))]
    section = report(records, command, time.perf_counter() - start)
    print(section)
    if args.output and done.returncode == 0:
        write_section(args.output, "gnnrl", section)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
