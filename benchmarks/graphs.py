"""Recipe for the regular-graph generator (:mod:`rgp_bench.graphs`): its section of ``BENCHMARKS.md``.

    python -m benchmarks.graphs [--output BENCHMARKS.md] [--quick]

Measures, in one run on this machine: exact-ASPL evaluation time against networkx, and for each (n, k) of the
issue the default strategy's ASPL, the Cerf/Moore bound, the gap and the time, next to the authors' stored graphs
and the best published order/degree (Graph Golf) results; then the strategies side by side and longer budgets.
``--quick`` measures a few small cases only (a smoke run of the recipe).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from benchmarks.markdown import Provenance, parser, publish
from rgp_bench.graphs.aspl import path_stats
from rgp_bench.graphs.build import build_graph
from rgp_bench.graphs.construct import random_regular
from rgp_bench.graphs.optimizer import DEFAULT_STRATEGY, default_iters

SECTION = "graphs"


@dataclass(frozen=True)
class Plan:
    """What one run of the recipe measures."""

    timings: tuple[tuple[int, int], ...]  # (n, k) of the ASPL evaluation timings
    graphs: tuple[tuple[int, int], ...]  # (n, k) built with the default strategy and budget
    strategy_degrees: tuple[int, ...]  # k at n = 64 where every STRATEGY_RUNS pair is compared
    long_runs: tuple[tuple[int, int, int], ...]  # (n, k, iters) of the default strategy with longer budgets


FULL = Plan(
    timings=((64, 8), (256, 8), (512, 8), (512, 16)),
    # the k plus 14 and 18 (the k >= 14 target), then larger n
    graphs=(*((64, k) for k in (4, 6, 8, 10, 12, 14, 16, 18, 20)), *((n, k) for n in (256, 512) for k in (8, 16))),
    strategy_degrees=(4, 8),
    # the pairs with a published result: how much more search buys
    long_runs=((64, 8, 20_000_000), (256, 8, 1_000_000)),
)
QUICK = Plan(timings=((64, 8),), graphs=((64, 12), (64, 16)), strategy_degrees=(4,), long_runs=())
# (strategy, start) pairs compared at n = 64; "reference" runs the authors' walk and schedule from their start.
STRATEGY_RUNS: tuple[tuple[str, str], ...] = (
    ("none", "ring"), ("none", "random"), ("reference", "ring"), ("greedy", "random"), ("anneal", "random"),
)  # fmt: skip
# Lowest ASPL among the authors' stored graphs (M0 in Adjacency/64/<k>/*_information.csv at commit 20a9de9,
# from the authors' Adjacency/*_information.csv at commit 20a9de9); they generated n = 64 only.
AUTHORS_BEST: dict[tuple[int, int], float] = {
    (64, 4): 3.046, (64, 6): 2.409, (64, 8): 2.128, (64, 10): 1.950, (64, 12): 1.848,
    (64, 14): 1.784, (64, 16): 1.746, (64, 18): 1.714, (64, 20): 1.683,
}  # fmt: skip
# Best solutions of the Graph Golf order/degree competition (research.nii.ac.jp/graphgolf/2016/, table updated
# 2016-09-26); only these (n, d) of ours were featured there.
GRAPH_GOLF: dict[tuple[int, int], float] = {(64, 8): 1.927, (256, 8): 2.736, (512, 8): 3.111}
# Targets from the issue: n = 64, k <= 12 below the authors' best within 10 s; k >= 14 at the bound within 1 s.
MAX_SECONDS_BEAT, MAX_SECONDS_BOUND = 10.0, 1.0


# --- rows -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsplTiming:
    """Best-of-N time of one exact all-pairs ASPL evaluation, ours (bitset BFS) and networkx's."""

    nodes: int
    degree: int
    aspl: float
    ours_ms: float
    networkx_ms: float

    @property
    def speedup(self) -> float:
        return self.networkx_ms / self.ours_ms


