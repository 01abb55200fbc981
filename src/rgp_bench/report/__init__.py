"""Reports over many runs: tidy CSV, seed statistics, paired comparisons, plots, failed/missing runs.

Public API: `build_report(paths, out_dir, metric=...) -> Report`, its file-free part `analyse(paths, metric)
-> Analysis` (typed runs, groups, comparisons) and the CLI `main(argv) -> int` (`python -m rgp_bench.report
PATH...`). Records are read only through `rgp_bench.record.read`. Published reference numbers: `load_published()`.
Every method's colour and marker: `style.method_style(name)`; the bootstrap interval of Spearman's rho:
`stats.bootstrap_spearman_ci(x, y)`.
"""

from rgp_bench.report.build import Analysis, Report, analyse, build_report
from rgp_bench.report.cli import main
from rgp_bench.report.published import PublishedEntry, PublishedSource, load_published

__all__ = ["Analysis", "PublishedEntry", "PublishedSource", "Report", "analyse", "build_report", "load_published",
           "main"]
