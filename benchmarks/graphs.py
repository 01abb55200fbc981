"""Benchmark of :mod:`rgp_bench.graphs`; writes its section of ``BENCHMARKS.md``.

    python -m benchmarks.graphs [--output BENCHMARKS.md]

Measures, in one run on this machine: exact-ASPL evaluation time against networkx, and for each (n, k) of the
issue the default strategy's ASPL, the Cerf/Moore bound, the gap and the time, next to the authors' stored graphs
and the best published order/degree (Graph Golf) results. Only the text between the ``graphs`` markers is
replaced, so other benchmarks can keep their own sections in the same file.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from collections.abc import Sequence

import networkx as nx
import numpy as np

from benchmarks.markdown import machine as shared_machine
from benchmarks.markdown import write_section
from rgp_bench.graphs.aspl import path_stats
from rgp_bench.graphs.build import build_graph
from rgp_bench.graphs.construct import random_regular
from rgp_bench.graphs.optimizer import DEFAULT_STRATEGY, default_iters

GRAPH_CONFIGS: tuple[tuple[int, int], ...] = (
    *((64, k) for k in (4, 6, 8, 10, 12, 14, 16, 18, 20)),  # the issue's k plus 14 and 18 (the k >= 14 target)
    *((n, k) for n in (256, 512) for k in (8, 16)),
)
SPEED_CONFIGS: tuple[tuple[int, int], ...] = ((64, 8), (256, 8), (512, 8), (512, 16))
# (strategy, start) pairs compared at n = 64; "reference" runs the authors' walk and schedule from their start.
STRATEGY_RUNS: tuple[tuple[str, str], ...] = (
    ("none", "ring"), ("none", "random"), ("reference", "ring"), ("greedy", "random"), ("anneal", "random"),
)  # fmt: skip
STRATEGY_DEGREES: tuple[int, ...] = (4, 8)
# Longer (still reproducible) budgets for the pairs with a published result: how much more search buys.
LONG_RUNS: tuple[tuple[int, int, int], ...] = ((64, 8, 20_000_000), (256, 8, 1_000_000))
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


def machine() -> dict[str, str]:
    """This machine, plus the library versions the graph engine's speed depends on."""
    return {**shared_machine(), "numpy": np.__version__, "networkx": nx.__version__}


def _best_time(fn, repeat: int, min_seconds: float = 0.0) -> float:
    best, spent, runs = float("inf"), 0.0, 0
    while runs < repeat or spent < min_seconds:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, spent, runs = min(best, dt), spent + dt, runs + 1
    return best


def aspl_speed(nodes: int, degree: int, seed: int = 0) -> dict:
    """Best-of-N time of one exact ASPL evaluation: bitset BFS (from the adjacency matrix) vs networkx."""
    adj = random_regular(nodes, degree, seed)
    g = nx.from_numpy_array(adj)
    ours = path_stats(adj).aspl
    theirs = nx.average_shortest_path_length(g)
    if ours != theirs:  # pragma: no cover - guarded by the property tests
        raise RuntimeError(f"ASPL mismatch at n={nodes}, k={degree}: {ours} != {theirs}")
    t_ours = _best_time(lambda: path_stats(adj), repeat=20, min_seconds=0.2)
    t_nx = _best_time(lambda: nx.average_shortest_path_length(g), repeat=3)
    return {"nodes": nodes, "degree": degree, "aspl": ours, "ours_ms": 1e3 * t_ours, "networkx_ms": 1e3 * t_nx,
            "speedup": t_nx / t_ours}  # fmt: skip


def graph_row(nodes: int, degree: int, seed: int = 0) -> dict:
    """Build one graph with the default strategy and budget (no cache) and collect the table fields."""
    t = time.perf_counter()
    _, info = build_graph(nodes, degree, seed=seed)
    wall = time.perf_counter() - t
    key = (nodes, degree)
    authors, golf = AUTHORS_BEST.get(key), GRAPH_GOLF.get(key)
    if nodes == 64 and degree <= 12:
        target = f"< {authors:.3f} in ≤ {MAX_SECONDS_BEAT:.0f} s" if authors is not None else ""
        met = authors is not None and info["aspl"] < authors and wall <= MAX_SECONDS_BEAT
    elif nodes == 64 and degree >= 14:
        target = f"bound in ≤ {MAX_SECONDS_BOUND:.0f} s"
        met = info["reached_lower_bound"] and wall <= MAX_SECONDS_BOUND
    else:
        target, met = "", None
    return {**info, "wall": wall, "authors": authors, "graph_golf": golf, "target": target, "met": met}


