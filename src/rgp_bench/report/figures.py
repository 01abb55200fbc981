"""The report's figures: every plot of every (dataset, model), written into <out>/plots (PNG and SVG)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rgp_bench.report import plots, published
from rgp_bench.report.aspl import AsplStudy
from rgp_bench.report.groups import Group
from rgp_bench.report.plots.references import Published
from rgp_bench.report.published import PublishedSource

# (dataset, model)
Pair = tuple[str, str]


@dataclass
class Figures:
    """The plots of every (dataset, model): kind -> PNG path for those drawn, kind -> reason for those skipped.

    Kinds: "params" and "macs" (accuracy vs reduction, weight budgets), "params_mac-budget" and
    "macs_mac-budget" (MAC budgets: never drawn with weight budgets, the same ratio means different budgets),
    "speedup", "aspl", and "density_r<ratio>" / "density_r<ratio>_mac-budget".
    """

    # (dataset, model) -> kind -> the PNG's path, or why the plot was skipped; plots with nothing to draw are absent
    kinds: dict[Pair, dict[str, Path | str]] = field(default_factory=dict)

    def of(self, pair: Pair, prefix: str | tuple[str, ...]) -> list[tuple[str, Path | str]]:
        """(kind, PNG path or skip reason) of the pair's plots whose kind starts with `prefix`, in order drawn."""
        return [(k, v) for k, v in self.kinds.get(pair, {}).items() if k.startswith(prefix)]

    def made(self) -> list[Path]:
        """Every PNG written."""
        return [v for kinds in self.kinds.values() for v in kinds.values() if isinstance(v, Path)]

    def skipped(self) -> dict[str, str]:
        """Plot name -> why it was not drawn."""
        return {plot_name(pair, k): v for pair, kinds in self.kinds.items() for k, v in kinds.items()
                if isinstance(v, str)}


def plot_name(pair: Pair, kind: str) -> str:
    """File stem of a plot (and its key in Report.files): '<dataset>_<model>_<kind>'."""
    return f"{plots.safe_name(pair[0])}_{plots.safe_name(pair[1])}_{kind}"


def _basis_suffix(basis: str) -> tuple[str, str]:
    """(kind suffix, title note) of a budget basis: weight budgets have none."""
    return ("", "") if basis == "weights" else ("_mac-budget", ", MAC budgets")


def draw_figures(out: Path, groups: Sequence[Group], studies: Sequence[AsplStudy], sources: list[PublishedSource],
                 pairs: Sequence[Pair], metric: str) -> Figures:
    """Write the plots of every (dataset, model) into out/plots (PNG and SVG)."""
    figs = Figures()
    for pair in pairs:
        # Dense groups are not series (they sit at 0 reduction, 1×): each series draws its dense reference as a line.
        mine = [g for g in groups if (g.dataset, g.model) == pair and not g.is_dense]
        st = [s for s in studies if (s.dataset, s.model) == pair]
        kinds = _pair_plots(out, pair, mine, st, published.matching(sources, *pair), metric)
        figs.kinds[pair] = {k: r.reason if isinstance(r, plots.Skipped) else r for k, r in kinds.items()
                            if r is not None}
    return figs


def _pair_plots(out: Path, pair: Pair, mine: list[Group], studies: list[AsplStudy], pub: Published,
                metric: str) -> dict[str, plots.PlotResult]:
    ds, model = pair
    kinds: dict[str, plots.PlotResult] = {}

    def path(kind: str) -> Path:
        return out / "plots" / f"{plot_name(pair, kind)}.png"

    bases = sorted({g.budget for g in mine}, key=lambda b: b != "weights")
    for basis in bases:
        suffix, note = _basis_suffix(basis)
        series = [g for g in mine if g.budget == basis]
        for axis in ("params", "macs"):
            kind = f"{axis}{suffix}"
            kinds[kind] = plots.tradeoff_plot(series, pub, axis, metric, f"{ds} / {model}{note}", path(kind))
    kinds["speedup"] = plots.speedup_plot(mine, metric, f"{ds} / {model}: accuracy vs measured speed-up",
                                          path("speedup"))
    for basis in bases:
        suffix, note = _basis_suffix(basis)
        for ratio in sorted({g.ratio for g in mine if g.budget == basis and g.ratio is not None}):
            kind = f"density_r{ratio:g}{suffix}"
            cell = [g for g in mine if g.budget == basis and g.ratio == ratio]
            kinds[kind] = plots.density_plot(cell, f"{ds} / {model}, ratio {ratio:g}{note}: kept fraction per "
                                                   "prunable layer", path(kind))
    if studies:
        kinds["aspl"] = plots.aspl_plot(studies, pub, metric, f"{ds} / {model}: accuracy vs ASPL", path("aspl"))
    return kinds
