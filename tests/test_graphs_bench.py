"""The graphs benchmark writer (the benchmark itself runs via `make bench`, not in the test suite)."""

from __future__ import annotations

from benchmarks import graphs as bench
from benchmarks.markdown import write_section


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


def test_render_and_rows_on_a_tiny_case():
    speed = [bench.aspl_speed(64, 8)]
    row = bench.graph_row(64, 16)  # reaches the bound at once
    assert speed[0]["speedup"] > 1 and row["met"] in (True, False) and row["target"]
    text = bench.render([row], speed, bench.machine(), "make bench", 1.0)
    assert "| 64 | 16 |" in text and "networkx" in text and "n/a" in text
    assert bench.machine()["cores"]
