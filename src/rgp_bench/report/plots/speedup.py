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
    per method, points labelled with their ratio where the label fits (one label per ratio with many methods); the
    MAC limit (dense MACs ÷ effective MACs: the speed-up that skipping every pruned MAC would give) is a vertical
    line per ratio where its groups share it, else a short vertical tick in the method's colour per group. The
    dense model sits at 1×; the title's second line states device, threads and batch size. Skipped when every
    series has a single point."""
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
    _label_ratios(c, series, means)
    return canvas.finish(c, title, "measured speed-up over the dense model (log scale)", metric_text(metric), path,
                         note=measurement_text(groups))


def means_by_series(series: Sequence[Series], means: Sequence[tuple[float, float, float, float]]) -> list[list]:
    """`draw_series`' flat list of points, split back per series."""
    out, i = [], 0
    for s in series:
        out.append(list(means[i:i + len(s.points)]))
        i += len(s.points)
    return out


# With more series than this, one label per ratio (at its most accurate point) instead of one per point.
LABEL_EVERY_POINT = 3
# MAC limits of one ratio within this factor of each other are drawn as one vertical line.
SHARED_LIMIT = 1.05


def _label_ratios(c: canvas.Canvas, series: Sequence[Series], means: Sequence[tuple[float, float, float, float]]
                  ) -> None:
    """Ratio labels (placed only where they collide with nothing): every point with few series, else one per ratio
    at the most accurate point of that ratio that has room."""
    points = [(g, y, d, method_style(s.method).color) for s, row in zip(series, means_by_series(series, means),
                                                                        strict=True)
              for g, (_, y, d, _) in zip(s.points, row, strict=True) if g.ratio is not None]
    if len(series) > LABEL_EVERY_POINT:
        points.sort(key=lambda p: -p[1])
        c.optional_labels += [(d, y, f"r={g.ratio:g}", "#333333") for g, y, d, _ in points]
        c.one_label_per_text = True
    else:
        c.optional_labels += [(d, y, f"{g.ratio:g}", color) for g, y, d, color in points]


def _draw_limits(c: canvas.Canvas, series: Sequence[Series], means: Sequence[tuple[float, float, float, float]]
                 ) -> None:
    """The MAC limit: one vertical line per ratio where its groups share it (within SHARED_LIMIT), else a short
    vertical tick in the method's colour at each group's limit and accuracy."""
    by_ratio: dict[float | None, list[tuple[float, float, str]]] = {}
    for s, row in zip(series, means_by_series(series, means), strict=True):
        for g, (_, y, _, _) in zip(s.points, row, strict=True):
            limit = g.stat("mac_limit").mean
            if limit is not None:
                by_ratio.setdefault(g.ratio, []).append((limit, y, method_style(s.method).color))
    shared = ticks = False
    for ratio, items in by_ratio.items():
        limits = [x for x, _, _ in items]
        if max(limits) <= SHARED_LIMIT * min(limits):
            at = sum(limits) / len(limits)
            c.ax.axvline(at, color="#555555", lw=0.9, ls=(0, (4, 2, 1, 2)), zorder=2)
            if ratio is not None:
                c.optional_labels.append((at, c.ax.get_ylim()[1], f"limit r={ratio:g}", "#555555"))
            shared = True
            continue
        for limit, y, color in items:
            c.ax.plot([limit], [y], ls="none", marker="|", ms=9, mew=1.6, color=color, zorder=3)
            c.obstacles.append((limit, y))
            ticks = True
    if shared:
        c.handles.append((Line2D([], [], color="#555555", lw=0.9, ls=(0, (4, 2, 1, 2))),
                          "MAC limit of a ratio (dense ÷ effective MACs), shared by its groups"))
    if ticks:
        c.handles.append((Line2D([], [], ls="none", color="#555555", marker="|", ms=9, mew=1.6),
                          "| : a group's MAC limit (dense ÷ effective MACs)"))
