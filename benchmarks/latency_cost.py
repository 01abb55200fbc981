"""What the latency phase costs and shows on the default commands: its share of a run's and a sweep's time, its
time and peak memory on ResNet-50 at 224x224, and how well two measurements of one model agree.

Every case runs `python -m rgp_bench` in a fresh process with a fresh cache (so nothing is reused from an earlier
run, except within the sweep, where reuse is the point).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.markdown import Provenance, run_recipe, verdict

SECTION = "latency_cost"
MAKE_RUN = ("experiment=mnist1d_compare", "method=rgp", "ratio=0.9", "measure.latency.enabled=true")
RESNET50 = ("model=resnet50", "dataset=synthetic", "dataset.image_size=224", "dataset.num_samples=64",
            "train.epochs=0", "method=rgp", "ratio=0.9")
SWEEP = ("-m", "method=rgp,magnitude,random", "ratio=0.5,0.9", "seed=0,1")
REPEAT = ("experiment=mnist1d_compare", "method=rgp", "ratio=0.9", "train.epochs=0", "measure.latency.enabled=true",
          "measure.latency.cache=false")
TARGETS = {"run_share": 0.10, "sweep_share": 0.15, "resnet50_seconds": 60.0, "agreement": 0.10}


@dataclass(frozen=True)
class Case:
    """One command's records: latency and total seconds summed over its runs, and its headline speed-ups."""

    name: str
    command: str
    runs: int
    latency_seconds: float
    total_seconds: float
    speedups: tuple[float, ...]  # each run's headline (fastest deployable form over dense, largest batch)
    batches: str  # e.g. "1: 4.7x, 64: 5.0x" for the first run
    peak_rss_gib: float | None = None

    @property
    def share(self) -> float:
        return self.latency_seconds / self.total_seconds if self.total_seconds else float("nan")


@dataclass(frozen=True)
class LatencyCostRows:
    provenance: Provenance
    cases: tuple[Case, ...]


def _run(name: str, overrides: Sequence[str], work: Path) -> Case:
    """Run `python -m rgp_bench OVERRIDES` under `work` and read its records."""
    out = work / name
    hydra = ["hydra.sweep.dir=" + str(out)] if "-m" in overrides else ["hydra.run.dir=" + str(out)]
    args = [*overrides, *hydra, f"cache_dir={work / name}-cache", "logger=none"]
    proc = subprocess.run([sys.executable, "-m", "rgp_bench", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed: {proc.stderr.strip().splitlines()[-1:]}")
    records = [json.loads(p.read_text()) for p in sorted(out.rglob("results.json"))]
    latencies = [r["cost"]["latency"] for r in records if r["cost"].get("latency")]
    batches = ", ".join(f"{b['batch_size']}: {_best(b['variants']):.2f}×" for b in latencies[0]["batches"])
    return Case(name=name, command="python -m rgp_bench " + " ".join(overrides), runs=len(records),
                latency_seconds=sum(r["timings"].get("latency", 0.0) for r in records),
                total_seconds=sum(r["timings"]["total"] for r in records),
                speedups=tuple(lat["speedup"] for lat in latencies), batches=batches,
                peak_rss_gib=max((r.get("peak_memory_mib", {}).get("run", 0.0) for r in records), default=0.0) / 1024
                or None)


def _best(variants: dict) -> float:
    """The fastest deployable form's speed-up over dense."""
    return max(v["speedup"] for name, v in variants.items() if name in ("masked", "materialised"))


def collect(command: str = "python -m benchmarks.latency_cost") -> LatencyCostRows:
    """Run the four cases (about 15 minutes on a 2-core machine)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rgp-latency-cost-") as tmp:
        work = Path(tmp)
        cases = (_run("resnet50", RESNET50, work), _run("make_run", MAKE_RUN, work),
                 _run("repeat_a", REPEAT, work), _run("repeat_b", REPEAT, work), _run("sweep", SWEEP, work))
    return LatencyCostRows(Provenance.here(command, time.perf_counter() - start, torch=torch.__version__), cases)


def render(rows: LatencyCostRows) -> str:
    """The section: each target, what was measured, met or missed."""
    by = {case.name: case for case in rows.cases}
    run, sweep, r50 = by["make_run"], by["sweep"], by["resnet50"]
    a, b = by["repeat_a"].speedups[0], by["repeat_b"].speedups[0]
    agreement = abs(a - b) / max(a, b)
    p = rows.provenance
    memory = f"{r50.peak_rss_gib:.1f} GiB peak RSS" if r50.peak_rss_gib else "peak RSS not measured"
    lines = [
        "## What latency costs a run",
        "",
        p.stated(minutes=True) + " "
        "Timing runs on 1 thread (`measure.latency.threads`); each case is a fresh process and cache.",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| `make run`: latency ≤ {TARGETS['run_share']:.0%} of the run | {run.latency_seconds:.1f} s of "
        f"{run.total_seconds:.0f} s ({run.share:.1%}); speed-up {run.batches} | "
        f"{verdict(run.share <= TARGETS['run_share'])} |",
        f"| `make run`: materialised faster than dense at batch 64 | {run.speedups[0]:.2f}× | "
        f"{verdict(run.speedups[0] > 1)} |",
        f"| 12-run default sweep: latency ≤ {TARGETS['sweep_share']:.0%} of job time | {sweep.latency_seconds:.1f} s "
        f"of {sweep.total_seconds:.0f} s ({sweep.share:.1%}) over {sweep.runs} runs | "
        f"{verdict(sweep.share <= TARGETS['sweep_share'])} |",
        f"| ResNet-50 at 224×224, cost only: latency ≤ {TARGETS['resnet50_seconds']:.0f} s | "
        f"{r50.latency_seconds:.1f} s ({memory}); speed-up {r50.batches} | "
        f"{verdict(r50.latency_seconds <= TARGETS['resnet50_seconds'])} |",
        f"| two measurements of one model agree within {TARGETS['agreement']:.0%} | {a:.2f}× and {b:.2f}× "
        f"({agreement:.1%} apart) | {verdict(agreement <= TARGETS['agreement'])} |",
        "",
        "Commands: " + "; ".join(f"{case.name}: `{case.command}`" for case in rows.cases) + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the section and (with --output) write it."""
    return run_recipe("python -m benchmarks.latency_cost", __doc__, SECTION, collect, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