def strategy_row(nodes: int, degree: int, strategy: str, start: str, seed: int = 0, iters: int | None = None) -> dict:
    """One (strategy, start) with its default budget (or ``iters``), for the side-by-side comparisons."""
    t = time.perf_counter()
    _, info = build_graph(nodes, degree, strategy=strategy, start=start, seed=seed, iters=iters)
    return {**info, "wall": time.perf_counter() - t}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def render(
    rows: Sequence[dict],
    speed: Sequence[dict],
    info: dict[str, str],
    command: str,
    total: float,
    strategies: Sequence[dict] = (),
    long_runs: Sequence[dict] = (),
) -> str:
    """The markdown section (without markers)."""
    date = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    out = [
        "## Regular-graph generator (`rgp_bench.graphs`)",
        "",
        f"- Command: `{command}` (whole run {total:.0f} s)",
        f"- Date: {date}",
        f"- Machine: {info['cpu']}, {info['cores']} cores; {info['os']}",
        f"- Python {info['python']}, numpy {info['numpy']}, networkx {info['networkx']}",
        f"- Strategy: `{DEFAULT_STRATEGY}` with its default iteration budget (`default_iters`), seed 0, random start,"
        " no cache. Seconds are wall time for construction + optimisation on a machine shared with other jobs.",
        "",
        "### Exact ASPL evaluation vs networkx",
        "",
        "One all-pairs evaluation of a random k-regular graph (best of several runs; same result checked exactly).",
        "",
        "| n | k | ASPL | bitset BFS (ms) | networkx (ms) | speed-up |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in speed:
        out.append(
            f"| {s['nodes']} | {s['degree']} | {s['aspl']:.4f} | {s['ours_ms']:.3f} | {s['networkx_ms']:.1f} "
            f"| {s['speedup']:.0f}× |"
        )
    target = next((s for s in speed if (s["nodes"], s["degree"]) == (512, 8)), None)
    if target is not None:
        verdict = "met" if target["speedup"] >= 100 else "NOT met"
        out += ["", f"Target ≥ 100× at n = 512, k = 8: **{verdict}** ({target['speedup']:.0f}×)."]
    out += [
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
    for r in rows:
        golf = (
            "n/a"
            if r["graph_golf"] is None
            else (f"{r['graph_golf']:.3f} ({100 * (r['graph_golf'] - r['lower_bound']) / r['lower_bound']:.2f} %)")
        )
        status = "" if r["met"] is None else ("met" if r["met"] else "**NOT met**")
        scored = f"{r['evaluations'] / r['seconds']:,.0f}" if r["evaluations"] and r["seconds"] > 0 else "–"
        out.append(
            f"| {r['nodes']} | {r['degree']} | {r['aspl']:.4f} | {r['lower_bound']:.4f} | {100 * r['gap']:.2f} % "
            f"| {r['diameter']} | {r['wall']:.2f} | {r['swaps_tried']:,} / {r['swaps_accepted']:,} "
            f"| {scored} | {_fmt(r['authors'], 3)} | {golf} | {r['target']} | {status} |"
        )
    out += [
        "",
        "*scored/s*: candidate graphs whose exact distance sum the optimiser settled per second (batched bitset BFS"
        " plus an exact distance-2 pre-filter); compare with one networkx evaluation above.",
        "",
        *_notes(rows),
    ]
    if strategies:
        out += [
            "",
            "### Strategies side by side (n = 64, default budgets, seed 0)",
            "",
            "`reference` is the authors' bounded random walk with their schedule, started like theirs from the ring"
            " lattice; `none` is the start graph itself.",
            "",
            "| k | strategy | start | ASPL | gap | seconds | swaps tried / accepted | authors |",
            "|---:|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in strategies:
            out.append(
                f"| {r['degree']} | {r['strategy']} | {r['start']} | {r['aspl']:.4f} | {100 * r['gap']:.2f} % "
                f"| {r['wall']:.2f} | {r['swaps_tried']:,} / {r['swaps_accepted']:,} "
                f"| {_fmt(AUTHORS_BEST.get((r['nodes'], r['degree'])), 3)} |"
            )
    if long_runs:
        out += [
            "",
            f"### Longer budgets (`{DEFAULT_STRATEGY}`, seed 0)",
            "",
            "| n | k | iters | ASPL | gap | seconds | Graph Golf (gap) |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in long_runs:
            golf = GRAPH_GOLF.get((r["nodes"], r["degree"]))
            golf_text = "n/a" if golf is None else (
                f"{golf:.3f} ({100 * (golf - r['lower_bound']) / r['lower_bound']:.2f} %)")  # fmt: skip
            out.append(
                f"| {r['nodes']} | {r['degree']} | {r['iters']:,} | {r['aspl']:.4f} | {100 * r['gap']:.2f} % "
                f"| {r['wall']:.1f} | {golf_text} |"
            )
    return "\n".join(out) + "\n"


def _notes(rows: Sequence[dict]) -> list[str]:
    notes = ["Remaining gap to the best published results (same n, k):", ""]
    for r in rows:
        if r["graph_golf"] is not None:
            notes.append(
                f"- n = {r['nodes']}, k = {r['degree']}: ASPL {r['aspl']:.4f} vs Graph Golf {r['graph_golf']:.3f}"
                f" (+{r['aspl'] - r['graph_golf']:.4f}; gap to the bound {100 * r['gap']:.2f} % vs"
                f" {100 * (r['graph_golf'] - r['lower_bound']) / r['lower_bound']:.2f} %)."
            )
    at_bound = [f"({r['nodes']}, {r['degree']})" for r in rows if r["reached_lower_bound"]]
    if at_bound:
        notes.append(f"- At the lower bound, hence optimal: {', '.join(at_bound)}.")
    notes += [
        "- Graph Golf entries come from tuned annealing with 10⁶–10⁸ evaluations in compiled code, often under a"
        " rotational-symmetry constraint; this generator spends seconds in numpy. The default budget is in swap"
        f" trials (n = 64, k = 8: {default_iters(64, 8):,}), so results are reproducible; `--iters`/`--seconds`"
        " buy more search (see *Longer budgets*), with diminishing returns.",
    ]
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.graphs", description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="BENCHMARKS.md", help="markdown file to update (default: %(default)s)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    speed = []
    for n, k in SPEED_CONFIGS:
        speed.append(aspl_speed(n, k))
        s = speed[-1]
        print(f"aspl n={n:4d} k={k:2d}: {s['ours_ms']:.3f} ms vs networkx {s['networkx_ms']:.1f} ms "
              f"({s['speedup']:.0f}x)", flush=True)  # fmt: skip
    rows = []
    for n, k in GRAPH_CONFIGS:
        rows.append(graph_row(n, k))
        r = rows[-1]
        print(f"graph n={n:4d} k={k:2d}: aspl {r['aspl']:.4f} (bound {r['lower_bound']:.4f}, gap "
              f"{100 * r['gap']:.2f} %) in {r['wall']:.2f} s", flush=True)  # fmt: skip
    strategies = []
    for k in STRATEGY_DEGREES:
        for strategy, start in STRATEGY_RUNS:
            strategies.append(strategy_row(64, k, strategy, start))
            r = strategies[-1]
            print(f"strategy k={k:2d} {strategy:9s} {start:6s}: aspl {r['aspl']:.4f} in {r['wall']:.2f} s", flush=True)
    long_runs = []
    for n, k, iters in LONG_RUNS:
        long_runs.append(strategy_row(n, k, DEFAULT_STRATEGY, "random", iters=iters))
        r = long_runs[-1]
        print(f"long n={n:4d} k={k:2d} iters={iters:,}: aspl {r['aspl']:.4f} in {r['wall']:.1f} s", flush=True)
    command = "make bench  # = python -m benchmarks.graphs"
    section = render(rows, speed, machine(), command, time.perf_counter() - t0, strategies, long_runs)
    write_section(args.output, "graphs", section)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
