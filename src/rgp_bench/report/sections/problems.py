"""Failed, incomplete, missing and duplicate runs."""

from __future__ import annotations

from rgp_bench.report.problems import PROBLEM_STATUSES, Problem
from rgp_bench.report.render import Document, TableColumn
from rgp_bench.report.sections.base import ReportData

COLUMNS: tuple[TableColumn[Problem], ...] = (
    TableColumn("status", lambda p: p.status),
    TableColumn("run", lambda p: p.run),
    TableColumn("detail", lambda p: p.detail),
    TableColumn("path", lambda p: p.path),
)


def problems_section(doc: Document, d: ReportData) -> None:
    """Failed, incomplete, missing and duplicate runs."""
    doc.h2("Failed, incomplete and missing runs")
    if not d.problems:
        doc.p("None: every job found has a results.json and no sweep combination is missing.")
        return
    order = {s: i for i, s in enumerate(PROBLEM_STATUSES)}
    doc.columns_table(COLUMNS, sorted(d.problems, key=lambda p: (order.get(p.status, 9), p.path, p.detail)))
