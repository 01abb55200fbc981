"""The figure every plot draws on (matplotlib, Agg canvas, no pyplot global state), its legend, the placement of
point labels, and writing it as PNG (300 dpi) with an SVG and a PDF beside it.

Figures are made at their final size for a paper: one column (SINGLE_COLUMN, 3.5 in) or two columns
(DOUBLE_COLUMN, 7 in) wide, every text at least MIN_FONT (8 pt), the legend below the axes.
"""

from __future__ import annotations

import math
import re
import textwrap
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


# Widths of a paper's single and double column (inches); every text is at least MIN_FONT points at these sizes.
SINGLE_COLUMN = 3.5
DOUBLE_COLUMN = 7.0
MIN_FONT = 8.0
TITLE_FONT = 9.0
PNG_DPI = 300
# Height of the axes area (inches) per width, and of one legend row.
_AXES_HEIGHT = {SINGLE_COLUMN: 2.5, DOUBLE_COLUMN: 3.3}
_LEGEND_ROW = 0.17

# What a plot function returns: the PNG's path, Skipped, or None when there is nothing to draw.
PlotResult = Path | Skipped | None


def safe_name(text: str) -> str:
    """A file-name-safe version of a dataset/model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "unnamed"


def svg_path(png: Path) -> Path:
    """Where the SVG of a plot sits: next to its PNG."""
    return png.with_suffix(".svg")


def pdf_path(png: Path) -> Path:
    """Where the PDF of a plot sits: next to its PNG."""
    return png.with_suffix(".pdf")


@dataclass
class Canvas:
    """A figure with one axes, the legend entries so far and the text labels still to be placed."""

    fig: Figure
    agg: FigureCanvasAgg
    ax: Any
    handles: list[tuple[Any, str]] = field(default_factory=list)
    labels: list[tuple[float, float, str]] = field(default_factory=list)  # published points' labels
    obstacles: list[tuple[float, float]] = field(default_factory=list)  # published points (labels avoid them)
    # Optional labels (e.g. a point's ratio): drawn only where they overlap no other label, marker or the frame.
    optional_labels: list[tuple[float, float, str, str]] = field(default_factory=list)  # x, y, text, colour
    width: float = DOUBLE_COLUMN
    # Place each optional label text at most once (the first position that fits, in list order).
    one_label_per_text: bool = False

    @property
    def wrap(self) -> int:
        """Characters per line of a legend entry (two legend columns on a double-column figure)."""
        return int(self.width * 13) if self.width < DOUBLE_COLUMN else int(self.width * 6.3)


def new_canvas(width: float = DOUBLE_COLUMN) -> Canvas:
    """A figure `width` inches wide (SINGLE_COLUMN or DOUBLE_COLUMN) with one gridded axes; its height grows with
    the legend in `finish`."""
    fig = Figure(figsize=(width, _AXES_HEIGHT.get(width, 0.5 * width)), dpi=100, layout="constrained")
    agg = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=MIN_FONT)
    return Canvas(fig, agg, ax, width=width)


def finish(c: Canvas, title: str, xlabel: str, ylabel: str, path: Path, note: str = "") -> Path:
    """Title (and a `note` line under it), axis labels, the legend below the axes and the point labels; then write
    the figure (PNG at `path`, SVG and PDF beside)."""
    wrap = int(c.width * 13)
    c.ax.set_title(textwrap.fill(title, wrap) + (f"\n{textwrap.fill(note, int(c.width * 15))}" if note else ""),
                   fontsize=TITLE_FONT if not note else MIN_FONT)
    c.ax.set_xlabel(textwrap.fill(xlabel, wrap), fontsize=MIN_FONT + 0.5)
    c.ax.set_ylabel(textwrap.fill(ylabel, int(_AXES_HEIGHT.get(c.width, 3.0) * 12)), fontsize=MIN_FONT + 0.5)
    if c.handles:
        ncol = 1 if c.width < DOUBLE_COLUMN else 2
        texts = [textwrap.fill(t, c.wrap) for _, t in c.handles]
        lines = math.ceil(sum(t.count("\n") + 1 for t in texts) / ncol) + 1
        c.fig.set_size_inches(c.width, c.fig.get_figheight() + _LEGEND_ROW * lines + 0.25)
        c.fig.legend([h for h, _ in c.handles], texts, loc="outside lower center", fontsize=MIN_FONT, ncols=ncol,
                     framealpha=0.9, handlelength=2.6, columnspacing=1.2, borderaxespad=0.2)
    _place_labels(c)
    _place_optional_labels(c)
    return save(c.fig, path)


def save(fig: Figure, path: Path) -> Path:
    """Write the PNG (PNG_DPI) at `path` and the SVG and PDF beside it (deterministic: no date, fixed ids)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=PNG_DPI)
    with matplotlib.rc_context({"svg.hashsalt": "rgp-bench", "svg.fonttype": "none", "pdf.fonttype": 42}):
        fig.savefig(svg_path(path), format="svg", metadata={"Date": None})
        fig.savefig(pdf_path(path), format="pdf", metadata={"CreationDate": None, "ModDate": None})
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
            ann = c.ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=MIN_FONT, ha=ha,
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


def _place_optional_labels(c: Canvas) -> None:
    """Label points (e.g. with their ratio) where a label fits: the first offset at which it overlaps no label or
    marker drawn so far and stays inside the axes; a label that fits nowhere is left out (no collisions)."""
    if not c.optional_labels:
        return
    c.agg.draw()
    renderer = c.agg.get_renderer()
    frame = c.ax.get_window_extent(renderer)
    taken = [t.get_window_extent(renderer) for t in c.ax.texts]
    taken += [_marker_box(c, x, y, 4) for x, y, _, _ in c.optional_labels] + [_marker_box(c, x, y)
                                                                              for x, y in c.obstacles]
    placed: set[str] = set()
    for x, y, text, color in c.optional_labels:
        if c.one_label_per_text and text in placed:
            continue
        for dx, dy, ha in _LABEL_OFFSETS[:6]:
            ann = c.ax.annotate(text, (x, y), xytext=(dx * 0.7, dy * 0.8), textcoords="offset points",
                                fontsize=MIN_FONT, ha=ha, color=color, zorder=7)
            ann.set_in_layout(False)
            box = ann.get_window_extent(renderer)
            inside = _overlap(box, frame) >= box.width * box.height - 1e-6
            if inside and not any(_overlap(box, t) > 0 for t in taken):
                taken.append(box)
                placed.add(text)
                break
            ann.remove()


def _marker_box(c: Canvas, x: float, y: float, radius: float = 7) -> Bbox:
    px, py = c.ax.transData.transform((x, y))
    r = radius * c.fig.dpi / 72
    return Bbox([[px - r, py - r], [px + r, py + r]])


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0.0) * max(h, 0.0)
