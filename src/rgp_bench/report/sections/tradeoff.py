"""Accuracy against parameter and MAC reduction, with published markers."""

from __future__ import annotations

from functools import partial

from rgp_bench.report.figures import Pair
from rgp_bench.report.render import Document
from rgp_bench.report.sections.base import ReportData, show_figures

KINDS = ("params", "macs")


def tradeoff_section(doc: Document, d: ReportData) -> None:
    """Accuracy against parameter and MAC reduction, with published markers."""
    doc.h2("Accuracy vs parameter and MAC reduction")
    doc.p(
        "Lines: this benchmark's runs, mean ± std over seeds, one colour and marker per method (the same in "
        "every report); each point is labelled with its number of seeds n, and single-seed points are hollow. "
        "Points of different methods at the same reduction are spread slightly sideways. The x axis is spaced "
        "by compression (dense ÷ remaining, log scale, on top); the grey band is the Pareto front of the "
        "group means (no other group is both more reduced and more accurate); the horizontal lines are the "
        "plotted groups' dense references (method=dense and dense_finetune runs in the same regime and for the same "
        "total epochs; the legend names each regime and epoch count that has none). Large markers: published "
        "numbers from `baselines/` for the same dataset and model, labelled with their source and convention "
        "(nominal reductions overstate the exact ones; see the table below; `~` and a dashed edge mark "
        "approximate readings)."
    )
    for pair in d.pairs:
        if d.figures.of(pair, KINDS):
            doc.h3(f"{pair[0]} / {pair[1]}")
        show_figures(doc, d.figures, pair, KINDS, partial(_alt, pair))


def _alt(pair: Pair, kind: str) -> str:
    what = "parameter" if kind.startswith("params") else "MAC"
    budgets = " (MAC-budget methods)" if kind.endswith("_mac-budget") else ""
    return f"{pair[0]} / {pair[1]}: accuracy vs {what} reduction{budgets}"
