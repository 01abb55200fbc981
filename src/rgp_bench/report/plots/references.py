"""What a plot draws besides its series: the dense references as horizontal lines and published numbers as large
markers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from matplotlib.lines import Line2D

from rgp_bench.report.dense import dense_order
from rgp_bench.report.groups import Group
from rgp_bench.report.plots.canvas import Canvas
from rgp_bench.report.published import PublishedEntry, PublishedSource, normalize_name
from rgp_bench.report.render import pm
from rgp_bench.report.style import method_style

Published = Sequence[tuple[PublishedSource, PublishedEntry]]
# A published point as drawn: its source, entry, x and y.
PublishedPoint = tuple[PublishedSource, PublishedEntry, float, float]

# Published points: one marker per source and method within a plot, drawn large with a black edge.
PUBLISHED_MARKERS = ("*", "P", "X", "D", "^", "v", "s", "p", "h")
DENSE_COLOR = method_style("dense").color
_DENSE_LINES = ("-", "-.")  # one per dense reference in a plot (e.g. scratch and finetune); published: dotted


def is_dense_entry(e: PublishedEntry) -> bool:
    """A published number of the unpruned model."""
    return normalize_name(e.method) == "dense"


def draw_dense(c: Canvas, groups: Sequence[Group], published: Published) -> None:
    """Horizontal lines at the plotted groups' dense references (the dense runs in their regime and for their total
    epochs: `report.dense.match_dense`), a legend line for each (regime, epochs) without one, and the published
    dense numbers. A dense run of other epochs is never drawn as their reference."""
    refs = list({g.dense: None for g in groups if g.dense is not None})
    ordered = sorted(refs, key=dense_order)
    for i, ref in enumerate(d for d in ordered if d.acc.mean is not None):
        line = c.ax.axhline(ref.acc.mean, color=DENSE_COLOR, lw=1.2, ls=_DENSE_LINES[i % len(_DENSE_LINES)],
                            alpha=0.8, zorder=2)
        c.handles.append((line, f"{ref.label}, {ref.epochs} epochs ({ref.regime}): "
                                f"{pm(ref.acc.mean, ref.acc.std)}, n={ref.n}"))
    missing = sorted({(g.regime or "", g.epochs) for g in groups if g.dense_missing}, key=str)
    for regime, epochs in missing:
        c.handles.append((Line2D([], [], ls="none"), f"no dense run at {epochs} epochs ({regime})"))
    for src, e in published:
        if is_dense_entry(e):
            line = c.ax.axhline(e.top1, color=DENSE_COLOR, lw=1.1, ls=":", zorder=2)
            c.handles.append((line, f"published dense {e.top1:.2f}: {e.label}, {src.short}"))


def draw_published(c: Canvas, points: Sequence[PublishedPoint]) -> None:
    """Large markers in the method's colour, one marker per (source, method); approximate readings get a
    dashed edge, a lighter face and a '~' in their label."""
    by_source: dict[tuple[str, str], list[PublishedPoint]] = defaultdict(list)
    for p in points:
        by_source[(p[0].source["id"], p[1].method)].append(p)
    for i, ((_sid, method), items) in enumerate(sorted(by_source.items())):
        marker, color = PUBLISHED_MARKERS[i % len(PUBLISHED_MARKERS)], method_style(method).color
        for approx in (False, True):
            pick = [(x, y) for _, e, x, y in items if e.approximate == approx]
            if pick:
                c.ax.scatter(*zip(*pick, strict=True), marker=marker, s=70, color=color, alpha=0.55 if approx else 1,
                             edgecolors="black", linewidths=1.0, linestyles="--" if approx else "-", zorder=6)
        c.handles.append((Line2D([], [], ls="none", marker=marker, ms=8, mfc=color, mec="black"),
                          f"published: {method}, {items[0][0].legend}"))
        for _, e, x, y in items:
            c.labels.append((x, y, ("~" if e.approximate else "") + e.label))
            c.obstacles.append((x, y))
    if any(e.approximate for _, e, _, _ in points):
        c.handles.append((Line2D([], [], ls="none", marker="o", ms=7, mfc="#cccccc", mec="black", mew=1.0),
                          "~ / pale: approximate reading"))
