"""Accuracy against the measured inference speed-up over the dense model, with each group's MAC limit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter

from rgp_bench.report.columns import metric_text
from rgp_bench.report.groups import Group
from rgp_bench.report.plots import canvas
from rgp_bench.report.plots.axes import DODGE, SPEEDUP_TIE, log2_ticks, set_x_axis, times
from rgp_bench.report.plots.canvas import DOUBLE_COLUMN, PlotResult, Skipped, new_canvas
from rgp_bench.report.plots.references import DENSE_COLOR, draw_dense
from rgp_bench.report.plots.series import (
    Series,
    column_stat,
    draw_pareto,
    draw_series,
    make_series,
    series_xs,
    single_point_reason,
)
from rgp_bench.report.style import method_style

_speedup = column_stat("speedup")


def measurement_text(groups: Sequence[Group]) -> str:
    """Where and how the speed-ups were measured: 'cpu, 2 threads, batch 64' (every value the runs have)."""
    lat = [r.record.cost.latency for g in groups for r in g.runs if r.record.cost.latency is not None]
    if not lat:
        return ""

    def values(xs: Sequence[object]) -> str:
        return "/".join(str(v) for v in sorted(set(xs), key=str))

    threads = {la.threads for la in lat}
    return (f"measured on {values([la.device for la in lat])}, {values(list(threads))} "
            f"thread{'s' if threads != {1} else ''}, batch {values([la.speedup_batch for la in lat])}")


def speedup_plot(groups: Sequence[Group], metric: str, title: str, path: Path,
                 width: float = DOUBLE_COLUMN) -> PlotResult:
    """Accuracy vs measured inference speed-up over the dense model (cost.latency.speedup, log scale), one line
    per method, each point labelled with its ratio where the label fits; a short vertical tick in the method's
    colour, joined to its point by a dotted line, marks the group's MAC limit (dense MACs ÷ effective MACs: the
    speed-up that skipping every pruned MAC would give). The dense model sits at 1×; the title's second line
    states device, threads and batch size. Skipped when every series has a single point."""
    series = make_series(groups, _speedup)
    if not series:
        return None
    reason = single_point_reason(series, None)
    if reason:
        return Skipped(reason)
    c = new_canvas(width)
    c.ax.set_xscale("log", base=2)
    xs = series_xs(series, _speedup, 1.0)
    limits = [g.stat("mac_limit").mean for s in series for g in s.points]
    span = [x for row in xs for x in row] + [1.0] + [v for v in limits if v]
    lo, hi = set_x_axis(c, span, np.log2, np.exp2, (), times)
    c.ax.xaxis.set_major_locator(FixedLocator(log2_ticks(lo, hi)))
    c.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: times(v)))
    means = draw_series(c, series, xs, _speedup, 1.0, np.log2, np.exp2, DODGE * (hi - lo))
    _draw_limits(c, series, means)
    draw_pareto(c, series, means, SPEEDUP_TIE, "speed-up")
    draw_dense(c, groups, ())
    c.handles.append((c.ax.axvline(1.0, color=DENSE_COLOR, lw=0.9, ls="--", zorder=2), "dense speed (1×)"))
    for s, row in zip(series, means_by_series(series, means), strict=True):
        c.optional_labels += [(d, y, f"{g.ratio:g}", method_style(s.method).color)
                              for g, (_, y, d, _) in zip(s.points, row, strict=True) if g.ratio is not None]
    return canvas.finish(c, title, "measured speed-up over the dense model (log scale)", metric_text(metric), path,
                         note=measurement_text(groups))


def means_by_series(series: Sequence[Series], means: Sequence[tuple[float, float, float, float]]) -> list[list]:
    """`draw_series`' flat list of points, split back per series."""
    out, i = [], 0
    for s in series:
        out.append(list(means[i:i + len(s.points)]))
        i += len(s.points)
    return out


def _draw_limits(c: canvas.Canvas, series: Sequence[Series], means: Sequence[tuple[float, float, float, float]]
                 ) -> None:
    drawn = False
    for s, row in zip(series, means_by_series(series, means), strict=True):
        color = method_style(s.method).color
        for g, (_, y, d, _) in zip(s.points, row, strict=True):
            limit = g.stat("mac_limit").mean
            if limit is None:
                continue
            c.ax.plot([d, limit], [y, y], ls=":", lw=0.8, color=color, alpha=0.7, zorder=2)
            c.ax.plot([limit], [y], ls="none", marker="|", ms=9, mew=1.6, color=color, zorder=3)
            c.obstacles.append((limit, y))
            drawn = True
    if drawn:
        c.handles.append((Line2D([], [], ls=":", lw=0.8, color="#555555", marker="|", ms=9, mew=1.6),
                          "| : the group's MAC limit (dense ÷ effective MACs)"))
