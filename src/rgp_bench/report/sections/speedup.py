"""Accuracy against the measured inference speed-up, where records carry cost.latency."""

from __future__ import annotations

from functools import partial

from rgp_bench.report.figures import Pair
from rgp_bench.report.render import Document
from rgp_bench.report.sections.base import ReportData, show_figures


def speedup_section(doc: Document, d: ReportData) -> None:
    """Accuracy against the measured inference speed-up, where records carry cost.latency."""
    if not any(d.figures.of(pair, "speedup") for pair in d.pairs):
        return
    doc.h2("Accuracy vs measured speed-up")
    doc.p("Speed-up: inference time of the dense model over the pruned one (cost.latency.speedup: the "
          "materialised form where there is one, else the masked model), mean ± std over seeds, on the machine "
          "that ran them; the dense model is at 1×. Masked models compute every weight, so only a materialised "
          "form (channels removed, block-sparse kernels) can be faster.")
    for pair in d.pairs:
        show_figures(doc, d.figures, pair, "speedup", partial(_alt, pair))


def _alt(pair: Pair, _kind: str) -> str:
    return f"{pair[0]} / {pair[1]}: accuracy vs measured speed-up"
