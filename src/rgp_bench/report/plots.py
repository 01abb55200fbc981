"""Plots (matplotlib, Agg canvas, no pyplot global state), each written as PNG with an SVG beside it.

Accuracy vs parameter/MAC reduction (with a log-scale compression axis, the dense reference and the Pareto
front), accuracy vs measured speed-up, accuracy vs ASPL, and the kept fraction per prunable layer. Every
method has one colour and marker in every plot (`report.style`); points of different methods at the same x
are dodged apart; single-seed points are hollow and each point is labelled with its n. A plot function
returns the PNG's path, `Skipped` when the plot would compare nothing, or None when there is nothing to draw.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from rgp_bench.report.aggregate import dense_order
from rgp_bench.report.published import PublishedEntry, PublishedSource, normalize_name
from rgp_bench.report.render import interval, pm, signed
from rgp_bench.report.style import linestyle, method_style

Published = Sequence[tuple[PublishedSource, PublishedEntry]]
Transform = Callable[[Any], Any]

# Published points: one marker per source and method within a plot, drawn large with a black edge.
PUBLISHED_MARKERS = ("*", "P", "X", "D", "^", "v", "s", "p", "h")
METRIC_TEXT = {
    "best_val": "test top-1 at best-validation epoch (%)",
    "final": "test top-1 at final epoch (%)",
}
# Tick candidates, most wanted first: a tick is kept when it is far enough from those kept before it.
REDUCTION_TICKS = (50, 75, 90, 95, 98, 99, 0, 99.5, 99.8, 99.9, 25, 60, 70, 80, 85, 97, 10, 20, 30, 40, 99.95)
# Compression ticks: powers of two, or (over a narrow range) the finer list.
POWERS_OF_TWO = tuple(2.0**k for k in range(21))
COMPRESSION_TICKS = (2, 4, 1.5, 3, 8, 1.25, 1.75, 2.5, 6, 1.1, 5, 10, 12, 16, 24, 32, 48, 64)
SPEEDUP_TICKS = (1, 2, 4, 8, 16, 32, 1.5, 3, 6, 12, 24, 0.5, 0.25, 0.75, 1.25, 1.75, 2.5, 64)
DODGE = 0.012  # horizontal offset between coinciding points, as a fraction of the axis span
_DENSE_COLOR = method_style("dense").color
_DENSE_LINES = ("-", "-.")  # one per dense reference in a plot (e.g. scratch and finetune); published: dotted


@dataclass(frozen=True)
class Skipped:
    """A plot that was not drawn because it would compare nothing, and why."""

    reason: str


PlotResult = Path | Skipped | None


def safe_name(text: str) -> str:
    """A file-name-safe version of a dataset/model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "unnamed"


def svg_path(png: Path) -> Path:
    """Where the SVG of a plot sits: next to its PNG."""
    return png.with_suffix(".svg")


# ------------------------------------------------------------------------------------------- geometry
def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points that no other point matches or beats on both x and y (higher is better), by x."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front, best_y = [], -math.inf
    for i in order:
        if points[i][1] > best_y:
            front.append(i)
            best_y = points[i][1]
    return sorted(front, key=lambda i: points[i][0])


def dodge(xs: Sequence[Sequence[float]], width: float) -> list[list[float]]:
    """Spread points of different series that share an x: series k of m at one x moves by (k - (m-1)/2) * width.

    `xs[s]` are the x positions of series s (in the axis' own linear units, e.g. log compression); points
    closer than width/2 count as the same x. Returns the shifted positions, same shape as `xs`.
    """
    flat = sorted((x, s, i) for s, row in enumerate(xs) for i, x in enumerate(row))
    out = [list(row) for row in xs]
    cluster: list[tuple[float, int, int]] = []
    for item in [*flat, (math.inf, -1, -1)]:
        if cluster and item[0] - cluster[-1][0] > width / 2:
            members = sorted({s for _, s, _ in cluster})
            for x, s, i in cluster:
                out[s][i] = x + (members.index(s) - (len(members) - 1) / 2) * width
            cluster = []
        cluster.append(item)
    return out


