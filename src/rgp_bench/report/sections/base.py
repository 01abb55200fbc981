"""What every section of the report draws on, and the small texts several sections share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rgp_bench.report.aspl import AsplStudy
from rgp_bench.report.compare import Comparison, SanityCheck
from rgp_bench.report.figures import Figures, Pair
from rgp_bench.report.graph2nn import Graph2nnReference
from rgp_bench.report.groups import OFF_TARGET_TOLERANCE, Group
from rgp_bench.report.plots import PlotResult, pdf_path, svg_path
from rgp_bench.report.problems import Problem
from rgp_bench.report.published import PublishedSource
from rgp_bench.report.render import Document
from rgp_bench.report.runs import Run
from rgp_bench.report.topology_study import TopologyStudy


@dataclass
class ReportData:
    """What the sections of the document draw on."""

    paths: Sequence[str | Path]
    runs: list[Run]
    groups: list[Group]
    comparisons: list[Comparison]
    studies: list[AsplStudy]
    problems: list[Problem]
    notes: list[str]
    sources: list[PublishedSource]
    pairs: list[Pair]
    figures: Figures
    metric: str
    references: tuple[str, ...]
    sanity: list[SanityCheck] = field(default_factory=list)
    topology: TopologyStudy | None = None  # the topology study (report.topology_study) and its figures by name
    topology_plots: dict[str, PlotResult] = field(default_factory=dict)
    best_tests: int = 0  # paired tests behind the results table's emphasis (report.emphasis)
    graph2nn: Graph2nnReference | None = None  # the topology section's yardstick, from the baselines folder


# A section writes its part of the document.
Section = Callable[[Document, ReportData], None]

OFF_TARGET_NOTE = (f"†: at least one run of the group achieved a reduction more than "
                   f"{OFF_TARGET_TOLERANCE:.0%} away from its ratio on its budget basis (e.g. RGP's "
                   "degree k >= 2 of n nodes caps the sparsity at 1 - 2/n); its sparsity and reduction columns say "
                   "what it pruned.")


def flagged(label: str, off_target: bool) -> str:
    """A label with the off-target mark (OFF_TARGET_NOTE) when it applies."""
    return f"{label} †" if off_target else label


def ratio_text(r: float | None) -> str:
    return "n/a" if r is None else f"{r:g}"


def seeds_text(seeds: Sequence[int]) -> str:
    return ",".join(str(s) for s in seeds) or "n/a"


def listing(names: Sequence[str], joiner: str) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {joiner} {names[-1]}"


def show_figures(doc: Document, figures: Figures, pair: Pair, prefix: str | tuple[str, ...],
                 alt: Callable[[str], str]) -> None:
    """The pair's plots of kinds starting with `prefix`: an image each, or a line saying why it was skipped."""
    for kind, what in figures.of(pair, prefix):
        if isinstance(what, Path):
            doc.image(what, alt(kind), svg_path(what), pdf_path(what))
        else:
            doc.p(f"{alt(kind)}: not drawn, {what}; the results table has these numbers.")
