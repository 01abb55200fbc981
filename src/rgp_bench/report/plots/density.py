"""The kept fraction of every prunable layer, per method, at one ratio."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from rgp_bench.report.groups import Group
from rgp_bench.report.plots import canvas
from rgp_bench.report.plots.canvas import DOUBLE_COLUMN, MIN_FONT, Canvas, PlotResult, Skipped, new_canvas
from rgp_bench.report.plots.references import DENSE_COLOR
from rgp_bench.report.plots.series import Series, make_series
from rgp_bench.report.style import method_style


def density_plot(groups: Sequence[Group], title: str, path: Path, width: float = DOUBLE_COLUMN) -> PlotResult:
    """Kept fraction (density) of every prunable layer, mean over seeds (band: ± std), one line per method;
    for weight budgets a dashed line marks a uniform 1 − ratio. Skipped with fewer than 2 prunable layers."""
    series = [s for s in make_series(groups, lambda g: g.acc) if any(g.layer_density for g in s.points)]
    if not series:
        return None
    names = list({la.name: None for s in series for g in s.points for la in g.layer_density})
    if len(names) < 2:
        return Skipped(f"only {len(names)} prunable layer, so there is no profile across layers to compare")
    c = new_canvas(width)
    top = _draw_densities(c, series, {n: i for i, n in enumerate(names)})
    ratio, budget = groups[0].ratio, groups[0].budget
    if ratio is not None and budget == "weights":
        c.handles.append((c.ax.axhline(1 - ratio, color=DENSE_COLOR, lw=1.0, ls="--"), f"uniform: 1 − {ratio:g}"))
        top = max(top, 1 - ratio)
    step = max(1, math.ceil(len(names) / (6 * width)))  # 8 pt labels need about 1/6 in each
    c.ax.set_xticks(range(0, len(names), step), [_short(n, 18) for n in names[::step]], rotation=60, ha="right",
                    rotation_mode="anchor", fontsize=MIN_FONT)
    c.ax.set_xlim(-0.5, len(names) - 0.5)
    c.ax.set_ylim(0, min(1.04, max(0.05, 1.15 * top)))
    return canvas.finish(c, title, "prunable layer (model order)", "kept fraction of weights (density)", path)


def _draw_densities(c: Canvas, series: Sequence[Series], index: dict[str, int]) -> float:
    """One line (and ± std band) per series and group, each series shifted a little sideways so that lines that
    coincide stay visible; returns the highest mean + std drawn."""
    shift, top = min(0.1, 0.5 / len(series)), 0.0
    for k, s in enumerate(series):
        st, look = method_style(s.method), s.look
        for g in s.points:
            rows = [la for la in g.layer_density if la.mean is not None]
            x = np.array([index[la.name] for la in rows]) + (k - (len(series) - 1) / 2) * shift
            y = np.array([la.mean for la in rows])
            sd = np.array([la.std or 0.0 for la in rows])
            top = max(top, float((y + sd).max(initial=0.0)))
            c.ax.fill_between(x, np.clip(y - sd, 0, 1), np.clip(y + sd, 0, 1), color=st.color, alpha=0.12, lw=0)
            c.ax.plot(x, y, color=st.color, ls=look.linestyle, lw=1.2, marker=st.marker,
                      ms=3.5 if len(index) < 60 else 0, mfc="white" if g.n <= 1 else st.color, mfcalt="white",
                      fillstyle=look.fillstyle, mec=st.color)
            c.handles.append((Line2D([], [], color=st.color, ls=look.linestyle, marker=st.marker, ms=5,
                                     fillstyle=look.fillstyle, mfcalt="white"), s.legend))
    return top


def _short(name: str, limit: int = 26) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1):]