def _log_compression(x: Any) -> Any:
    """Reduction in % -> log2 of the compression 1 / (1 - reduction)."""
    return -np.log2(np.clip(1 - np.asarray(x, dtype=float) / 100, 1e-9, None))


def _from_log_compression(u: Any) -> Any:
    return 100 * (1 - np.exp2(-np.asarray(u, dtype=float)))


def _compression(x: Any) -> Any:
    return 1 / np.clip(1 - np.asarray(x, dtype=float) / 100, 1e-9, None)


def _from_compression(c: Any) -> Any:
    return 100 * (1 - 1 / np.clip(np.asarray(c, dtype=float), 1e-9, None))


def _spaced(candidates: Sequence[float], fwd: Transform, lo: float, hi: float, gap: float) -> list[float]:
    """Ticks: the candidates inside [lo, hi] (axis units), in order of preference, each kept when it is at least
    `gap` from every one kept before it; sorted."""
    kept: list[float] = []
    for c in candidates:
        u = float(fwd(c))
        if lo <= u <= hi and all(abs(u - float(fwd(k))) >= gap for k in kept):
            kept.append(c)
    return sorted(kept)


# --------------------------------------------------------------------------------------------- series
@dataclass
class _Series:
    """One line: a method (with its variant and regime) on one budget basis, its groups in x order."""

    label: str
    method: str
    regime: str
    variant: str
    budget: str
    points: list[dict[str, Any]] = field(default_factory=list)


def _series(groups: Sequence[dict[str, Any]], x_key: str) -> list[_Series]:
    """Groups with both an accuracy and `x_key`_mean, one series per (label, regime, budget), sorted by x."""
    by: dict[tuple[str, str, str], _Series] = {}
    for g in groups:
        if g.get(f"{x_key}_mean") is None or g.get("acc_mean") is None:
            continue
        key = (g["label"], g["regime"] or "", g["budget"])
        by.setdefault(key, _Series(g["label"], g["method"], g["regime"] or "", g["variant"], g["budget"]))
        by[key].points.append(g)
    for s in by.values():
        s.points.sort(key=lambda g: g[f"{x_key}_mean"])
    return [by[k] for k in sorted(by)]


def _single_point_reason(series: Sequence[_Series], published_points: int | None) -> str | None:
    """Why a plot of these series would compare nothing: every series a single point and nothing published
    (`published_points` None: a plot that never has published points)."""
    if published_points or any(len(s.points) > 1 for s in series) or not series:
        return None
    ratios = sorted({g["ratio"] for s in series for g in s.points if g["ratio"] is not None})
    at = f" (ratio {', '.join(f'{r:g}' for r in ratios)})" if ratios else ""
    return f"every series has a single point{at}" + (
        "" if published_points is None else " and there are no published numbers to compare with")


@dataclass
class _Canvas:
    """A figure with one axes, the legend entries so far and the text labels still to be placed."""

    fig: Figure
    ax: Any
    handles: list[tuple[Any, str]] = field(default_factory=list)
    labels: list[tuple[float, float, str]] = field(default_factory=list)  # published points' labels
    obstacles: list[tuple[float, float]] = field(default_factory=list)  # published points (labels avoid them)


def _canvas(width: float = 10.0, height: float = 5.4) -> _Canvas:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=8)
    return _Canvas(fig, ax)


def _xs(series: Sequence[_Series], x_key: str, scale: float) -> list[list[float]]:
    """x of every point of every series: `scale` * the group's `x_key`_mean."""
    return [[scale * g[f"{x_key}_mean"] for g in s.points] for s in series]


