"""Accuracy against each topology measure, small multiples: one figure per (model, ratio) cell of the topology
study, one panel per measure, each run a point in its method's colour and marker."""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rgp_bench.report.columns import metric_text
from rgp_bench.report.plots.canvas import DOUBLE_COLUMN, MIN_FONT, TITLE_FONT, PlotResult, safe_name, save
from rgp_bench.report.render import signed
from rgp_bench.report.style import method_style
from rgp_bench.report.topology_study import Cell, TopologyStudy

COLUMNS = 3
PANEL_HEIGHT = 2.0  # inches per row of panels, at a paper's double-column width


def draw_topology(out: Path, study: TopologyStudy, metric: str) -> dict[str, PlotResult]:
    """The figure of every cell of `study`, written into out/plots: plot name -> PNG path (or None, nothing drawn)."""
    figures: dict[str, PlotResult] = {}
    for cell in sorted({p.cell for p in study.points}):
        dataset, model, ratio = cell
        name = f"{safe_name(dataset)}_{safe_name(model)}_topology_r{ratio:g}"
        figures[name] = topology_plot(study, cell, metric, f"{dataset} / {model}, ratio {ratio:g}: accuracy against "
                                      "each topology measure", out / "plots" / f"{name}.png")
    return figures


def topology_plot(study: TopologyStudy, cell: Cell, metric: str, title: str, path: Path) -> PlotResult:
    """One panel per measure with at least one run in `cell`: accuracy against the measure, with the cell's
    partial Spearman rho (density profile controlled) in the panel's title; None when the cell has no point."""
    points = [p for p in study.points if p.cell == cell]
    if not points:
        return None
    results = [r for r in study.results if any(p.measures.get(r.hypothesis.measure) is not None for p in points)]
    if not results:
        return None
    rows = math.ceil(len(results) / COLUMNS)
    fig = Figure(figsize=(DOUBLE_COLUMN, PANEL_HEIGHT * rows + 0.9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    legend: dict[str, Artist] = {}
    for i, result in enumerate(results):
        measure = result.hypothesis.measure
        ax = fig.add_subplot(rows, COLUMNS, i + 1)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=MIN_FONT)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)  # an offset label would sit on the x label
        for label in sorted({p.label for p in points}):
            mine = [p for p in points if p.label == label and p.measures.get(measure) is not None]
            if not mine:
                continue
            style = method_style(label.split("+")[0])  # a sanity-checked series: its method's colour, an x
            marker = "x" if "+" in label else style.marker
            xs = cast("list[float]", [p.measures[measure] for p in mine])  # `mine` has the measure
            handle = ax.scatter(xs, [p.accuracy for p in mine], s=12,
                                marker=marker, color=style.color, alpha=0.8)
            legend.setdefault(label, handle)
        cell_rho = next((c.partial_rho for c in result.cells if (c.dataset, c.model, c.ratio) == cell), None)
        sign = "+" if result.hypothesis.sign > 0 else "−"
        ax.set_title(f"predicted {sign}, partial ρ {signed(cell_rho)}", fontsize=MIN_FONT)
        ax.set_xlabel(measure, fontsize=MIN_FONT)
        if i % COLUMNS == 0:
            ax.set_ylabel(metric_text(metric), fontsize=MIN_FONT)
    fig.legend(list(legend.values()), list(legend), loc="outside lower center", ncols=min(3, len(legend)),
               fontsize=MIN_FONT)
    fig.suptitle(title, fontsize=TITLE_FONT)
    return save(fig, path)
