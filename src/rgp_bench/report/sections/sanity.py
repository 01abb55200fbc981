"""Sanity-checked runs against the same method without the check (only when there are any)."""

from __future__ import annotations

from rgp_bench.report.compare import SanityCheck
from rgp_bench.report.render import Document, TableColumn, fnum, pval, signed
from rgp_bench.report.sections.base import ReportData, ratio_text

COLUMNS: tuple[TableColumn[SanityCheck], ...] = (
    TableColumn("dataset", lambda c: c.group.dataset),
    TableColumn("model", lambda c: c.group.model),
    TableColumn("ratio", lambda c: ratio_text(c.group.ratio), numeric=True),
    TableColumn("budget", lambda c: c.group.budget),
    TableColumn("method", lambda c: c.plain.label),
    TableColumn("check", lambda c: c.group.sanity),
    TableColumn("pairs", lambda c: str(c.pairs.n_pairs), numeric=True),
    TableColumn("plain", lambda c: fnum(c.pairs.b_mean), numeric=True),
    TableColumn("checked", lambda c: fnum(c.pairs.a_mean), numeric=True),
    TableColumn("diff", lambda c: signed(c.pairs.mean_diff), numeric=True),
    TableColumn("p", lambda c: pval(c.pairs.p_value), numeric=True),
    TableColumn("verdict", lambda c: "learns only layer densities" if c.learns_only_densities else ""),
)


def sanity_section(doc: Document, d: ReportData) -> None:
    """Sanity-checked runs against the same method without the check (only when there are any)."""
    if not d.sanity:
        return
    doc.h2("Sanity checks (paired by seed)")
    doc.p(
        "Each sanity-checked group against the same method, settings and ratio without the check: `shuffle` "
        "permutes each layer's mask within the layer (keeping layer densities), `reinit` draws new weights under "
        "the same masks, `invert` keeps the lowest-scored weights. A method whose accuracy does not drop under "
        "`shuffle` (the paired mean difference is not below zero by more than its standard error) learns only "
        "its layer densities, not which weights to keep (Frankle et al., ICLR 2021; Su et al., NeurIPS 2020)."
    )
    doc.columns_table(COLUMNS, d.sanity)