def _draw_series(c: _Canvas, series: Sequence[_Series], xs: Sequence[Sequence[float]], x_key: str, scale: float,
                 fwd: Transform, inv: Transform, width: float) -> list[tuple[float, float, float]]:
    """Lines with error bars (std over seeds), filled markers (hollow for one seed) and n per point.

    `xs` are the points' x (`_xs`); points of different series at the same x are dodged `width` apart in
    the axis' units (`fwd`/`inv`). Returns (x, accuracy, x as drawn) of every point.
    """
    dodged = dodge([[float(fwd(x)) for x in row] for row in xs], width)
    mixed_budgets = len({s.budget for s in series}) > 1
    means = []
    for k, (s, row) in enumerate(zip(series, dodged, strict=True)):
        st, ls = method_style(s.method), linestyle(f"{s.variant}|{s.regime}" if s.variant else "")
        shown = [float(inv(u)) for u in row]
        ys = [g["acc_mean"] for g in s.points]
        ns = [g["n"] for g in s.points]
        xerr = [scale * (g[f"{x_key}_std"] or 0.0) for g in s.points]
        c.ax.errorbar(shown, ys, yerr=[g["acc_std"] or 0.0 for g in s.points], xerr=xerr, color=st.color, ls=ls,
                      lw=1.5, capsize=2.5, elinewidth=0.9, zorder=3)
        for hollow in (False, True):
            pick = [i for i, n in enumerate(ns) if (n <= 1) == hollow]
            c.ax.plot([shown[i] for i in pick], [ys[i] for i in pick], ls="none", marker=st.marker, ms=6.5,
                      mfc="white" if hollow else st.color, mec=st.color, mew=1.3, zorder=4)
        for x, y, n in zip(shown, ys, ns, strict=True):
            c.ax.annotate(f"n={n}", (x, y), xytext=(5, -10), textcoords="offset points", fontsize=6.5,
                          color=st.color, alpha=0.9, zorder=5).set_in_layout(False)
        text = f"{s.label} ({s.regime})" if s.regime else s.label
        text += ", MAC budget" if mixed_budgets and s.budget == "macs" else ""
        c.handles.append((Line2D([], [], color=st.color, ls=ls, marker=st.marker, ms=6, lw=1.5), text))
        means += [(x, y, d) for x, y, d in zip(xs[k], ys, shown, strict=True)]
    if any(g["n"] <= 1 for s in series for g in s.points):
        c.handles.append((Line2D([], [], ls="none", marker="o", ms=6, mfc="white", mec="#555555"),
                          "hollow: a single seed"))
    return means


def _draw_pareto(c: _Canvas, series: Sequence[_Series], points: Sequence[tuple[float, float, float]]) -> None:
    """A broad grey band through the group means that no other group beats on both axes (`_draw_series`' points:
    chosen by their x, drawn at their dodged x); only where there are several series to choose between."""
    front = pareto_front([(x, y) for x, y, _ in points])
    if len(front) < 2 or len(series) < 2:
        return
    (line,) = c.ax.plot([points[i][2] for i in front], [points[i][1] for i in front], color="black", alpha=0.13,
                        lw=9, solid_capstyle="round", solid_joinstyle="round", zorder=1)
    c.handles.append((line, "Pareto front (group means)"))


