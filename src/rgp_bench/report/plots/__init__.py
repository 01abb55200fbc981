"""Plots (matplotlib, Agg canvas, no pyplot global state), each written as PNG with an SVG beside it.

One module per figure kind: accuracy vs parameter/MAC reduction (`tradeoff`: a log-scale compression axis, the
dense reference and the Pareto front), accuracy vs measured speed-up (`speedup`), accuracy vs ASPL (`aspl`) and the
kept fraction per prunable layer (`density`); shared parts in `canvas`, `axes`, `series` and `references`. Every
method has one colour and marker in every plot (`report.style`); points of different methods at the same x
are dodged apart; single-seed points are hollow and each point is labelled with its n. A plot function
returns the PNG's path, `Skipped` when the plot would compare nothing, or None when there is nothing to draw.
"""

from rgp_bench.report.plots.aspl import aspl_plot
from rgp_bench.report.plots.axes import dodge, log2_ticks, pareto_front
from rgp_bench.report.plots.canvas import PlotResult, Skipped, pdf_path, safe_name, svg_path
from rgp_bench.report.plots.density import density_plot
from rgp_bench.report.plots.speedup import speedup_plot
from rgp_bench.report.plots.tradeoff import tradeoff_plot

__all__ = ["PlotResult", "Skipped", "aspl_plot", "density_plot", "dodge", "log2_ticks", "pareto_front", "pdf_path",
           "safe_name", "speedup_plot", "svg_path", "tradeoff_plot"]
