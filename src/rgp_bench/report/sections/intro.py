"""What was read, and how accuracy and reductions are defined."""

from __future__ import annotations

from rgp_bench.report.columns import metric_text
from rgp_bench.report.problems import count
from rgp_bench.report.render import Document
from rgp_bench.report.sections.base import ReportData


def intro_section(doc: Document, d: ReportData) -> None:
    """What was read, and how accuracy and reductions are defined."""
    counts = count(d.problems)
    doc.p(
        f"Inputs: {', '.join(f'`{p}`' for p in d.paths)}. {len(d.runs)} completed runs in {len(d.groups)} groups; "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s != "duplicate")
        + ". Every run is in `results.csv` (one row per run)."
    )
    doc.p(
        f"Accuracy: {metric_text(d.metric)}. `best_val` is the test accuracy at the epoch with the best "
        "validation accuracy (ties: lower validation loss; validation carved from the training set); "
        "`final` is the last epoch. The test split is never used to pick an epoch. Reductions are exact counts "
        "from each run (fraction of the dense model removed; 1 MAC = one fused multiply-add). ± is the sample "
        "standard deviation over seeds."
    )
