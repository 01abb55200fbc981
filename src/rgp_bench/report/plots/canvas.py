"""The figure every plot draws on (matplotlib, Agg canvas, no pyplot global state), its legend, the placement of
published points' labels, and writing it as PNG with an SVG beside it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox


@dataclass(frozen=True)
class Skipped:
    """A plot that was not drawn because it would compare nothing, and why."""

    reason: str


# What a plot function returns: the PNG's path, Skipped, or None when there is nothing to draw.
PlotResult = Path | Skipped | None


def safe_name(text: str) -> str:
    """A file-name-safe version of a dataset/model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "unnamed"


def svg_path(png: Path) -> Path:
    """Where the SVG of a plot sits: next to its PNG."""
    return png.with_suffix(".svg")


@dataclass
class Canvas:
    """A figure with one axes, the legend entries so far and the text labels still to be placed."""

    fig: Figure
    agg: FigureCanvasAgg
    ax: Any
    handles: list[tuple[Any, str]] = field(default_factory=list)
    labels: list[tuple[float, float, str]] = field(default_factory=list)  # published points' labels
    obstacles: list[tuple[float, float]] = field(default_factory=list)  # published points (labels avoid them)


def new_canvas(width: float = 10.0, height: float = 5.4) -> Canvas:
    """A figure of `width` x `height` inches with one gridded axes."""
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    agg = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=8)
    return Canvas(fig, agg, ax)


def finish(c: Canvas, title: str, xlabel: str, ylabel: str, path: Path) -> Path:
    """Title, axis labels, the legend and the published labels; then write the figure (PNG at `path`, SVG beside)."""
    c.ax.set_title(title, fontsize=10)
    c.ax.set_xlabel(xlabel, fontsize=9)
    c.ax.set_ylabel(ylabel, fontsize=9)
    if c.handles:
        c.fig.legend([h for h, _ in c.handles], [t for _, t in c.handles], loc="outside right upper", fontsize=7,
                     framealpha=0.9)
    _place_labels(c)
    return save(c.fig, path)


def save(fig: Figure, path: Path) -> Path:
    """Write the PNG at `path` and the SVG beside it (deterministic: no date, fixed element ids)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    with matplotlib.rc_context({"svg.hashsalt": "rgp-bench", "svg.fonttype": "none"}):
        fig.savefig(svg_path(path), format="svg", metadata={"Date": None})
    return path


# Label offsets tried in turn (points from the marker): right, left, above, below, then further out.
_LABEL_OFFSETS = ((8, 4, "left"), (8, -10, "left"), (-8, 4, "right"), (-8, -10, "right"), (0, 11, "center"),
                  (0, -17, "center"), (16, 14, "left"), (-16, 14, "right"), (16, -22, "left"), (-16, -22, "right"))


def _place_labels(c: Canvas) -> None:
    """Annotate the published points, trying offsets until a label overlaps no earlier label nor marker."""
    if not c.labels:
        return
    c.agg.draw()  # final layout, so that label extents are where they will be drawn
    renderer = c.agg.get_renderer()
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


def _marker_box(c: Canvas, x: float, y: float) -> Bbox:
    px, py = c.ax.transData.transform((x, y))
    r = 7 * c.fig.dpi / 72
    return Bbox([[px - r, py - r], [px + r, py + r]])


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0.0) * max(h, 0.0)
