"""Does topology predict accuracy? The pre-registered test of conf/experiment/topology_study.yaml
(rgp_bench.report.topology_study): one row per measure, then the accuracy-against-measure figures."""

from __future__ import annotations

from rgp_bench.report.plots import Skipped, pdf_path, svg_path
from rgp_bench.report.render import Document, TableColumn, interval, pval, signed
from rgp_bench.report.sections.base import ReportData
from rgp_bench.report.topology_study import (
    ALPHA,
    BOOTSTRAP_RESAMPLES,
    CONFIRMATION_SEEDS,
    DISCOVERY_SEEDS,
    MIN_BOOTSTRAP_RUNS,
    MeasureResult,
    TwinComparison,
)

COLUMNS: tuple[TableColumn[MeasureResult], ...] = (
    TableColumn("measure", lambda r: r.hypothesis.measure, sticky=True),
    TableColumn("predicted", lambda r: "+" if r.hypothesis.sign > 0 else "−"),
    TableColumn("source", lambda r: r.hypothesis.source),
    TableColumn("runs", lambda r: str(r.partial.n), numeric=True),
    TableColumn("cells", lambda r: str(r.partial.cells), numeric=True),
    TableColumn("partial ρ", lambda r: signed(r.partial.rho, 3), numeric=True),
    TableColumn("95 % CI", lambda r: interval(r.ci, 3), numeric=True),
    TableColumn("plain ρ", lambda r: signed(r.plain.rho, 3), numeric=True),
    TableColumn("ρ discovery", lambda r: signed(r.discovery.rho, 3), numeric=True),
    TableColumn("p discovery (Holm)", lambda r: pval(r.p_discovery), numeric=True),
    TableColumn("ρ confirmation", lambda r: signed(r.confirmation.rho, 3), numeric=True),
    TableColumn("p confirmation (Holm)", lambda r: pval(r.p_confirmation), numeric=True),
    TableColumn("verdict", lambda r: r.verdict, highlight=lambda r: r.verdict == "holds"),
)

TWIN_COLUMNS: tuple[TableColumn[TwinComparison], ...] = (
    TableColumn("model", lambda c: f"{c.dataset} / {c.model}", sticky=True),
    TableColumn("ratio", lambda c: f"{c.ratio:g}", numeric=True),
    TableColumn("series", lambda c: c.label),
    TableColumn("pairs", lambda c: str(c.pairs), numeric=True),
    TableColumn("sparse", lambda c: f"{c.mean:.2f}", numeric=True),
    TableColumn("dense twin", lambda c: f"{c.twin_mean:.2f}", numeric=True),
    TableColumn("diff", lambda c: signed(c.diff, 2), numeric=True),
    TableColumn("p", lambda c: pval(c.p), numeric=True),
    TableColumn("p (Holm)", lambda c: pval(c.p_holm), numeric=True,
                highlight=lambda c: c.p_holm is not None and c.p_holm < ALPHA),
)


def _seeds(seeds: frozenset[int]) -> str:
    return f"{min(seeds)}–{max(seeds)}"


def topology_section(doc: Document, d: ReportData) -> None:
    """One row per measure (predicted sign, rho, CI, p in discovery and confirmation, verdict) and the figures."""
    doc.h2("Does topology predict accuracy?")
    study = d.topology
    if study is None or not study.points:
        doc.p("No run carries a topology panel (the record's `topology` block), so there is nothing to test.")
        return
    doc.p(
        "The pre-registered test of `experiment=topology_study` (hypotheses declared in its preset). Each measure is "
        "a scalar per run from the record's `topology` block (layer measures averaged over the prunable layers); "
        "ASPL only for masks whose node graph is regular (rgp and its regular controls; not block_random, not "
        "unstructured masks). Within each (dataset, model, ratio) cell: Spearman's ρ with test accuracy (plain) and "
        "the partial ρ controlling for the per-layer density profile (both ranks regressed on the cell's principal "
        "components of the per-layer densities); cells pooled by Fisher's z weighted by n − 3 − k. 95 % CI: "
        f"percentile bootstrap of the pooled partial ρ ({BOOTSTRAP_RESAMPLES} resamples of the runs within cells, "
        f"all seeds; only where every cell has at least {MIN_BOOTSTRAP_RUNS} runs). Discovery: seeds "
        f"{_seeds(DISCOVERY_SEEDS)}; confirmation: seeds {_seeds(CONFIRMATION_SEEDS)}; "
        f"p-values Holm-corrected over the measures within each half. A claim holds only when the partial ρ has the "
        f"predicted sign and p < {ALPHA} in both halves; contradicted when both are significant with the other "
        "sign. Hoang et al. (ICLR 2023a) themselves report no significant relation for the Ramanujan gap: their "
        "row tests the Ramanujan hypothesis, not their finding. n/a: the measure is constant in every cell, or the "
        "density profile determines it (nothing is left once the density is regressed out), or too few runs."
    )
    doc.columns_table(COLUMNS, study.results)
    if d.graph2nn is not None:
        doc.p(d.graph2nn.sentence())
    if study.twins:
        doc.h3("Sparse masks against the equal-MAC dense twin")
        doc.p(
            "Each sparse series of a cell against that cell's dense twin (`uniform` channel pruning at the fraction of "
            "the MACs that cell's rgp runs removed, trained from scratch), paired by seed over all seeds: diff = "
            "sparse − twin in test top-1 points; p from a paired t-test, Holm-corrected over the table (bold: "
            f"p (Holm) < {ALPHA}). A negative diff: the narrower dense network is better at the same MACs."
        )
        doc.columns_table(TWIN_COLUMNS, study.twins)
    for cell, plot in d.topology_plots.items():
        if plot is None:
            continue
        alt = f"{cell}: accuracy against each topology measure"
        if isinstance(plot, Skipped):
            doc.p(f"{alt}: not drawn, {plot.reason}.")
        else:
            doc.image(plot, alt, svg_path(plot), pdf_path(plot))
