"""Command line: `python -m rgp_bench.report PATH... [--out DIR] [--metric best_val|final] [--reference M,...]
[--no-figures]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from rgp_bench.config.location import conf_dir
from rgp_bench.core.cli import OneLineParser
from rgp_bench.core.errors import UserError
from rgp_bench.report.build import build_report
from rgp_bench.report.columns import METRICS

# Exit status when the paths hold runs but not one complete, readable record (with or without --strict).
NOTHING_USABLE = 1


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m rgp_bench.report",
        description="Aggregate rgp-bench runs (sweep dirs, outputs/, any folder) into results.csv, "
        "report.md, report.html and plots; list failed, incomplete and missing runs.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="folders searched recursively for runs")
    p.add_argument("--out", metavar="DIR", help="where to write the report (default: PATH/report for the first PATH)")
    p.add_argument(
        "--metric",
        choices=METRICS,
        default="best_val",
        help="accuracy used in tables and plots: test top-1 at the best-validation epoch "
        "(default) or at the final epoch",
    )
    p.add_argument(
        "--reference",
        metavar="METHOD,...",
        help="methods every other method is compared with, paired by seed (default: the `reference` list of "
        "the sweep_report callback in conf/config.yaml)",
    )
    p.add_argument(
        "--baselines",
        metavar="DIR",
        help="folder of published reference numbers (default: $RGP_BENCH_BASELINES or ./baselines)",
    )
    p.add_argument("--no-baselines", action="store_true", help="leave published numbers out")
    p.add_argument("--no-figures", action="store_true", help="tables only: draw no plot (faster on large sweeps)")
    p.add_argument("--strict", action="store_true", help="exit 1 when any run failed, is incomplete or missing")
    return p


def default_references() -> list[str]:
    """The reference methods of the project's sweep config (conf/config.yaml, sweep_report callback)."""
    config = yaml.safe_load((conf_dir() / "config.yaml").read_text(encoding="utf-8"))
    return list(config["hydra"]["callbacks"]["sweep_report"]["reference"])


def main(argv: list[str] | None = None) -> int:
    """Run the report CLI; return the exit code (0 ok, 1 no usable run or problems with --strict, 2 bad input)."""
    args = _parser().parse_args(argv)
    first = Path(args.paths[0])
    out = Path(args.out) if args.out else (first.parent if first.is_file() else first) / "report"
    references = default_references() if args.reference is None else [m for m in args.reference.split(",") if m]
    try:
        report = build_report(args.paths, out, metric=args.metric, references=references,
                              baselines_dir=args.baselines, with_published=not args.no_baselines,
                              figures=not args.no_figures)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # e.g. the output folder is not writable
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    print(report.summary())
    if not report.rows:
        print(f"error: no usable run under {', '.join(args.paths)} (no complete, readable record); the report lists "
              f"what was found", file=sys.stderr)
        return NOTHING_USABLE
    if args.strict and report.problems:
        return 1
    return 0
