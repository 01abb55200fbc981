"""Reports over many runs: tidy CSV, seed statistics, paired comparisons, plots, failed/missing runs.

Public API: `build_report(paths, out_dir, metric=...) -> Report` and the CLI `main(argv) -> int`
(`python -m rgp_bench.report PATH...`). Published reference numbers: `load_baselines()`.
"""

from rgp_bench.report.baselines import BaselineEntry, BaselineSource, load_baselines
from rgp_bench.report.build import Report, build_report
from rgp_bench.report.cli import main

__all__ = ["BaselineEntry", "BaselineSource", "Report", "build_report", "load_baselines", "main"]
