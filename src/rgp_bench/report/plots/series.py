"""Lines of accuracy against an x quantity: one series per method (variant, regime, budget basis), drawn with
error bars, hollow single-seed points, the seeds per series in the legend, and the Pareto front of the group means
(differences within a stated tolerance are ties)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from matplotlib.lines import Line2D

from rgp_bench.report.columns import Stat
from rgp_bench.report.groups import Group, natural_key
from rgp_bench.report.plots.axes import ACCURACY_TIE, Transform, dodge, pareto_front
from rgp_bench.report.plots.canvas import Canvas
from rgp_bench.report.style import VariantLook, method_style, variant_look

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
    # Which of its method's series in the plot this is (0: the first, drawn solid): `make_series` sets it.
    look_index: int = 0

    @property
    def look(self) -> VariantLook:
        """Variants and regimes of one method share its colour; line style and marker fill tell them apart."""
        return variant_look(self.look_index)

    @property
    def linestyle(self) -> object:
        return self.look.linestyle

    @property
    def legend(self) -> str:
        text = f"{self.label} ({self.regime})" if self.regime else self.label
        ns = sorted({g.n for g in self.points})
        return f"{text}, n={ns[0]}" if len(ns) == 1 else f"{text}, n={ns[0]}–{ns[-1]}" if ns else text


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
    out = [by[k] for k in sorted(by, key=lambda k: (k[0] != by[k].method, natural_key(k[0]), k[1:]))]
    seen: dict[str, int] = {}
    for s in out:
        s.look_index = seen.get(s.method, 0)
        seen[s.method] = s.look_index + 1
    return sorted(out, key=lambda s: (natural_key(s.label), s.regime, s.budget))


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


# A point as `draw_series` returns it: x (axis units), accuracy mean, x as drawn (dodged, data units), accuracy
# tie tolerance (the group's seed std, at least ACCURACY_TIE).
Point = tuple[float, float, float, float]


def draw_series(c: Canvas, series: Sequence[Series], xs: Sequence[Sequence[float]], x: XStat, scale: float,
                fwd: Transform, inv: Transform, width: float) -> list[Point]:
    """Lines with error bars (std over seeds) and filled markers (hollow for one seed); n per series in the legend.

    `xs` are the points' x (`series_xs`); points of different series at the same x are dodged `width` apart in
    the axis' units (`fwd`/`inv`). Returns every point (`Point`).
    """
    dodged = dodge([[float(fwd(v)) for v in row] for row in xs], width)
    mixed_budgets = len({s.budget for s in series}) > 1
    means: list[Point] = []
    for k, (s, row) in enumerate(zip(series, dodged, strict=True)):
        st, look = method_style(s.method), s.look
        shown = [float(inv(u)) for u in row]
        ys = [g.acc.mean or 0.0 for g in s.points]  # make_series keeps only groups with an accuracy
        ns = [g.n for g in s.points]
        xerr = [scale * (x(g).std or 0.0) for g in s.points]
        c.ax.errorbar(shown, ys, yerr=[g.acc.std or 0.0 for g in s.points], xerr=xerr, color=st.color,
                      ls=look.linestyle, lw=1.3, capsize=2, elinewidth=0.8, zorder=3)
        for hollow in (False, True):
            pick = [i for i, n in enumerate(ns) if (n <= 1) == hollow]
            c.ax.plot([shown[i] for i in pick], [ys[i] for i in pick], ls="none", marker=st.marker, ms=5,
                      mfc="white" if hollow else st.color, mfcalt="white", fillstyle=look.fillstyle, mec=st.color,
                      mew=1.1, zorder=4)
        text = s.legend + (", MAC budget" if mixed_budgets and s.budget == "macs" else "")
        c.handles.append((Line2D([], [], color=st.color, ls=look.linestyle, marker=st.marker, ms=5, lw=1.3,
                                 fillstyle=look.fillstyle, mfcalt="white"), text))
        means += [(float(fwd(px)), py, d, max(ACCURACY_TIE, g.acc.std or 0.0))
                  for px, py, d, g in zip(xs[k], ys, shown, s.points, strict=True)]
    if any(g.n <= 1 for s in series for g in s.points):
        c.handles.append((Line2D([], [], ls="none", marker="o", ms=5, mfc="white", mec="#555555"),
                          "hollow: a single seed"))
    return means


def pareto_text(x_tie: float, what: str) -> str:
    """The Pareto front's legend entry, stating its tolerance."""
    return (f"Pareto front of group means (ties: {what} within {x_tie:.0%}, accuracy within the larger seed std, "
            f"at least {ACCURACY_TIE:g} pt)")


def draw_pareto(c: Canvas, series: Sequence[Series], points: Sequence[Point], x_tie: float, what: str) -> None:
    """A broad grey band through the group means that no other group beats on both axes by more than the
    tolerances (axes.pareto_front: x within a relative `x_tie`, accuracy within seed noise), chosen by their x and
    drawn at their dodged x; only where there are several series to choose between."""
    import math

    front = pareto_front([(u, y) for u, y, _, _ in points], math.log2(1 + x_tie), [t for *_, t in points])
    if len(front) < 2 or len(series) < 2:
        return
    (line,) = c.ax.plot([points[i][2] for i in front], [points[i][1] for i in front], color="black", alpha=0.13,
                        lw=7, solid_capstyle="round", solid_joinstyle="round", zorder=1)
    c.handles.append((line, pareto_text(x_tie, what)))
