"""PNG plots (matplotlib, Agg canvas, no pyplot global state): accuracy vs cost reduction, accuracy vs ASPL."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rgp_bench.report.baselines import BaselineEntry, BaselineSource

_MARKERS = ("*", "P", "X", "D", "^", "v", "s", "p", "h")
METRIC_TEXT = {
    "best_val": "test top-1 at best-validation epoch (%)",
    "final": "test top-1 at final epoch (%)",
}


def safe_name(text: str) -> str:
    """A file-name-safe version of a dataset/model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "unnamed"


def _new_figure() -> tuple[Figure, Any]:
    fig = Figure(figsize=(7.5, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig: Figure, ax: Any, path: Path) -> Path:
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, loc="best", framealpha=0.85)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def tradeoff_plot(
    groups: Sequence[dict[str, Any]],
    published: Sequence[tuple[BaselineSource, BaselineEntry]],
    axis: str,
    metric: str,
    title: str,
    path: Path,
) -> Path | None:
    """Accuracy vs `axis` ('params' or 'macs') reduction: one line per method (error bars = std over seeds)
    plus published points as separate markers. Returns None when there is nothing to draw.
    """
    fig, ax = _new_figure()
    drawn = 0
    series: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for g in groups:
        if g.get(f"{axis}_reduction_mean") is not None and g.get("acc_mean") is not None:
            series[(g["label"], g["regime"] or "")].append(g)
    for (lab, regime), pts in sorted(series.items()):
        pts.sort(key=lambda g: g[f"{axis}_reduction_mean"])
        x = [100 * g[f"{axis}_reduction_mean"] for g in pts]
        xerr = [100 * (g[f"{axis}_reduction_std"] or 0.0) for g in pts]
        y = [g["acc_mean"] for g in pts]
        yerr = [g["acc_std"] or 0.0 for g in pts]
        ax.errorbar(
            x,
            y,
            yerr=yerr,
            xerr=xerr,
            marker="o",
            ms=4,
            capsize=3,
            lw=1.4,
            label=f"{lab} ({regime})" if regime else lab,
        )
        drawn += len(pts)

    by_source: dict[tuple[str, str], list[tuple[BaselineSource, BaselineEntry]]] = defaultdict(list)
    for src, e in published:
        if getattr(e, f"{axis}_reduction") is not None:
            by_source[(src.source["id"], e.method)].append((src, e))
    for i, ((_sid, method), items) in enumerate(sorted(by_source.items())):
        src = items[0][0]
        xs = [100 * getattr(e, f"{axis}_reduction") for _, e in items]
        ys = [e.top1 for _, e in items]
        ax.scatter(
            xs,
            ys,
            marker=_MARKERS[i % len(_MARKERS)],
            s=46,
            zorder=3,
            edgecolors="black",
            linewidths=0.5,
            label=f"published: {method}, {src.legend}",
        )
        for (_, e), xv, yv in zip(items, xs, ys, strict=True):
            ax.annotate(e.label, (xv, yv), fontsize=5.5, xytext=(3, 2), textcoords="offset points", alpha=0.8)
        drawn += len(items)
    if not drawn:
        return None
    what = "parameter" if axis == "params" else "MAC"
    ax.set_xlabel(f"{what} reduction (% of the dense model removed)")
    ax.set_ylabel(METRIC_TEXT.get(metric, metric))
    ax.set_title(title, fontsize=10)
    return _save(fig, ax, path)


def aspl_plot(
    studies: Sequence[dict[str, Any]],
    published: Sequence[tuple[BaselineSource, BaselineEntry]],
    metric: str,
    title: str,
    path: Path,
) -> Path | None:
    """Accuracy (mean ± std per graph) vs ASPL for each study, plus published points that carry an ASPL."""
    fig, ax = _new_figure()
    drawn = 0
    for s in studies:
        pts = s["points"]
        rho = "n/a" if s["rho"] is None else f"{s['rho']:+.2f}"
        xs, ys = [p["aspl"] for p in pts], [p["acc_mean"] for p in pts]
        # Each point is a different graph, not a trajectory: draw points and a least-squares trend, no joining line.
        bars = ax.errorbar(xs, ys, yerr=[p["acc_std"] or 0.0 for p in pts], marker="o", ms=4, capsize=3, ls="none",
                           label=f"{s['graph']} ({s['regime']}), Spearman ρ={rho}, n={s['n_runs']}")
        if len(set(xs)) >= 2:
            slope, intercept = np.polyfit(xs, ys, 1)
            ends = np.array([min(xs), max(xs)])
            ax.plot(ends, slope * ends + intercept, ls="--", lw=1.0, color=bars[0].get_color(),
                    label=f"{s['graph']} trend: {slope:+.2f} pt per unit ASPL")
        drawn += len(pts)
    lines: dict[tuple[str, Any], list[tuple[BaselineSource, BaselineEntry]]] = defaultdict(list)
    for src, e in published:
        if e.aspl is not None:
            lines[(src.source["id"], e.degree)].append((src, e))
    for i, ((_sid, degree), items) in enumerate(sorted(lines.items(), key=lambda kv: str(kv[0]))):
        items.sort(key=lambda se: se[1].aspl)
        src, first = items[0]
        ax.plot(
            [e.aspl for _, e in items],
            [e.top1 for _, e in items],
            ls="--",
            lw=0.8,
            marker=_MARKERS[i % len(_MARKERS)],
            ms=7,
            mec="black",
            mew=0.5,
            label=f"published {first.nodes}_{degree}: {src.legend}",
        )
        drawn += len(items)
    if not drawn:
        return None
    ax.set_xlabel("ASPL of the regular graph (lower = shorter paths)")
    ax.set_ylabel(METRIC_TEXT.get(metric, metric))
    ax.set_title(title, fontsize=10)
    return _save(fig, ax, path)