def _draw_dense(c: _Canvas, groups: Sequence[dict[str, Any]], published: Published) -> None:
    """Horizontal lines at the plotted groups' dense references (the dense runs in their regime and for their total
    epochs: `report.aggregate.match_dense`), a legend line for each (regime, epochs) without one, and the published
    dense numbers. A dense run of other epochs is never drawn as their reference."""
    refs = {id(g["_dense"]): g["_dense"] for g in groups if g.get("_dense") is not None}
    ordered = sorted(refs.values(), key=dense_order)
    for i, ref in enumerate(d for d in ordered if d["acc_mean"] is not None):
        line = c.ax.axhline(ref["acc_mean"], color=_DENSE_COLOR, lw=1.2, ls=_DENSE_LINES[i % len(_DENSE_LINES)],
                            alpha=0.8, zorder=2)
        c.handles.append((line, f"{ref['label']}, {ref['epochs']} epochs ({ref['regime']}): "
                                f"{pm(ref['acc_mean'], ref['acc_std'])}, n={ref['n']}"))
    missing = sorted({(g["regime"] or "", g["epochs"]) for g in groups if g.get("dense_missing")}, key=str)
    for regime, epochs in missing:
        c.handles.append((Line2D([], [], ls="none"), f"no dense run at {epochs} epochs ({regime})"))
    for src, e in published:
        if _is_dense(e):
            line = c.ax.axhline(e.top1, color=_DENSE_COLOR, lw=1.1, ls=":", zorder=2)
            c.handles.append((line, f"published dense {e.top1:.2f}: {e.label}, {src.short}"))


def _is_dense(e: PublishedEntry) -> bool:
    return normalize_name(e.method) == "dense"


def _draw_published(c: _Canvas, points: Sequence[tuple[PublishedSource, PublishedEntry, float, float]]) -> None:
    """Large markers in the method's colour, one marker per (source, method); approximate readings get a
    dashed edge, a lighter face and a '~' in their label."""
    by_source: dict[tuple[str, str], list[tuple[PublishedSource, PublishedEntry, float, float]]] = defaultdict(list)
    for p in points:
        by_source[(p[0].source["id"], p[1].method)].append(p)
    for i, ((_sid, method), items) in enumerate(sorted(by_source.items())):
        marker, color = PUBLISHED_MARKERS[i % len(PUBLISHED_MARKERS)], method_style(method).color
        for approx in (False, True):
            pick = [(x, y) for _, e, x, y in items if e.approximate == approx]
            if pick:
                c.ax.scatter(*zip(*pick, strict=True), marker=marker, s=130, color=color, alpha=0.55 if approx else 1,
                             edgecolors="black", linewidths=1.0, linestyles="--" if approx else "-", zorder=6)
        c.handles.append((Line2D([], [], ls="none", marker=marker, ms=10, mfc=color, mec="black"),
                          f"published: {method}, {items[0][0].legend}"))
        for _, e, x, y in items:
            c.labels.append((x, y, ("~" if e.approximate else "") + e.label))
            c.obstacles.append((x, y))
    if any(e.approximate for _, e, _, _ in points):
        c.handles.append((Line2D([], [], ls="none", marker="o", ms=9, mfc="#cccccc", mec="black", mew=1.0),
                          "~ / pale: approximate reading"))


# Label offsets tried in turn (points from the marker): right, left, above, below, then further out.
_LABEL_OFFSETS = ((8, 4, "left"), (8, -10, "left"), (-8, 4, "right"), (-8, -10, "right"), (0, 11, "center"),
                  (0, -17, "center"), (16, 14, "left"), (-16, 14, "right"), (16, -22, "left"), (-16, -22, "right"))


def _place_labels(c: _Canvas) -> None:
    """Annotate the published points, trying offsets until a label overlaps no earlier label nor marker."""
    if not c.labels:
        return
    c.fig.canvas.draw()  # final layout, so that label extents are where they will be drawn
    renderer = c.fig.canvas.get_renderer()
    frame = c.ax.get_window_extent(renderer)
    taken = [_marker_box(c, x, y) for x, y in c.obstacles]
    for x, y, text in sorted(c.labels, key=lambda t: (t[0], -t[1])):
        best: tuple[float, Any, Any] | None = None
        for dx, dy, ha in _LABEL_OFFSETS:
            ann = c.ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7, ha=ha,
                                zorder=7, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                                "alpha": 0.75})
            ann.set_in_layout(False)
            box = ann.get_window_extent(renderer)
            cost = sum(_overlap(box, t) for t in taken) + 4 * (box.width * box.height - _overlap(box, frame))
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, ann, box)
            else:
                ann.remove()
            if cost == 0:
                break
        if best is not None:
            taken.append(best[2])


