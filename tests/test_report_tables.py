"""Report tables and CLI on fabricated records: best method per ratio, the HTML table frame with sticky first
columns, the CSV's columns, lenient method_info columns and a missing input path."""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import pytest
from tests.test_report import build_report, record, write_job

from rgp_bench.record.schema import BudgetFacts
from rgp_bench.report import main
from rgp_bench.report.columns import Stat
from rgp_bench.report.groups import Group, mark_best
from rgp_bench.report.render import Document, to_html, to_markdown


def _runs(root: Path, accs: dict[tuple[str, float], float]) -> Path:
    out = root / "outputs"
    for (method, ratio), acc in accs.items():
        for seed in (0, 1):
            write_job(out / f"{method}-{ratio}-{seed}", None, record(method, ratio, seed, acc + seed, acc))
    return out


def test_best_method_per_ratio_is_marked(tmp_path: Path) -> None:
    out = _runs(tmp_path, {("rgp", 0.5): 90.0, ("magnitude", 0.5): 91.0, ("rgp", 0.9): 85.0,
                           ("magnitude", 0.9): 84.0, ("random", 0.95): 70.0})
    report = build_report([out], tmp_path / "r")
    best = {(g["method"], g["ratio"]) for g in report.groups if g["best"]}
    assert best == {("magnitude", 0.5), ("rgp", 0.9)}  # random is alone at 0.95: nothing to beat
    md = report.files["markdown"].read_text()
    assert "| **91.50 ± 0.71** |" in md and "| 90.50 ± 0.71 |" in md and "| 70.50 ± 0.71 |" in md
    html = report.files["html"].read_text()
    assert html.count('class="num best"') == 2 and '<td class="num best">85.50 ± 0.71</td>' in html


def test_mark_best_ties_and_budget_bases() -> None:
    def g(method: str, acc: float | None, budget: str = "weights") -> Group:
        return Group(dataset="d", model="m", regime="scratch", ratio=0.5, budget=budget, method=method, acc=Stat(acc))

    groups = [g("a", 90.0), g("b", 90.0), g("c", 89.0), g("d", None), g("e", 95.0, "macs")]
    mark_best(groups)
    assert [x.best for x in groups] == [True, True, False, False, False]


def test_results_table_scrolls_in_a_frame_with_sticky_first_columns(tmp_path: Path) -> None:
    report = build_report([_runs(tmp_path, {("rgp", 0.5): 90.0, ("random", 0.5): 80.0})], tmp_path / "r")
    html = report.files["html"].read_text()
    (table,) = re.findall(r'<div class="frame"><table data-sticky="(\d+)">(.*?)</table></div>', html)
    assert table[0] == "5"
    head = re.findall(r"<th([^>]*)>([^<]*)</th>", table[1])
    assert [name for cls, name in head if "sticky" in cls] == ["dataset", "model", "ratio", "budget", "method"]
    assert 'class="sticky edge">rgp</td>' in table[1]  # the last fixed column carries the edge
    assert "<script>" in html and "data-sticky" in html and ".frame{overflow:auto" in html


def test_document_renders_highlight_and_sticky() -> None:
    doc = Document("t")
    doc.table(["a", "b"], [["x", "1"], ["y", "2"]], numeric=(1,), highlight=[(1, 1)], sticky=1)
    md = to_markdown(doc, Path("."))
    assert "| y | **2** |" in md and "| x | 1 |" in md
    html = to_html(doc)
    assert '<td class="num best">2</td>' in html and '<td class="sticky edge">x</td>' in html


def test_csv_and_rows_have_no_private_columns(tmp_path: Path) -> None:
    report = build_report([_runs(tmp_path, {("rgp", 0.5): 90.0})], tmp_path / "r")
    with report.files["csv"].open(newline="") as fh:
        header = next(csv.reader(fh))
    assert not [c for c in header if c.startswith("_")] and "speedup" in header and "search_seconds" in header
    assert not [k for r in report.rows for k in r if k.startswith("_")]


def test_method_info_of_another_shape_is_not_corrupt(tmp_path: Path) -> None:
    rec = record("rgp", 0.5, 0, 90.0, 90.0, info={"search": "greedy"})  # method-specific, not a search record
    write_job(tmp_path / "o" / "a", None, rec)
    report = build_report([tmp_path / "o"], tmp_path / "r")
    assert len(report.rows) == 1 and report.rows[0]["search_seconds"] is None and not report.problems


def test_cli_warns_about_a_missing_path_and_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = _runs(tmp_path, {("rgp", 0.5): 90.0})
    missing = tmp_path / "multirun"
    with caplog.at_level(logging.WARNING, logger="rgp_bench.report.collect"):
        code = main([str(out), str(missing), "--out", str(tmp_path / "r"), "--no-baselines"])
    assert code == 0 and "2 runs" in capsys.readouterr().out
    assert [r.getMessage() for r in caplog.records] == [f"path not found, skipped: {missing}"]
    assert (tmp_path / "r" / "report.html").is_file()


def test_a_group_that_missed_its_ratio_is_marked_and_never_best(tmp_path: Path) -> None:
    # RGP's k >= 2 of n = 25 nodes stops at 92 % when 97 % is asked: more accurate, but not at the same budget.
    out = tmp_path / "outputs"
    for seed in (0, 1):
        for method, acc, achieved in (("rgp", 80.0, 0.92), ("random", 50.0, 0.9701)):
            rec = record(method, 0.97, seed, acc + seed, acc)
            rec.sparsity.achieved = achieved
            rec.budget = BudgetFacts(basis="weights", requested=0.97, achieved=achieved)
            write_job(out / f"{method}-{seed}", None, rec)
    report = build_report([out], tmp_path / "r")
    flags = {g["method"]: (g["off_target"], g["best"]) for g in report.groups}
    assert flags == {"rgp": (True, False), "random": (False, False)}  # the only on-target group beats nobody
    md = report.files["markdown"].read_text()
    assert "| rgp † | scratch |" in md and "| random | scratch |" in md
    assert "†: at least one run of the group achieved a reduction more than 1% away from its ratio" in md
    (diff,) = [c for c in report.comparisons if c["method"] == "rgp"]
    assert diff["off_target"] and "Its difference is not a comparison at equal budget." in md
