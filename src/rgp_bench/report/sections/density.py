"""The kept fraction of every prunable layer, per method, at each ratio."""

from __future__ import annotations

from functools import partial

from rgp_bench.report.figures import Pair
from rgp_bench.report.render import Document
from rgp_bench.report.sections.base import ReportData, show_figures


def density_section(doc: Document, d: ReportData) -> None:
    """The kept fraction of every prunable layer, per method, at each ratio."""
    if not any(d.figures.of(pair, "density") for pair in d.pairs):
        return
    doc.h2("Kept fraction per prunable layer")
    doc.p("Density (fraction of weights kept) of each prunable layer in model order, from cost.layers, mean over "
          "seeds (band: ± std); one line per method at each ratio. For weight budgets the dashed line is the "
          "uniform allocation 1 − ratio.")
    for pair in d.pairs:
        if d.figures.of(pair, "density"):
            doc.h3(f"{pair[0]} / {pair[1]}")
        show_figures(doc, d.figures, pair, "density", partial(_alt, pair))


def _alt(pair: Pair, kind: str) -> str:
    ratio = kind.removeprefix("density_r").removesuffix("_mac-budget")
    budgets = ", MAC budget" if kind.endswith("_mac-budget") else ""
    return f"{pair[0]} / {pair[1]}, ratio {ratio}{budgets}: kept fraction per prunable layer"