@dataclass(frozen=True)
class GraphRun:
    """One graph built by `build_graph` (no cache): the info fields the tables show, and the wall time."""

    nodes: int
    degree: int
    strategy: str
    start: str
    iters: int | None
    aspl: float
    lower_bound: float
    gap: float
    diameter: int
    reached_lower_bound: bool
    swaps_tried: int
    swaps_accepted: int
    evaluations: int
    seconds: float  # build_graph's own time (construction + optimisation)
    wall: float  # the call's wall time

    @classmethod
    def of(cls, info: dict[str, Any], wall: float) -> GraphRun:
        """From `build_graph`'s info dict."""
        return cls(info["nodes"], info["degree"], info["strategy"], info["start"], info["iters"], info["aspl"],
                   info["lower_bound"], info["gap"], info["diameter"], info["reached_lower_bound"],
                   info["swaps_tried"], info["swaps_accepted"], info["evaluations"], info["seconds"], wall)


@dataclass(frozen=True)
class GraphRows:
    """Everything one run of the recipe measured."""

    provenance: Provenance
    timings: tuple[AsplTiming, ...]
    graphs: tuple[GraphRun, ...]
    strategies: tuple[GraphRun, ...] = ()
    long_runs: tuple[GraphRun, ...] = ()


# --- collect ----------------------------------------------------------------------------------------------------


def _best_time(fn: Callable[[], object], repeat: int, min_seconds: float = 0.0) -> float:
    best, spent, runs = float("inf"), 0.0, 0
    while runs < repeat or spent < min_seconds:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, spent, runs = min(best, dt), spent + dt, runs + 1
    return best


def aspl_timing(nodes: int, degree: int, seed: int = 0) -> AsplTiming:
    """Time one exact ASPL evaluation of a random regular graph, ours against networkx (same result checked)."""
    adj = random_regular(nodes, degree, seed)
    g = nx.from_numpy_array(adj)
    ours = path_stats(adj).aspl
    theirs = nx.average_shortest_path_length(g)
    if ours != theirs:  # pragma: no cover - guarded by the property tests
        raise RuntimeError(f"ASPL mismatch at n={nodes}, k={degree}: {ours} != {theirs}")
    t_ours = _best_time(lambda: path_stats(adj), repeat=20, min_seconds=0.2)
    t_nx = _best_time(lambda: nx.average_shortest_path_length(g), repeat=3)
    return AsplTiming(nodes, degree, ours, 1e3 * t_ours, 1e3 * t_nx)


def graph_run(nodes: int, degree: int, strategy: str = DEFAULT_STRATEGY, start: str = "random", seed: int = 0,
              iters: int | None = None) -> GraphRun:
    """Build one graph (default budget unless `iters`, no cache) and time it."""
    t = time.perf_counter()
    _, info = build_graph(nodes, degree, strategy=strategy, start=start, seed=seed, iters=iters)
    return GraphRun.of(info, time.perf_counter() - t)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def collect(plan: Plan = FULL, command: str = "python -m benchmarks.graphs") -> GraphRows:
    """Measure everything `plan` names, reporting progress on stderr."""
    t0 = time.perf_counter()
    timings = []
    for n, k in plan.timings:
        timings.append(s := aspl_timing(n, k))
        _log(f"aspl n={n:4d} k={k:2d}: {s.ours_ms:.3f} ms vs networkx {s.networkx_ms:.1f} ms ({s.speedup:.0f}x)")
    graphs = []
    for n, k in plan.graphs:
        graphs.append(r := graph_run(n, k))
        _log(f"graph n={n:4d} k={k:2d}: aspl {r.aspl:.4f} (bound {r.lower_bound:.4f}, gap {100 * r.gap:.2f} %) "
             f"in {r.wall:.2f} s")
    strategies = []
    for k in plan.strategy_degrees:
        for strategy, start in STRATEGY_RUNS:
            strategies.append(r := graph_run(64, k, strategy, start))
            _log(f"strategy k={k:2d} {strategy:9s} {start:6s}: aspl {r.aspl:.4f} in {r.wall:.2f} s")
    long_runs = []
    for n, k, iters in plan.long_runs:
        long_runs.append(r := graph_run(n, k, iters=iters))
        _log(f"long n={n:4d} k={k:2d} iters={iters:,}: aspl {r.aspl:.4f} in {r.wall:.1f} s")
    provenance = Provenance.here(command, time.perf_counter() - t0, numpy=np.__version__, networkx=nx.__version__)
    return GraphRows(provenance, tuple(timings), tuple(graphs), tuple(strategies), tuple(long_runs))


