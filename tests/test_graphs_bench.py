"""The graphs recipe's rendering and section writer, on fixed rows (the recipe itself runs in `make bench`)."""

from __future__ import annotations

from benchmarks import graphs as recipe
from benchmarks.graphs import AsplTiming, GraphRows, GraphRun, render, target
from benchmarks.markdown import Provenance, write_section

MACHINE = {"cpu": "Test CPU", "cores": "2", "python": "3.11", "os": "Linux", "numpy": "2.4", "networkx": "3.6"}


def _run(nodes: int, degree: int, aspl: float, *, wall: float = 1.0, bound: float = 1.5, at_bound: bool = False,
         strategy: str = "anneal", iters: int | None = 1000) -> GraphRun:
    return GraphRun(nodes, degree, strategy, "random", iters, aspl, bound, (aspl - bound) / bound, 3, at_bound,
                    2000, 40, 1500, wall, wall)


ROWS = GraphRows(
    Provenance("python -m benchmarks.graphs", "2026-01-02 03:04 UTC", 42.0, MACHINE),
    timings=(AsplTiming(64, 8, 2.1771, 0.1, 1.5), AsplTiming(512, 8, 3.2644, 0.5, 100.0)),
    graphs=(_run(64, 8, 1.9762, bound=1.8730), _run(64, 16, 1.7460, wall=2.0, bound=1.7460, at_bound=True),
            _run(256, 16, 2.1600, bound=1.9373)),
    strategies=(_run(64, 4, 3.0179, bound=2.8571, strategy="reference", iters=None),),
    long_runs=(_run(64, 8, 1.9658, bound=1.8730, iters=20_000_000),),
)


def test_write_section_creates_and_replaces_only_its_section(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    begin, end = "<!-- graphs:begin -->", "<!-- graphs:end -->"
    write_section(path, "graphs", "first run")
    text = path.read_text()
    assert text.startswith("# ") and begin in text and "first run" in text
    path.write_text(text + "\n<!-- other:begin -->\nother section\n<!-- other:end -->\n")
    write_section(path, "graphs", "second run")
    text = path.read_text()
    assert "second run" in text and "first run" not in text and "other section" in text
    assert text.count(begin) == 1 and text.count(end) == 1


def test_render_shows_every_table_from_the_rows():
    text = render(ROWS)
    assert text == render(ROWS)  # the same rows give the same markdown (no clock, no machine lookups)
    lines = text.splitlines()
    assert lines[0] == "## Regular-graph generator (`rgp_bench.graphs`)"
    assert "- Command: `python -m benchmarks.graphs` (whole run 42 s)" in lines
    assert "- Date: 2026-01-02 03:04 UTC" in lines and "- Machine: Test CPU, 2 cores; Linux" in lines
    assert "| 512 | 8 | 3.2644 | 0.500 | 100.0 | 200× |" in lines
    assert "Target ≥ 100× at n = 512, k = 8: **met** (200×)." in lines
    assert ("| 64 | 8 | 1.9762 | 1.8730 | 5.51 % | 3 | 1.00 | 2,000 / 40 | 1,500 | 2.128 | 1.927 (2.88 %) "
            "| < 2.128 in ≤ 10 s | met |") in lines
    assert "| 64 | 16 | 1.7460 | 1.7460 | 0.00 % | 3 | 2.00 | 2,000 / 40 | 750 | 1.746 | n/a | bound in ≤ 1 s " \
           "| **NOT met** |" in lines  # at the bound, but slower than the target's second
    assert "| 256 | 16 | 2.1600 | 1.9373 | 11.50 % | 3 | 1.00 | 2,000 / 40 | 1,500 | n/a | n/a |  |  |" in lines
    assert "- At the lower bound, hence optimal: (64, 16)." in lines
    assert any(line.startswith("- n = 64, k = 8: ASPL 1.9762 vs Graph Golf 1.927 (+0.0492") for line in lines)
    assert "| 4 | reference | random | 3.0179 | 5.63 % | 1.00 | 2,000 / 40 | 3.046 |" in lines
    assert "| 64 | 8 | 20,000,000 | 1.9658 | 4.95 % | 1.0 | 1.927 (2.88 %) |" in lines


def test_render_leaves_out_what_was_not_measured():
    text = render(GraphRows(ROWS.provenance, ROWS.timings[:1], ROWS.graphs[:1]))
    assert "Target ≥ 100×" not in text and "### Strategies" not in text and "### Longer budgets" not in text


def test_targets_follow_the_issue():
    assert target(_run(64, 4, 3.0, wall=9.0)) == ("< 3.046 in ≤ 10 s", True)
    assert target(_run(64, 4, 3.1, wall=9.0))[1] is False  # above the authors' best
    assert target(_run(64, 4, 3.0, wall=11.0))[1] is False  # too slow
    assert target(_run(64, 14, 1.7778, wall=0.5, at_bound=True)) == ("bound in ≤ 1 s", True)
    assert target(_run(64, 14, 1.78, wall=0.5))[1] is False
    assert target(_run(512, 8, 3.2)) == ("", None)


def test_graph_run_reads_build_graph_info():
    info = {"nodes": 16, "degree": 4, "strategy": "greedy", "start": "ring", "iters": 500, "aspl": 2.0,
            "lower_bound": 1.9, "gap": 0.05, "diameter": 3, "reached_lower_bound": False, "swaps_tried": 500,
            "swaps_accepted": 7, "evaluations": 400, "seconds": 0.1, "clustering": 0.2, "cache_hit": False}
    run = GraphRun.of(info, 0.25)
    assert (run.nodes, run.strategy, run.start, run.iters, run.swaps_accepted, run.wall) == (16, "greedy", "ring",
                                                                                           500, 7, 0.25)


def test_the_quick_plan_is_a_subset_of_the_full_one():
    assert set(recipe.QUICK.graphs) <= set(recipe.FULL.graphs)
    assert set(recipe.QUICK.strategy_degrees) <= set(recipe.FULL.strategy_degrees)
