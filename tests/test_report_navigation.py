"""A report a reader can find their way in: a table of contents whose anchors exist, every linked file beside the
report (still there after the folder is moved), tables narrow enough for a laptop screen, and the compact
method × ratio table written on its own."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from tests.test_report import build_report, write_job
from tests.test_report_figures import rich_record

from rgp_bench.report import Report

SCREEN_PX = 1340  # the page's content width (a 1400 px screen less its margins)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Report:
    root = tmp_path_factory.mktemp("nav")
    for method in ("rgp", "magnitude"):
        for ratio in (0.5, 0.9):
            for seed in (0, 1):
                write_job(root / "outputs" / f"{method}-{ratio}-{seed}", None, rich_record(method, ratio, seed))
    return build_report([root / "outputs"], root / "report")


def _links(text: str) -> list[str]:
    """Relative links of a Markdown or HTML page (images and anchors to files, not data: URIs or #anchors)."""
    found = re.findall(r"\]\(([^)#]+)\)", text) + re.findall(r'(?:href|src)="([^"#]+)"', text)
    return [x for x in found if not x.startswith(("data:", "http"))]


def test_every_linked_file_exists_after_the_folder_is_moved(small: Report, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "my report"
    shutil.copytree(small.files["html"].parent, moved)
    shutil.rmtree(small.files["html"].parent)  # nothing may point back to where it was built
    try:
        for page in ("report.md", "report.html", "summary.md"):
            links = _links((moved / page).read_text())
            if page != "summary.md":
                assert {Path(x).suffix for x in links} >= {".svg", ".pdf", ".png"}, page
            for link in links:
                assert not Path(link).is_absolute(), link
                assert (moved / html.unescape(link)).is_file(), f"{page}: {link} is missing"
    finally:
        shutil.copytree(moved, small.files["html"].parent)


def test_table_of_contents_links_to_every_section(small: Report) -> None:
    page = small.files["html"].read_text()
    toc = re.search(r'<nav class="toc">(.*?)</nav>', page)
    assert toc, "no table of contents"
    targets = re.findall(r'href="#([^"]+)"', toc.group(1))
    ids = set(re.findall(r'<h[23] id="([^"]+)"', page))
    assert len(targets) == page.count("<h2 ") and set(targets) <= ids
    md = small.files["markdown"].read_text()
    assert "- [Summary: method × ratio](#summary-method--ratio)" in md  # GitHub's anchor for that heading


def _estimated_width(table: str) -> float:
    """A table's width in px at the report's font: ~7.6 px per character of the widest cell of each column (headers
    wrap: their longest word) plus the cell padding."""
    rows = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r) for r in re.findall(r"<tr>(.*?)</tr>", table)]
    width = 0.0
    for i in range(len(rows[0])):
        head = max(len(w) for w in html.unescape(rows[0][i]).split())
        cells = max((len(html.unescape(r[i])) for r in rows[1:] if i < len(r)), default=0)
        width += 7.6 * max(head, cells) + 18
    return width


def test_tables_fit_a_laptop_screen(small: Report) -> None:
    tables = re.findall(r"<table.*?</table>", small.files["html"].read_text())
    assert len(tables) >= 4
    for t in tables:
        assert _estimated_width(t) <= SCREEN_PX, t[:300]


def test_summary_file_holds_the_compact_tables(small: Report) -> None:
    summary = small.files["summary"].read_text()
    assert summary.startswith("Test top-1 (best_val, %), mean ± std over seeds")
    assert "| method | regime | epochs | dense | 0.5 | 0.9 |" in summary
    assert "| rgp | scratch | 5 | n/a | 89.65 ± 0.21 (2)" in summary
    assert summary.split("### ")[1] in small.files["markdown"].read_text()  # the report has the same tables
