"""Lines of accuracy against an x quantity: one series per method (variant, regime, budget basis), drawn with
error bars, hollow single-seed points, n per point, and the Pareto front of the group means."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from matplotlib.lines import Line2D

from rgp_bench.report.columns import Stat
from rgp_bench.report.groups import Group
from rgp_bench.report.plots.axes import Transform, dodge, pareto_front
from rgp_bench.report.plots.canvas import Canvas
from rgp_bench.report.style import linestyle, method_style

# A group's x quantity: the mean and std over seeds that a plot puts on its x axis.
XStat = Callable[[Group], Stat]


def column_stat(column: str) -> XStat:
    """The x quantity of an aggregated column (report.columns), e.g. "params_reduction"."""
    return lambda g: g.stat(column)


@dataclass
class Series:
    """One line: a method (with its variant and regime) on one budget basis, its groups in x order."""

    label: str
    method: str
    regime: str
    variant: str
    budget: str
    points: list[Group] = field(default_factory=list)

    @property
    def linestyle(self) -> str:
        """Variants and regimes of one method share its colour; the line style tells them apart."""
        return linestyle(f"{self.variant}|{self.regime}" if self.variant else "")

    @property
    def legend(self) -> str:
        return f"{self.label} ({self.regime})" if self.regime else self.label


def make_series(groups: Sequence[Group], x: XStat) -> list[Series]:
    """Groups with both an accuracy and an x mean, one series per (label, regime, budget), sorted by x."""
    by: dict[tuple[str, str, str], Series] = {}
    for g in groups:
        if x(g).mean is None or g.acc.mean is None:
            continue
        key = (g.label, g.regime or "", g.budget)
        by.setdefault(key, Series(g.label, g.method, g.regime or "", g.variant, g.budget))
        by[key].points.append(g)
    for s in by.values():
        s.points.sort(key=lambda g: x(g).mean or 0.0)
    return [by[k] for k in sorted(by)]


def single_point_reason(series: Sequence[Series], published_points: int | None) -> str | None:
    """Why a plot of these series would compare nothing: every series a single point and nothing published
    (`published_points` None: a plot that never has published points)."""
    if published_points or any(len(s.points) > 1 for s in series) or not series:
        return None
    ratios = sorted({g.ratio for s in series for g in s.points if g.ratio is not None})
    at = f" (ratio {', '.join(f'{r:g}' for r in ratios)})" if ratios else ""
    return f"every series has a single point{at}" + (
        "" if published_points is None else " and there are no published numbers to compare with")


def series_xs(series: Sequence[Series], x: XStat, scale: float) -> list[list[float]]:
    """x of every point of every series: `scale` * the group's x mean."""
    return [[scale * (x(g).mean or 0.0) for g in s.points] for s in series]


def draw_series(c: Canvas, series: Sequence[Series], xs: Sequence[Sequence[float]], x: XStat, scale: float,
                fwd: Transform, inv: Transform, width: float) -> list[tuple[float, float, float]]:
    """Lines with error bars (std over seeds), filled markers (hollow for one seed) and n per point.

    `xs` are the points' x (`series_xs`); points of different series at the same x are dodged `width` apart in
    the axis' units (`fwd`/`inv`). Returns (x, accuracy, x as drawn) of every point.
    """
    dodged = dodge([[float(fwd(v)) for v in row] for row in xs], width)
    mixed_budgets = len({s.budget for s in series}) > 1
    means = []
    for k, (s, row) in enumerate(zip(series, dodged, strict=True)):
        st, ls = method_style(s.method), s.linestyle
        shown = [float(inv(u)) for u in row]
        ys = [g.acc.mean or 0.0 for g in s.points]  # make_series keeps only groups with an accuracy
        ns = [g.n for g in s.points]
        xerr = [scale * (x(g).std or 0.0) for g in s.points]
        c.ax.errorbar(shown, ys, yerr=[g.acc.std or 0.0 for g in s.points], xerr=xerr, color=st.color, ls=ls,
                      lw=1.5, capsize=2.5, elinewidth=0.9, zorder=3)
        for hollow in (False, True):
            pick = [i for i, n in enumerate(ns) if (n <= 1) == hollow]
            c.ax.plot([shown[i] for i in pick], [ys[i] for i in pick], ls="none", marker=st.marker, ms=6.5,
                      mfc="white" if hollow else st.color, mec=st.color, mew=1.3, zorder=4)
        for px, py, n in zip(shown, ys, ns, strict=True):
            c.ax.annotate(f"n={n}", (px, py), xytext=(5, -10), textcoords="offset points", fontsize=6.5,
                          color=st.color, alpha=0.9, zorder=5).set_in_layout(False)
        text = s.legend + (", MAC budget" if mixed_budgets and s.budget == "macs" else "")
        c.handles.append((Line2D([], [], color=st.color, ls=ls, marker=st.marker, ms=6, lw=1.5), text))
        means += [(px, py, d) for px, py, d in zip(xs[k], ys, shown, strict=True)]
    if any(g.n <= 1 for s in series for g in s.points):
        c.handles.append((Line2D([], [], ls="none", marker="o", ms=6, mfc="white", mec="#555555"),
                          "hollow: a single seed"))
    return means


def draw_pareto(c: Canvas, series: Sequence[Series], points: Sequence[tuple[float, float, float]]) -> None:
    """A broad grey band through the group means that no other group beats on both axes (`draw_series`' points:
    chosen by their x, drawn at their dodged x); only where there are several series to choose between."""
    front = pareto_front([(px, py) for px, py, _ in points])
    if len(front) < 2 or len(series) < 2:
        return
    (line,) = c.ax.plot([points[i][2] for i in front], [points[i][1] for i in front], color="black", alpha=0.13,
                        lw=9, solid_capstyle="round", solid_joinstyle="round", zorder=1)
    c.handles.append((line, "Pareto front (group means)"))
