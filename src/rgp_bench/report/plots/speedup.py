"""Accuracy against the measured inference speed-up over the dense model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rgp_bench.report.columns import metric_text
from rgp_bench.report.groups import Group
from rgp_bench.report.plots import canvas
from rgp_bench.report.plots.axes import DODGE, SPEEDUP_TICKS, set_x_axis
from rgp_bench.report.plots.canvas import PlotResult, Skipped, new_canvas
from rgp_bench.report.plots.references import DENSE_COLOR, draw_dense
from rgp_bench.report.plots.series import (
    column_stat,
    draw_pareto,
    draw_series,
    make_series,
    series_xs,
    single_point_reason,
)

_speedup = column_stat("speedup")


def speedup_plot(groups: Sequence[Group], metric: str, title: str, path: Path) -> PlotResult:
    """Accuracy vs measured inference speed-up over the dense model (cost.latency.speedup, log scale), one line
    per method; the dense model sits at 1×. Skipped when every series has a single point."""
    series = make_series(groups, _speedup)
    if not series:
        return None
    reason = single_point_reason(series, None)
    if reason:
        return Skipped(reason)
    c = new_canvas()
    c.ax.set_xscale("log", base=2)
    xs = series_xs(series, _speedup, 1.0)
    lo, hi = set_x_axis(c, [x for row in xs for x in row] + [1.0], np.log2, np.exp2, SPEEDUP_TICKS,
                        lambda v: f"{v:g}×")
    means = draw_series(c, series, xs, _speedup, 1.0, np.log2, np.exp2, DODGE * (hi - lo))
    draw_pareto(c, series, means)
    draw_dense(c, groups, ())
    c.handles.append((c.ax.axvline(1.0, color=DENSE_COLOR, lw=1.0, ls="--", zorder=2), "dense speed (1×)"))
    return canvas.finish(c, title, "measured speed-up over the dense model (log scale)", metric_text(metric), path)