def _marker_box(c: _Canvas, x: float, y: float) -> Any:
    from matplotlib.transforms import Bbox

    px, py = c.ax.transData.transform((x, y))
    r = 7 * c.fig.dpi / 72
    return Bbox([[px - r, py - r], [px + r, py + r]])


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0.0) * max(h, 0.0)


def _finish(c: _Canvas, title: str, xlabel: str, ylabel: str, path: Path) -> Path:
    c.ax.set_title(title, fontsize=10)
    c.ax.set_xlabel(xlabel, fontsize=9)
    c.ax.set_ylabel(ylabel, fontsize=9)
    if c.handles:
        c.fig.legend([h for h, _ in c.handles], [t for _, t in c.handles], loc="outside right upper", fontsize=7,
                     framealpha=0.9)
    _place_labels(c)
    return _save(c.fig, path)


def _save(fig: Figure, path: Path) -> Path:
    """Write the PNG at `path` and the SVG beside it (deterministic: no date, fixed element ids)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    with matplotlib.rc_context({"svg.hashsalt": "rgp-bench", "svg.fonttype": "none"}):
        fig.savefig(svg_path(path), format="svg", metadata={"Date": None})
    return path


def _set_x_axis(c: _Canvas, xs: Sequence[float], fwd: Transform, inv: Transform, ticks: Sequence[float],
                fmt: Callable[[float], str]) -> tuple[float, float]:
    """Limits (padded, in the axis' units) and ticks spread at least a tenth of the span apart."""
    us = [float(fwd(x)) for x in xs]
    lo, hi = min(us), max(us)
    pad = max(0.08 * (hi - lo), 0.25)
    lo, hi = lo - pad, hi + pad
    c.ax.set_xlim(float(inv(lo)), float(inv(hi)))
    c.ax.xaxis.set_major_locator(FixedLocator(_spaced(ticks, fwd, lo, hi, (hi - lo) / 10)))
    c.ax.xaxis.set_minor_locator(NullLocator())
    c.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
    return lo, hi


# ----------------------------------------------------------------------------------------------- plots
def tradeoff_plot(
    groups: Sequence[dict[str, Any]],
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
    series = _series(groups, f"{axis}_reduction")
    pub = [(s, e, 100 * getattr(e, f"{axis}_reduction"), e.top1) for s, e in published
           if getattr(e, f"{axis}_reduction") is not None and not _is_dense(e)]
    if not series and not pub:
        return None
    reason = _single_point_reason(series, len(pub))
    if reason:
        return Skipped(reason)
    c = _canvas()
    c.ax.set_xscale("function", functions=(_log_compression, _from_log_compression))
    xs = _xs(series, f"{axis}_reduction", 100.0)
    lo, hi = _set_x_axis(c, [x for row in xs for x in row] + [x for *_, x, _ in pub], _log_compression,
                         _from_log_compression, REDUCTION_TICKS, lambda v: f"{v:g}")
    means = _draw_series(c, series, xs, f"{axis}_reduction", 100.0, _log_compression, _from_log_compression,
                         DODGE * (hi - lo))
    _draw_pareto(c, series, means)
    _draw_dense(c, groups, published)
    _draw_published(c, pub)
    top = c.ax.secondary_xaxis("top", functions=(_compression, _from_compression))
    ticks = _spaced(POWERS_OF_TWO, np.log2, lo, hi, 0.0)
    if len(ticks) < 3:
        ticks = _spaced(COMPRESSION_TICKS, np.log2, lo, hi, (hi - lo) / 8)
    top.xaxis.set_major_locator(FixedLocator(ticks))
    top.xaxis.set_minor_locator(NullLocator())
    top.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}×"))
    top.tick_params(labelsize=8)
    what = "parameter" if axis == "params" else "MAC"
    top.set_xlabel(f"{what} compression (dense ÷ remaining, log scale)", fontsize=9)
    return _finish(c, title, f"{what} reduction (% of the dense model removed)", METRIC_TEXT.get(metric, metric),
                   path)


def speedup_plot(groups: Sequence[dict[str, Any]], metric: str, title: str, path: Path) -> PlotResult:
    """Accuracy vs measured inference speed-up over the dense model (cost.latency.speedup, log scale), one line
    per method; the dense model sits at 1×. Skipped when every series has a single point."""
    series = _series(groups, "speedup")
    if not series:
        return None
    reason = _single_point_reason(series, None)
    if reason:
        return Skipped(reason)
    c = _canvas()
    c.ax.set_xscale("log", base=2)
    xs = _xs(series, "speedup", 1.0)
    lo, hi = _set_x_axis(c, [x for row in xs for x in row] + [1.0], np.log2, np.exp2, SPEEDUP_TICKS,
                         lambda v: f"{v:g}×")
    means = _draw_series(c, series, xs, "speedup", 1.0, np.log2, np.exp2, DODGE * (hi - lo))
    _draw_pareto(c, series, means)
    _draw_dense(c, groups, ())
    c.handles.append((c.ax.axvline(1.0, color=_DENSE_COLOR, lw=1.0, ls="--", zorder=2), "dense speed (1×)"))
    return _finish(c, title, "measured speed-up over the dense model (log scale)", METRIC_TEXT.get(metric, metric),
                   path)


def density_plot(groups: Sequence[dict[str, Any]], title: str, path: Path) -> PlotResult:
    """Kept fraction (density) of every prunable layer, mean over seeds (band: ± std), one line per method;
    for weight budgets a dashed line marks a uniform 1 − ratio. Skipped with fewer than 2 prunable layers."""
    series = [s for s in _series(groups, "acc") if any(g.get("layer_density") for g in s.points)]
    if not series:
        return None
    names = list({la["name"]: None for s in series for g in s.points for la in g["layer_density"]})
    if len(names) < 2:
        return Skipped(f"only {len(names)} prunable layer, so there is no profile across layers to compare")
    c = _canvas(width=max(10.0, 6 + 0.12 * len(names)))
    top = _draw_densities(c, series, {n: i for i, n in enumerate(names)})
    ratio, budget = groups[0]["ratio"], groups[0]["budget"]
    if ratio is not None and budget == "weights":
        c.handles.append((c.ax.axhline(1 - ratio, color=_DENSE_COLOR, lw=1.0, ls="--"), f"uniform: 1 − {ratio:g}"))
        top = max(top, 1 - ratio)
    step = max(1, math.ceil(len(names) / 45))
    c.ax.set_xticks(range(0, len(names), step), [_short(n) for n in names[::step]], rotation=70, ha="right",
                    fontsize=6 if len(names) > 20 else 7)
    c.ax.set_xlim(-0.5, len(names) - 0.5)
    c.ax.set_ylim(0, min(1.04, max(0.05, 1.15 * top)))
    return _finish(c, title, "prunable layer (model order)", "kept fraction of weights (density)", path)


def _draw_densities(c: _Canvas, series: Sequence[_Series], index: dict[str, int]) -> float:
    """One line (and ± std band) per series and group, each series shifted a little sideways so that lines that
    coincide stay visible; returns the highest mean + std drawn."""
    shift, top = min(0.1, 0.5 / len(series)), 0.0
    for k, s in enumerate(series):
        st, ls = method_style(s.method), linestyle(f"{s.variant}|{s.regime}" if s.variant else "")
        for g in s.points:
            rows = [la for la in g["layer_density"] if la["mean"] is not None]
            x = np.array([index[la["name"]] for la in rows]) + (k - (len(series) - 1) / 2) * shift
            y = np.array([la["mean"] for la in rows])
            sd = np.array([la["std"] or 0.0 for la in rows])
            top = max(top, float((y + sd).max(initial=0.0)))
            c.ax.fill_between(x, np.clip(y - sd, 0, 1), np.clip(y + sd, 0, 1), color=st.color, alpha=0.12, lw=0)
            c.ax.plot(x, y, color=st.color, ls=ls, lw=1.4, marker=st.marker, ms=4 if len(index) < 60 else 0,
                      mfc="white" if g["n"] <= 1 else st.color, mec=st.color)
            text = f"{s.label} ({s.regime})" if s.regime else s.label
            c.handles.append((Line2D([], [], color=st.color, ls=ls, marker=st.marker, ms=5), f"{text}, n={g['n']}"))
    return top


def _short(name: str, limit: int = 26) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1):]