# --- render -----------------------------------------------------------------------------------------------------


def render(rows: GraphRows) -> str:
    """The markdown section (without markers)."""
    out = _conditions(rows.provenance) + _timing_table(rows.timings) + _graph_table(rows.graphs)
    if rows.strategies:
        out += _strategy_table(rows.strategies)
    if rows.long_runs:
        out += _long_run_table(rows.long_runs)
    return "\n".join(out) + "\n"


def _count(value: int | None) -> str:
    return "default" if value is None else f"{value:,}"


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _golf(nodes: int, degree: int, lower_bound: float) -> str:
    """The Graph Golf result for (n, k) with its gap to the bound, or n/a."""
    golf = GRAPH_GOLF.get((nodes, degree))
    return "n/a" if golf is None else f"{golf:.3f} ({100 * (golf - lower_bound) / lower_bound:.2f} %)"


def target(run: GraphRun) -> tuple[str, bool | None]:
    """The issue's target for this (n, k), and whether the run met it (None: no target)."""
    authors = AUTHORS_BEST.get((run.nodes, run.degree))
    if run.nodes == 64 and run.degree <= 12:
        text = f"< {authors:.3f} in ≤ {MAX_SECONDS_BEAT:.0f} s" if authors is not None else ""
        return text, authors is not None and run.aspl < authors and run.wall <= MAX_SECONDS_BEAT
    if run.nodes == 64 and run.degree >= 14:
        return f"bound in ≤ {MAX_SECONDS_BOUND:.0f} s", run.reached_lower_bound and run.wall <= MAX_SECONDS_BOUND
    return "", None


def _conditions(p: Provenance) -> list[str]:
    m = p.machine
    return [
        "## Regular-graph generator (`rgp_bench.graphs`)",
        "",
        f"- Command: `{p.command}` (whole run {p.seconds:.0f} s)",
        f"- Date: {p.date}",
        f"- Machine: {m['cpu']}, {m['cores']} cores; {m['os']}",
        f"- Python {m['python']}, numpy {m['numpy']}, networkx {m['networkx']}",
        f"- Strategy: `{DEFAULT_STRATEGY}` with its default iteration budget (`default_iters`), seed 0, random start,"
        " no cache. Seconds are wall time for construction + optimisation on a machine shared with other jobs.",
    ]


def _timing_table(timings: Sequence[AsplTiming]) -> list[str]:
    out = [
        "",
        "### Exact ASPL evaluation vs networkx",
        "",
        "One all-pairs evaluation of a random k-regular graph (best of several runs; same result checked exactly).",
        "",
        "| n | k | ASPL | bitset BFS (ms) | networkx (ms) | speed-up |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    out += [f"| {s.nodes} | {s.degree} | {s.aspl:.4f} | {s.ours_ms:.3f} | {s.networkx_ms:.1f} | {s.speedup:.0f}× |"
            for s in timings]
    goal = next((s for s in timings if (s.nodes, s.degree) == (512, 8)), None)
    if goal is not None:
        verdict = "met" if goal.speedup >= 100 else "NOT met"
        out += ["", f"Target ≥ 100× at n = 512, k = 8: **{verdict}** ({goal.speedup:.0f}×)."]
    return out


