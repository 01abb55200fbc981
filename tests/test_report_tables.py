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
from rgp_bench.report import main, stats
from rgp_bench.report.render import Document, to_html, to_markdown


def _runs(root: Path, accs: dict[tuple[str, float], float]) -> Path:
    out = root / "outputs"
    for (method, ratio), acc in accs.items():
        for seed in (0, 1):
            write_job(out / f"{method}-{ratio}-{seed}", None, record(method, ratio, seed, acc + seed, acc))
    return out


NOISE = (0.0, 0.3, -0.2, 0.1, 0.4)  # per seed


def _seeded(root: Path, accs: dict[tuple[str, float], float], seeds: int = 5) -> Path:
    """Runs of 5 seeds; each method's seed noise is shifted so that paired differences are not constant."""
    out = root / "outputs"
    for k, ((method, ratio), acc) in enumerate(accs.items()):
        for seed in range(seeds):
            value = acc + NOISE[(seed + k) % len(NOISE)]
            write_job(out / f"{method}-{ratio}-{seed}", None, record(method, ratio, seed, value, value))
    return out


def test_bold_only_when_a_holm_corrected_paired_test_says_so(tmp_path: Path) -> None:
    # rgp and random share a cell (scratch); magnitude (finetune) is alone in its cell: nothing to beat
    out = _seeded(tmp_path, {("rgp", 0.5): 90.0, ("random", 0.5): 80.0, ("magnitude", 0.5): 95.0,
                             ("rgp", 0.9): 85.0, ("random", 0.9): 84.9})
    report = build_report([out], tmp_path / "r")
    marks = {(g["method"], g["ratio"]): (g["best"], g["tied"]) for g in report.groups}
    assert marks[("rgp", 0.5)] == (True, False) and marks[("random", 0.5)] == (False, False)
    assert marks[("magnitude", 0.5)] == (False, False)  # the highest mean of the ratio, but in another regime
    assert marks[("rgp", 0.9)] == (False, True) and marks[("random", 0.9)] == (False, True)  # p > 0.05: a tie
    (rgp,) = [g for g in report.groups if (g["method"], g["ratio"]) == ("rgp", 0.5)]
    assert rgp["best_p_holm"] < 0.05
    md = report.files["markdown"].read_text()
    assert "| **90.12 ± 0.24** |" in md and "Holm-corrected over the table's comparisons" in md
    assert "85.02 ± 0.24 ≈" in md and "2 tests" in md
    html = report.files["html"].read_text()
    assert html.count('class="num best"') == 2  # the results table and the compact table
    summary = report.files["summary"].read_text()
    assert "**90.12 ± 0.24 (5)**" in summary and "85.12 ± 0.24 (5) ≈" in summary


def test_holm_adjusts_step_down() -> None:
    assert stats.holm([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06], nan_ok=True)
    assert stats.holm([]) == []


def test_results_table_scrolls_in_a_frame_with_sticky_first_columns(tmp_path: Path) -> None:
    report = build_report([_runs(tmp_path, {("rgp", 0.5): 90.0, ("random", 0.5): 80.0})], tmp_path / "r")
    html = report.files["html"].read_text()
    table, _details = re.findall(r'<div class="frame"><table data-sticky="(\d+)">(.*?)</table></div>', html)[1:]
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
