"""Peak memory of the default run's phases on the zoo's largest models at 224x224, and of the graph engine at its
size limit: each against a stated budget (issue 22, "memory bounded").

The runs are cost-only (`train.epochs=0`: build, prune, measure, topology, evaluate, latency), on fabricated
224x224 images, with the default latency protocol. Every run records each phase's own peak resident memory
(`peak_memory_mib`: the high-water mark is reset between phases), which is what the table shows. The graph engine
runs alone in a fresh process (`python -m rgp_bench.graphs`), whose peak resident memory the kernel reports when it
exits (`wait4`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.markdown import Provenance, run_recipe, verdict
from rgp_bench.graphs import feasible_degree
from rgp_bench.measure.memory import maxrss_bytes

SECTION = "memory"
GIB = 1024.0  # MiB
MODELS = ("resnet50", "vgg16")  # the zoo's largest: ResNet-50 by parameters, VGG-16 by MACs and activations
RUN = ("dataset=synthetic", "dataset.image_size=224", "dataset.num_samples=64", "train.epochs=0", "method=rgp",
       "ratio=0.9")
# The phases the issue bounds: the graph engine (inside `prune` for rgp), the topology measures, the latency phase.
BOUNDED = ("prune", "topology", "latency")
GRAPH_NODES, GRAPH_RATIO = 4096, 0.9  # the graph CLI's node limit
GRAPH = ("--nodes", str(GRAPH_NODES), "--ratio", str(GRAPH_RATIO), "--iters", "2000", "--no-cache", "--quiet",
         "--json")
BUDGET_MIB = {"run": 4 * GIB, "graph_engine": 1 * GIB}


@dataclass(frozen=True)
class RunMemory:
    """One cost-only run: its command, each phase's peak (MiB) and seconds."""

    model: str
    command: str
    peak_mib: Mapping[str, float]
    seconds: Mapping[str, float]


@dataclass(frozen=True)
class GraphMemory:
    """The graph engine alone at its node limit: command, peak (MiB), seconds."""

    command: str
    peak_mib: float
    seconds: float


@dataclass(frozen=True)
class MemoryRows:
    provenance: Provenance
    runs: tuple[RunMemory, ...]
    graph: GraphMemory


def _run(model: str, work: Path) -> RunMemory:
    """One cost-only run of `model` at 224x224, in a fresh process and cache; its record's per-phase peaks."""
    overrides = (f"model={model}", *RUN)
    out = work / model
    args = [*overrides, f"hydra.run.dir={out}", f"cache_dir={work / 'cache'}-{model}", "logger=none"]
    proc = subprocess.run([sys.executable, "-m", "rgp_bench", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{model} failed: {proc.stderr.strip().splitlines()[-1:]}")
    record = json.loads((out / "results.json").read_text())
    return RunMemory(model=model, command="python -m rgp_bench " + " ".join(overrides),
                     peak_mib=record["peak_memory_mib"], seconds=record["timings"])


def _graph() -> GraphMemory:
    """The graph engine at 4,096 nodes in a fresh process; its peak resident memory from wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rgp_bench.graphs", *GRAPH], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"graph engine failed: {proc.stderr.read().decode().strip().splitlines()[-1:]}"
                           if proc.stderr else "graph engine failed")
    if proc.stderr:
        proc.stderr.close()
    return GraphMemory(command="python -m rgp_bench.graphs " + " ".join(GRAPH),
                       peak_mib=maxrss_bytes(usage.ru_maxrss) / 2**20,
                       seconds=time.perf_counter() - start)


def collect(command: str = "python -m benchmarks.memory") -> MemoryRows:
    """Run both models and the graph engine (about 5 minutes on a 2-core machine)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rgp-memory-") as tmp:
        runs = tuple(_run(model, Path(tmp)) for model in MODELS)
    graph = _graph()
    return MemoryRows(Provenance.here(command, time.perf_counter() - start, torch=torch.__version__), runs, graph)


def _gib(mib: float) -> str:
    return f"{mib / GIB:.2f} GiB"


def render(rows: MemoryRows) -> str:
    """The section: each bounded phase's peak per model and the graph engine's, against their budgets."""
    p = rows.provenance
    budget, graph_budget = BUDGET_MIB["run"], BUDGET_MIB["graph_engine"]
    lines = [
        "## Peak memory on the largest models (issue 22)",
        "",
        p.stated(minutes=True) + " "
        "Peak resident memory of each phase of a cost-only run at 224×224 (fabricated images, RGP at ratio 0.9, "
        "the default latency protocol on 1 thread), as the run records it (`peak_memory_mib`; the high-water "
        "mark is reset between phases), and of the graph engine alone at its node limit.",
        "",
        f"Budget: every phase of such a run, and the run as a whole, within {_gib(budget)}; the graph engine within "
        f"{_gib(graph_budget)}.",
        "",
        "| model | " + " | ".join(f"{phase} (graph engine)" if phase == "prune" else phase for phase in BOUNDED)
        + " | whole run | run time | |",
        "|---|" + "---|" * (len(BOUNDED) + 3),
    ]
    for run in rows.runs:
        peaks = [run.peak_mib.get(phase, float("nan")) for phase in BOUNDED]
        whole = run.peak_mib.get("run", float("nan"))
        ok = all(value <= budget for value in [*peaks, whole])
        lines.append(f"| {run.model} | " + " | ".join(_gib(v) for v in peaks)
                     + f" | {_gib(whole)} | {run.seconds.get('total', float('nan')):.0f} s | {verdict(ok)} |")
    g, degree = rows.graph, feasible_degree(GRAPH_NODES, GRAPH_RATIO)
    lines += [
        "",
        f"Graph engine at {GRAPH_NODES:,} nodes, k = {degree} (`{g.command}`): {_gib(g.peak_mib)} peak in "
        f"{g.seconds:.0f} s, "
        f"{verdict(g.peak_mib <= graph_budget)}.",
        "",
        "Commands: " + "; ".join(f"{run.model}: `{run.command}`" for run in rows.runs) + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the section and (with --output) write it."""
    return run_recipe("python -m benchmarks.memory", __doc__, SECTION, collect, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