def _graph_table(graphs: Sequence[GraphRun]) -> list[str]:
    out = [
        "",
        "### Optimised graphs",
        "",
        'Gap = (ASPL − bound) / bound against the Cerf/Moore lower bound (Graph Golf\'s "ASPL gap"). *Authors* is the'
        " lowest ASPL among the RGP authors' stored graphs (n = 64 only); *Graph Golf* is the best published result"
        " for the same order/degree (2016 table), n/a where that pair was not featured.",
        "",
        "| n | k | ASPL | lower bound | gap | diameter | seconds | swaps tried / accepted | scored/s | authors |"
        " Graph Golf (gap) | target | status |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in graphs:
        goal, met = target(r)
        status = "" if met is None else ("met" if met else "**NOT met**")
        scored = f"{r.evaluations / r.seconds:,.0f}" if r.evaluations and r.seconds > 0 else "–"
        out.append(
            f"| {r.nodes} | {r.degree} | {r.aspl:.4f} | {r.lower_bound:.4f} | {100 * r.gap:.2f} % | {r.diameter} "
            f"| {r.wall:.2f} | {r.swaps_tried:,} / {r.swaps_accepted:,} | {scored} "
            f"| {_fmt(AUTHORS_BEST.get((r.nodes, r.degree)), 3)} | {_golf(r.nodes, r.degree, r.lower_bound)} "
            f"| {goal} | {status} |"
        )
    out += [
        "",
        "*scored/s*: candidate graphs whose exact distance sum the optimiser settled per second (batched bitset BFS"
        " plus an exact distance-2 pre-filter); compare with one networkx evaluation above.",
        "",
        *_notes(graphs),
    ]
    return out


def _notes(graphs: Sequence[GraphRun]) -> list[str]:
    notes = ["Remaining gap to the best published results (same n, k):", ""]
    for r in graphs:
        golf = GRAPH_GOLF.get((r.nodes, r.degree))
        if golf is not None:
            notes.append(
                f"- n = {r.nodes}, k = {r.degree}: ASPL {r.aspl:.4f} vs Graph Golf {golf:.3f}"
                f" (+{r.aspl - golf:.4f}; gap to the bound {100 * r.gap:.2f} % vs"
                f" {100 * (golf - r.lower_bound) / r.lower_bound:.2f} %)."
            )
    at_bound = [f"({r.nodes}, {r.degree})" for r in graphs if r.reached_lower_bound]
    if at_bound:
        notes.append(f"- At the lower bound, hence optimal: {', '.join(at_bound)}.")
    notes.append(
        "- Graph Golf entries come from tuned annealing with 10⁶–10⁸ evaluations in compiled code, often under a"
        " rotational-symmetry constraint; this generator spends seconds in numpy. The default budget is in swap"
        f" trials (n = 64, k = 8: {default_iters(64, 8):,}), so results are reproducible; `--iters`/`--seconds`"
        " buy more search (see *Longer budgets*), with diminishing returns."
    )
    return notes


def _strategy_table(strategies: Sequence[GraphRun]) -> list[str]:
    out = [
        "",
        "### Strategies side by side (n = 64, default budgets, seed 0)",
        "",
        "`reference` is the authors' bounded random walk with their schedule, started like theirs from the ring"
        " lattice; `none` is the start graph itself.",
        "",
        "| k | strategy | start | ASPL | gap | seconds | swaps tried / accepted | authors |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    out += [f"| {r.degree} | {r.strategy} | {r.start} | {r.aspl:.4f} | {100 * r.gap:.2f} % | {r.wall:.2f} "
            f"| {r.swaps_tried:,} / {r.swaps_accepted:,} | {_fmt(AUTHORS_BEST.get((r.nodes, r.degree)), 3)} |"
            for r in strategies]
    return out


def _long_run_table(long_runs: Sequence[GraphRun]) -> list[str]:
    out = [
        "",
        f"### Longer budgets (`{DEFAULT_STRATEGY}`, seed 0)",
        "",
        "| n | k | iters | ASPL | gap | seconds | Graph Golf (gap) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    out += [f"| {r.nodes} | {r.degree} | {_count(r.iters)} | {r.aspl:.4f} | {100 * r.gap:.2f} % | {r.wall:.1f} "
            f"| {_golf(r.nodes, r.degree, r.lower_bound)} |" for r in long_runs]
    return out


# --- command line -----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the section and (with --output) write it."""
    p = parser("python -m benchmarks.graphs", __doc__)
    p.add_argument("--quick", action="store_true", help="a few small cases only (a smoke run)")
    args = p.parse_args(argv)
    command = "python -m benchmarks.graphs" + (" --quick" if args.quick else "")
    publish(SECTION, render(collect(QUICK if args.quick else FULL, command)), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
