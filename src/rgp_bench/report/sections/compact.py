"""The paper's table: methods as rows, ratios as columns, mean ± std per cell, per (dataset, model) and budget basis;
also written on its own as summary.md, which a README can include verbatim."""

from __future__ import annotations

from collections.abc import Sequence

from rgp_bench.report.emphasis import CORRECTION_TEXT
from rgp_bench.report.groups import Group, natural_key
from rgp_bench.report.render import Document, Table, pm
from rgp_bench.report.sections.base import ReportData, flagged, ratio_text
from rgp_bench.report.sections.results import TIED_MARK

SUMMARY_FILE = "summary.md"
_BASIS = {"weights": "weight budgets (ratio: fraction of prunable weights removed)",
          "macs": "MAC budgets (ratio: fraction of the model's MACs removed)"}


def legend_text(metric: str) -> str:
    """What the compact tables show and how they mark the best."""
    return (f"Test top-1 ({metric}, %), mean ± std over seeds (n in brackets); methods as rows, pruning ratios as "
            "columns, the dense column is the unpruned model in the same regime and for the same total epochs. "
            "Bold: better than every other method of its column with the same regime and epochs by a paired t-test "
            f"across seeds, {CORRECTION_TEXT}; {TIED_MARK}: tied for best (no test tells them apart); † : the method "
            "could not reach the ratio.")


def compact_blocks(d: ReportData) -> Document:
    """The compact tables of every (dataset, model) and budget basis, as a document without a title."""
    doc = Document("")
    for ds, model in d.pairs:
        mine = [g for g in d.groups if (g.dataset, g.model) == (ds, model) and not g.is_dense]
        for basis in sorted({g.budget for g in mine}, key=lambda b: b != "weights"):
            doc.h3(f"{ds} / {model}, {_BASIS.get(basis, basis)}")
            doc.blocks.append(compact_table([g for g in mine if g.budget == basis]))
    return doc


def compact_table(groups: Sequence[Group]) -> Table:
    """Rows: (method, regime, epochs); columns: dense, then each ratio; bold and ≈ as in the results table."""
    ratios = sorted({g.ratio for g in groups if g.ratio is not None})
    rows: dict[tuple[str, str, str], dict[float | None, Group]] = {}
    for g in groups:
        rows.setdefault((g.label, g.regime or "n/a", "mixed" if g.epochs is None else str(g.epochs)), {})[g.ratio] = g
    order = sorted(rows, key=lambda k: (natural_key(k[0]), k[1], natural_key(k[2])))
    table = Table(["method", "regime", "epochs", "dense", *(ratio_text(r) for r in ratios)], [],
                  numeric=set(range(3, 4 + len(ratios))), sticky=1)
    for i, key in enumerate(order):
        cells = rows[key]
        dense = next((g.dense for g in cells.values() if g.dense is not None), None)
        off = any(g.off_target for g in cells.values())
        table.rows.append([flagged(key[0], off), key[1], key[2], _cell(dense) if dense else "n/a",
                           *(_cell(cells[r]) if r in cells else "" for r in ratios)])
        table.highlight |= {(i, 4 + j) for j, r in enumerate(ratios) if r in cells and cells[r].best}
    return table


def _cell(g: Group) -> str:
    mark = f" {TIED_MARK}" if g.tied else ""
    off = " †" if g.off_target else ""
    return f"{pm(g.acc.mean, g.acc.std)} ({g.n}){mark}{off}"


def compact_section(doc: Document, d: ReportData) -> None:
    """The paper's table per (dataset, model) and budget basis (also written as summary.md)."""
    if not any(not g.is_dense for g in d.groups):
        return
    doc.h2("Summary: method × ratio")
    doc.p(legend_text(d.metric) + f" The same tables are in `{SUMMARY_FILE}` beside this report.")
    doc.blocks += compact_blocks(d).blocks
