"""Published numbers for the same datasets and models, with their sources and conventions."""

from __future__ import annotations

from rgp_bench.report import published
from rgp_bench.report.published import PublishedEntry, PublishedSource
from rgp_bench.report.render import Document, TableColumn, fnum, pct
from rgp_bench.report.sections.base import ReportData

Matched = tuple[PublishedSource, PublishedEntry]
COLUMNS: tuple[TableColumn[Matched], ...] = (
    TableColumn("source", lambda m: m[0].short),
    TableColumn("dataset", lambda m: m[1].dataset),
    TableColumn("model", lambda m: m[1].model),
    TableColumn("method", lambda m: m[1].method),
    TableColumn("label", lambda m: m[1].label),
    TableColumn("params red.", lambda m: pct(m[1].params_reduction), numeric=True),
    TableColumn("MACs red.", lambda m: pct(m[1].macs_reduction), numeric=True),
    TableColumn("top-1", lambda m: ("~" if m[1].approximate else "") + fnum(m[1].top1), numeric=True),
    TableColumn("top-5", lambda m: fnum(m[1].top5), numeric=True),
    TableColumn("ASPL", lambda m: fnum(m[1].aspl, 3), numeric=True),
)


def published_section(doc: Document, d: ReportData) -> None:
    """Published numbers for the same datasets and models, with their sources and conventions."""
    sources, pairs = d.sources, d.pairs
    doc.h2("Published reference numbers")
    matched = [(s, e) for ds, model in pairs for s, e in published.matching(sources, ds, model)]
    if not sources:
        doc.p("No baselines folder was found (set RGP_BENCH_BASELINES or run from the repository root).")
        return
    if not matched:
        doc.p(
            f"None of the {sum(len(s.entries) for s in sources)} published entries in {len(sources)} sources "
            "matches a dataset/model of these runs."
        )
        return
    doc.p(
        "Copied from the sources below, never re-measured: conventions differ from this benchmark (nominal "
        "vs exact reductions, FLOPs vs MACs, unknown epoch selection). Values read off a figure carry about "
        "±0.2 points; `~` marks harder readings."
    )
    doc.columns_table(COLUMNS, matched)
    used = {s.source["id"]: s for s, _ in matched}
    for s in used.values():
        c, src = s.convention, s.source
        ref = "; ".join(f"{k} {src[k]}" for k in ("arxiv", "doi", "url", "commit") if src.get(k))
        doc.p(
            f"{s.short}: {' '.join(str(src['citation']).split())} {src['where']}. {ref}. Convention: "
            f"{c['reduction']} reduction, cost in {c['cost_unit']}, ratio of {c['ratio_basis']} "
            f"({c['published_as']}), accuracy {'/'.join(c['accuracy'])} at {c['accuracy_epoch']} epoch"
            + (f", read off a figure (±{c.get('uncertainty')})" if c["read_off_figure"] else "")
            + "."
        )
