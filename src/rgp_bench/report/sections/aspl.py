"""Accuracy against the graph's ASPL, for every method whose records carry method_info.aspl."""

from __future__ import annotations

from functools import partial

from rgp_bench.report import stats
from rgp_bench.report.aspl import AsplStudy
from rgp_bench.report.figures import Pair
from rgp_bench.report.render import Document, TableColumn, interval, pval, signed
from rgp_bench.report.sections.base import ReportData, show_figures

COLUMNS: tuple[TableColumn[AsplStudy], ...] = (
    TableColumn("dataset", lambda s: s.dataset),
    TableColumn("model", lambda s: s.model),
    TableColumn("method", lambda s: s.method),
    TableColumn("graph", lambda s: s.graph),
    TableColumn("regime", lambda s: s.regime or "n/a"),
    TableColumn("epochs", lambda s: str(s.epochs_total), numeric=True),
    TableColumn("runs", lambda s: str(s.n_runs), numeric=True),
    TableColumn("graphs", lambda s: str(s.n_graphs), numeric=True),
    TableColumn("ASPL range", lambda s: f"{s.points[0].aspl:.3f} – {s.points[-1].aspl:.3f}"),
    TableColumn("Spearman rho", lambda s: signed(s.rho, 3), numeric=True),
    TableColumn("95 % CI", lambda s: interval(s.rho_ci, 3), numeric=True),
    TableColumn("p", lambda s: pval(s.p_value), numeric=True),
)


def aspl_section(doc: Document, d: ReportData) -> None:
    """Accuracy against the graph's ASPL, for every method whose records carry method_info.aspl."""
    doc.h2("Accuracy vs ASPL")
    if not d.studies:
        doc.p("No group of runs has 3 or more distinct graph ASPL values (method_info.aspl).")
        return
    doc.p(
        "Groups of runs of one method (same dataset, model, regime, nodes, degree and epochs) with at least 3 "
        "distinct graph ASPL values. Spearman's rho is over runs (scipy.stats.spearmanr), with a percentile "
        f"bootstrap 95 % confidence interval ({stats.BOOTSTRAP_RESAMPLES} resamples of the runs, seeded); the RGP "
        "paper claims a negative correlation."
    )
    doc.columns_table(COLUMNS, d.studies)
    for pair in d.pairs:
        show_figures(doc, d.figures, pair, "aspl", partial(_alt, pair))


def _alt(pair: Pair, _kind: str) -> str:
    return f"{pair[0]} / {pair[1]}: accuracy vs ASPL"
