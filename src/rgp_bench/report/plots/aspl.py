"""Accuracy against the graph's ASPL, per study, with Spearman's rho and published points that carry an ASPL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rgp_bench.report.aspl import AsplStudy
from rgp_bench.report.columns import metric_text
from rgp_bench.report.plots import canvas
from rgp_bench.report.plots.canvas import SINGLE_COLUMN, PlotResult, new_canvas
from rgp_bench.report.plots.references import PUBLISHED_MARKERS, Published
from rgp_bench.report.published import PublishedEntry, PublishedSource
from rgp_bench.report.render import interval, signed
from rgp_bench.report.style import method_style


def aspl_plot(studies: Sequence[AsplStudy], published: Published, metric: str, title: str,
              path: Path, width: float = SINGLE_COLUMN) -> PlotResult:
    """Accuracy (mean ± std per graph) vs ASPL for each study, with Spearman's rho and its bootstrap 95 % CI
    in the legend and a least-squares trend, plus published points that carry an ASPL."""
    if not studies and not any(e.aspl is not None for _, e in published):
        return None
    c = new_canvas(width)
    seen: dict[str, int] = defaultdict(int)
    for s in studies:
        st = method_style(s.method)
        marker = st.marker if not seen[s.method] else PUBLISHED_MARKERS[seen[s.method] % 9]
        seen[s.method] += 1
        xs, ys = [p.aspl for p in s.points], [p.acc_mean for p in s.points]
        # Each point is a different graph, not a trajectory: draw points and a least-squares trend, no joining line.
        bars = c.ax.errorbar(xs, ys, yerr=[p.acc_std or 0.0 for p in s.points], marker=marker, ms=5, capsize=2,
                             ls="none", color=st.color, mfc=st.color, zorder=3)
        c.handles.append((bars, f"{s.method} {s.graph} ({s.regime}): Spearman ρ={_rho(s)}, n={s.n_runs} runs"))
        if len(set(xs)) >= 2:
            slope, intercept = np.polyfit(xs, ys, 1)
            ends = np.array([min(xs), max(xs)])
            (trend,) = c.ax.plot(ends, slope * ends + intercept, ls="--", lw=1.0, color=st.color)
            c.handles.append((trend, f"{s.graph} trend: {slope:+.2f} pt per unit ASPL"))
    # (source, degree) -> (ASPL, source, entry) of each published point that carries an ASPL
    lines: dict[tuple[str, Any], list[tuple[float, PublishedSource, PublishedEntry]]] = defaultdict(list)
    for src, e in published:
        if e.aspl is not None:
            lines[(src.source["id"], e.degree)].append((e.aspl, src, e))
    for i, ((_sid, degree), items) in enumerate(sorted(lines.items(), key=lambda kv: str(kv[0]))):
        items.sort(key=lambda item: item[0])
        _, src, first = items[0]
        color = method_style(first.method).color
        (line,) = c.ax.plot([x for x, _, _ in items], [e.top1 for _, _, e in items], ls=":", lw=0.9, color=color,
                            marker=PUBLISHED_MARKERS[i % len(PUBLISHED_MARKERS)], ms=8, mec="black", mew=0.8,
                            zorder=4)
        c.handles.append((line, f"published {first.nodes}_{degree}: {src.legend}"))
        c.labels += [(x, e.top1, ("~" if e.approximate else "") + e.label) for x, _, e in items]
        c.obstacles += [(x, e.top1) for x, _, e in items]
    return canvas.finish(c, title, "ASPL of the regular graph (lower = shorter paths)", metric_text(metric), path)


def _rho(study: AsplStudy) -> str:
    """'-0.83 (95 % CI [-0.95, -0.60])': rho with its bootstrap interval, 'n/a' when undefined."""
    if study.rho is None:
        return "n/a"
    return f"{signed(study.rho)}" + (f" (95 % CI {interval(study.rho_ci)})" if study.rho_ci else "")
