"""Accuracy against parameter or MAC reduction, on a log-compression axis, with published points."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from rgp_bench.report.columns import metric_text
from rgp_bench.report.groups import Group
from rgp_bench.report.plots import canvas
from rgp_bench.report.plots.axes import (
    COMPRESSION_TICKS,
    DODGE,
    POWERS_OF_TWO,
    REDUCTION_TICKS,
    compression,
    from_compression,
    from_log_compression,
    log_compression,
    set_x_axis,
    spaced,
)
from rgp_bench.report.plots.canvas import PlotResult, Skipped, new_canvas
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
) -> PlotResult:
    """Accuracy vs `axis` ('params' or 'macs') reduction: one line per method (error bars = std over seeds),
    published points as large markers, the dense model's accuracy and the Pareto front of the group means.

    The x axis is spaced by log compression (1 / (1 - reduction)): reductions below, compression (2×, 4×,
    8×, ...) on top. Returns the PNG's path (SVG beside it), Skipped when every series has a single point and
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
    c = new_canvas()
    c.ax.set_xscale("function", functions=(log_compression, from_log_compression))
    xs = series_xs(series, x, 100.0)
    lo, hi = set_x_axis(c, [v for row in xs for v in row] + [v for *_, v, _ in pub], log_compression,
                        from_log_compression, REDUCTION_TICKS, lambda v: f"{v:g}")
    means = draw_series(c, series, xs, x, 100.0, log_compression, from_log_compression, DODGE * (hi - lo))
    draw_pareto(c, series, means)
    draw_dense(c, groups, published)
    draw_published(c, pub)
    top = c.ax.secondary_xaxis("top", functions=(compression, from_compression))
    ticks = spaced(POWERS_OF_TWO, np.log2, lo, hi, 0.0)
    if len(ticks) < 3:
        ticks = spaced(COMPRESSION_TICKS, np.log2, lo, hi, (hi - lo) / 8)
    top.xaxis.set_major_locator(FixedLocator(ticks))
    top.xaxis.set_minor_locator(NullLocator())
    top.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}×"))
    top.tick_params(labelsize=8)
    what = "parameter" if axis == "params" else "MAC"
    top.set_xlabel(f"{what} compression (dense ÷ remaining, log scale)", fontsize=9)
    return canvas.finish(c, title, f"{what} reduction (% of the dense model removed)", metric_text(metric), path)
