"""Things the reader should know (unchecked sweeps, dropped copies, published numbers left out ...)."""

from __future__ import annotations

from rgp_bench.report.render import Document
from rgp_bench.report.sections.base import ReportData


def notes_section(doc: Document, d: ReportData) -> None:
    """Things the reader should know."""
    if d.notes:
        doc.h2("Notes")
        for n in d.notes:
            doc.p(n)