def aspl_plot(studies: Sequence[dict[str, Any]], published: Published, metric: str, title: str,
              path: Path) -> PlotResult:
    """Accuracy (mean ± std per graph) vs ASPL for each study, with Spearman's rho and its bootstrap 95 % CI
    in the legend and a least-squares trend, plus published points that carry an ASPL."""
    if not studies and not any(e.aspl is not None for _, e in published):
        return None
    c = _canvas()
    seen: dict[str, int] = defaultdict(int)
    for s in studies:
        st = method_style(s["method"])
        marker = st.marker if not seen[s["method"]] else PUBLISHED_MARKERS[seen[s["method"]] % 9]
        seen[s["method"]] += 1
        pts = s["points"]
        xs, ys = [p["aspl"] for p in pts], [p["acc_mean"] for p in pts]
        # Each point is a different graph, not a trajectory: draw points and a least-squares trend, no joining line.
        bars = c.ax.errorbar(xs, ys, yerr=[p["acc_std"] or 0.0 for p in pts], marker=marker, ms=6, capsize=3,
                             ls="none", color=st.color, mfc=st.color, zorder=3)
        c.handles.append((bars, f"{s['method']} {s['graph']} ({s['regime']}): Spearman ρ={_rho(s)}, "
                                f"n={s['n_runs']} runs"))
        if len(set(xs)) >= 2:
            slope, intercept = np.polyfit(xs, ys, 1)
            ends = np.array([min(xs), max(xs)])
            (trend,) = c.ax.plot(ends, slope * ends + intercept, ls="--", lw=1.0, color=st.color)
            c.handles.append((trend, f"{s['graph']} trend: {slope:+.2f} pt per unit ASPL"))
    lines: dict[tuple[str, Any], list[tuple[PublishedSource, PublishedEntry]]] = defaultdict(list)
    for src, e in published:
        if e.aspl is not None:
            lines[(src.source["id"], e.degree)].append((src, e))
    for i, ((_sid, degree), items) in enumerate(sorted(lines.items(), key=lambda kv: str(kv[0]))):
        items.sort(key=lambda se: se[1].aspl)
        src, first = items[0]
        color = method_style(first.method).color
        (line,) = c.ax.plot([e.aspl for _, e in items], [e.top1 for _, e in items], ls=":", lw=0.9, color=color,
                            marker=PUBLISHED_MARKERS[i % len(PUBLISHED_MARKERS)], ms=10, mec="black", mew=0.8,
                            zorder=4)
        c.handles.append((line, f"published {first.nodes}_{degree}: {src.legend}"))
        c.labels += [(e.aspl, e.top1, ("~" if e.approximate else "") + e.label) for _, e in items]
        c.obstacles += [(e.aspl, e.top1) for _, e in items]
    return _finish(c, title, "ASPL of the regular graph (lower = shorter paths)", METRIC_TEXT.get(metric, metric),
                   path)


def _rho(study: dict[str, Any]) -> str:
    """'-0.83 (95 % CI [-0.95, -0.60])': rho with its bootstrap interval, 'n/a' when undefined."""
    if study["rho"] is None:
        return "n/a"
    return f"{signed(study['rho'])}" + (f" (95 % CI {interval(study['rho_ci'])})" if study.get("rho_ci") else "")
