"""Each method minus each reference method, paired by seed, with a paired t-test."""

from __future__ import annotations

from rgp_bench.report.compare import Comparison
from rgp_bench.report.dense import DENSE
from rgp_bench.report.render import Document, TableColumn, fnum, pval, signed
from rgp_bench.report.sections.base import OFF_TARGET_NOTE, ReportData, flagged, listing, ratio_text

COLUMNS: tuple[TableColumn[Comparison], ...] = (
    TableColumn("dataset", lambda c: c.dataset),
    TableColumn("model", lambda c: c.model),
    TableColumn("ratio", lambda c: ratio_text(c.ratio), numeric=True),
    TableColumn("method", lambda c: flagged(c.method, c.off_target)),
    TableColumn("regime", lambda c: c.regime or "n/a"),
    TableColumn("reference", lambda c: c.reference),
    TableColumn("ref. regime", lambda c: c.reference_regime or "n/a"),
    TableColumn("pairs", lambda c: str(c.n_pairs), numeric=True),
    TableColumn("method mean", lambda c: fnum(c.method_mean), numeric=True),
    TableColumn("reference mean", lambda c: fnum(c.reference_mean), numeric=True),
    TableColumn("mean diff", lambda c: signed(c.mean_diff), numeric=True),
    TableColumn("std diff", lambda c: fnum(c.std_diff), numeric=True),
    TableColumn("t", lambda c: fnum(c.t), numeric=True),
    TableColumn("p", lambda c: pval(c.p_value), numeric=True),
    TableColumn("p (Holm)", lambda c: pval(c.p_holm), numeric=True),
)


def differences_section(doc: Document, d: ReportData) -> None:
    """Each method minus each reference method, paired by seed, with a paired t-test."""
    refs = list(d.references)
    doc.h2(f"Differences from {listing(refs, 'and')} (paired by seed)" if refs else "Differences (paired by seed)")
    if not refs:
        doc.p("No reference methods were given (`--reference METHOD,...`, or `reference` of the sweep's "
              "`sweep_report` callback), so nothing is compared.")
        return
    doc.p(
        "Difference = method − reference in test top-1 points, over the seeds both have, at the same "
        "(dataset, model, ratio) on the same budget basis (weights or MACs). p is a paired t-test across seeds "
        "(scipy.stats.ttest_rel); n/a with fewer than 2 pairs or when every pair differs by the same amount. "
        "p (Holm): the same p after Holm's correction for the table's comparisons (family-wise error), the one to "
        "read when scanning the table for significant differences. "
        "The regimes may differ (scratch: pruned at init then trained; finetune: trained dense, pruned, "
        "fine-tuned), so check the training budgets too."
        + (" The reference `dense` is each group's dense reference: the unpruned model in the same regime and for "
           "the same total epochs (one dense run serves every ratio); groups without one are not compared with it."
           if DENSE in refs else "")
        + (" " + OFF_TARGET_NOTE + " Its difference is not a comparison at equal budget."
           if any(c.off_target for c in d.comparisons) else "")
    )
    if not d.comparisons:
        doc.p(f"No {listing(refs, 'or')} runs at a matching (dataset, model, ratio), so nothing to compare.")
        return
    doc.columns_table(COLUMNS, d.comparisons)
