"""Reports over many runs: tidy CSV, seed statistics, paired comparisons, plots, failed/missing runs.

Public API: `build_report(paths, out_dir, metric=...) -> Report` and the CLI `main(argv) -> int`
(`python -m rgp_bench.report PATH...`). Published reference numbers: `load_published()`. Every method's
colour and marker: `style.method_style(name)`; the bootstrap interval of Spearman's rho:
`stats.bootstrap_spearman_ci(x, y)`.
"""

from rgp_bench.report.build import Report, build_report
from rgp_bench.report.cli import main
from rgp_bench.report.published import PublishedEntry, PublishedSource, load_published

__all__ = ["PublishedEntry", "PublishedSource", "Report", "build_report", "load_published", "main"]
