"""Accuracy against parameter or MAC reduction, on a log-compression axis, with published points."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from rgp_bench.report.columns import metric_text
from rgp_bench.report.groups import Group
from rgp_bench.report.plots import canvas
from rgp_bench.report.plots.axes import (
    DODGE,
    X_TIE,
    compression,
    from_compression,
    from_log_compression,
    log2_ticks,
    log_compression,
    set_x_axis,
    times,
)
from rgp_bench.report.plots.canvas import DOUBLE_COLUMN, MIN_FONT, PlotResult, Skipped, new_canvas
from rgp_bench.report.plots.references import Published, draw_dense, draw_published, is_dense_entry
from rgp_bench.report.plots.series import (
    column_stat,
    draw_pareto,
    draw_series,
    make_series,
    series_xs,
    single_point_reason,
)


def tradeoff_plot(
    groups: Sequence[Group],
    published: Published,
    axis: str,
    metric: str,
    title: str,
    path: Path,
    width: float = DOUBLE_COLUMN,
) -> PlotResult:
    """Accuracy vs `axis` ('params' or 'macs') reduction: one line per method (error bars = std over seeds),
    published points as large markers, the dense model's accuracy and the Pareto front of the group means.

    The x axis is spaced by log compression (1 / (1 - reduction)): compression factors (2×, 4×, 8×, ...) below,
    the reductions they stand for on top. `width`: the figure's width in inches (canvas.SINGLE_COLUMN or
    DOUBLE_COLUMN). Returns the PNG's path (SVG beside it), Skipped when every series has a single point and
    nothing is published, None when there is nothing to draw.
    """
    column = f"{axis}_reduction"
    x = column_stat(column)
    series = make_series(groups, x)
    pub = [(s, e, 100 * value, e.top1) for s, e in published
           if (value := getattr(e, column)) is not None and not is_dense_entry(e)]
    if not series and not pub:
        return None
    reason = single_point_reason(series, len(pub))
    if reason:
        return Skipped(reason)
    c = new_canvas(width)
    c.ax.set_xscale("function", functions=(log_compression, from_log_compression))
    xs = series_xs(series, x, 100.0)
    lo, hi = set_x_axis(c, [v for row in xs for v in row] + [v for *_, v, _ in pub], log_compression,
                        from_log_compression, (), lambda v: f"{v:g}")
    # Even ticks: compression factors (powers of two) below, the reductions they stand for on top.
    factors = log2_ticks(lo, hi)
    c.ax.xaxis.set_major_locator(FixedLocator([float(from_compression(f)) for f in factors]))
    c.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: times(float(compression(v)))))
    means = draw_series(c, series, xs, x, 100.0, log_compression, from_log_compression, DODGE * (hi - lo))
    draw_pareto(c, series, means, X_TIE, "compression")
    draw_dense(c, groups, published)
    draw_published(c, pub)
    top = c.ax.secondary_xaxis("top")
    top.xaxis.set_major_locator(FixedLocator([float(from_compression(f)) for f in factors]))
    top.xaxis.set_minor_locator(NullLocator())
    top.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.3g}"))
    top.tick_params(labelsize=MIN_FONT)
    what = "parameter" if axis == "params" else "MAC"
    top.set_xlabel(f"{what} reduction (% of the dense model removed)", fontsize=MIN_FONT)
    return canvas.finish(c, title, f"{what} compression (dense ÷ remaining, log scale)", metric_text(metric), path)
