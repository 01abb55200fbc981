"""Hydra callbacks: the sweep's progress ("k of N done, m failed"), and at its end the report, a compact comparison
table on the terminal and the report logged to wandb."""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from rgp_bench.core.console import emit
from rgp_bench.record.io import ERROR_FILE, RESULTS_FILE
from rgp_bench.record.read import earlier_plans
from rgp_bench.run.tracking import start_run, sweep_group

log = logging.getLogger(__name__)


class SweepReport(Callback):
    """Counts the sweep's jobs as they end, and writes `<sweep dir>/report/` (CSV, Markdown, HTML, plots) once
    every job of a multirun has ended, then prints the comparison table and where the report is.

    Jobs may run in other processes (joblib, submitit), so both the count and the report come from the files on
    disk (`results.json`, `error.json`), never from in-memory job returns. `reference`: the methods every other
    method is compared with (set in conf/config.yaml; override with `hydra.callbacks.sweep_report.reference=[...]`).
    `figures`: draw the plots (false: tables only, `hydra.callbacks.sweep_report.figures=false`).
    """

    def __init__(self, reference: Sequence[str] = (), figures: bool = True) -> None:
        self.reference = tuple(reference)
        self.figures = bool(figures)
        self.jobs: int | None = None  # set before the launch; the launcher hands this object to its workers

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:  # Hydra calls this after a single run too
            return
        try:
            emit(progress_line(Path(config.hydra.sweep.dir), self.jobs))
        except Exception as exc:  # a progress line must never fail a job
            log.debug("sweep progress not shown: %s", exc)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from rgp_bench.run.relaunch import keep_earlier_sweep_plan

        sweep_dir = Path(config.hydra.sweep.dir)
        moved = keep_earlier_sweep_plan(sweep_dir, list(config.hydra.overrides.task))
        if moved is not None:
            print(f"note: {sweep_dir} held another sweep; its plan is kept as {moved.name}")
        if earlier_plans(sweep_dir):  # the records counted are not all this sweep's: no "of N"
            print(f"note: the progress lines count every run in {sweep_dir}, the earlier sweeps' too")
            self.jobs = None
        else:
            self.jobs = sweep_size(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from rgp_bench.report import build_report
        from rgp_bench.run.relaunch import REFUSED_FILE

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            report = build_report([sweep_dir], sweep_dir / "report", references=self.reference,
                                  figures=self.figures)
        except Exception as exc:  # still report the failed runs below, even without a report
            log.warning("sweep report not written: %s", exc)
            report = None
        if report is not None:
            table = comparison_table(report.groups, report.metric)
            emit("\n".join([*([table] if table else []), f"sweep {report.summary()}"]))
            log_sweep_to_wandb(config, sweep_dir, report)
        failed = len(list(sweep_dir.glob(f"**/{ERROR_FILE}")))
        refused = sorted(sweep_dir.glob(f"*/{REFUSED_FILE}"))
        if failed:
            where = report.files["markdown"] if report is not None else f"the {ERROR_FILE} files under {sweep_dir}"
            print(f"error: {failed} run(s) of the sweep failed; see {where}", file=sys.stderr)
        if refused:
            print(f"error: {len(refused)} job(s) of the sweep refused to replace the complete record of the same "
                  f"config on another thread count (kept as it was); why: {refused[0]}", file=sys.stderr)
        if failed or refused:
            sys.exit(1)


def sweep_size(config: DictConfig) -> int | None:
    """The number of jobs the basic sweeper will launch (the product of the swept values), or None for another
    sweeper (Optuna, Ax: it decides as it goes) or overrides it cannot expand here."""
    sweeper = config.hydra.get("sweeper") or {}
    if not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
        return None
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
        overrides = OverridesParser.create().parse_overrides([*params, *config.hydra.overrides.task])
        (jobs,) = BasicSweeper.split_arguments(overrides, None)
        return len(jobs)
    except Exception as exc:  # e.g. a glob sweep, which needs the config loader
        log.debug("sweep size unknown: %s", exc)
        return None


def progress_line(sweep_dir: Path, jobs: int | None) -> str:
    """"[sweep] k of N done, m failed": jobs that wrote a record or an error file so far (N when known)."""
    done = len(list(sweep_dir.glob(f"*/{RESULTS_FILE}")))
    failed = len(list(sweep_dir.glob(f"*/{ERROR_FILE}")))
    total = f" of {jobs}" if jobs is not None else ""
    return f"[sweep] {done + failed}{total} done, {failed} failed"


def comparison_table(groups: Sequence[dict[str, Any]], metric: str) -> str:
    """The report's groups as a compact method x ratio table per (dataset, model): test top-1 mean ± std (seeds),
    one row per method, budget basis and regime, as plain text for the terminal ("" when there is no group)."""
    blocks: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for group in groups:
        blocks[(group["dataset"], group["model"])].append(group)
    out = []
    for (dataset, model), rows in sorted(blocks.items()):
        ratios = sorted({g["ratio"] for g in rows})
        cells: dict[tuple[str, str, str], dict[Any, str]] = defaultdict(dict)
        for g in rows:
            mean, std = g["acc_mean"], g["acc_std"]
            text = "-" if mean is None else f"{mean:.2f}" + ("" if std is None else f" ± {std:.2f}") + f" ({g['n']})"
            cells[(g["label"], _BASIS.get(g["budget"], g["budget"]), g["regime"])][g["ratio"]] = text
        header = ["method", "budget", "regime", *("unpruned" if not r else f"r={r}" for r in ratios)]
        body = [[*key, *(by_ratio.get(r, "") for r in ratios)] for key, by_ratio in cells.items()]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                           for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
                 for row in [header, *body]]
        out += [f"{dataset} / {model}: test top-1 % ({metric}), mean ± std (seeds)", *lines, ""]
    return "\n".join(out).rstrip()


_BASIS = {"weights": "weights", "macs": "MACs", "none": "unpruned"}


def log_sweep_to_wandb(config: DictConfig, sweep_dir: Path, report: Any) -> None:
    """A summary run in the sweep's wandb group: the tidy results table and the comparison plots."""
    sweep = sweep_group(sweep_dir)
    run = start_run(config.logger, sweep_dir, group=sweep, job_type="summary", name=f"summary-{sweep}",
                    extra_tags=[sweep])
    if run is None:
        return
    try:
        import wandb

        if report.rows:
            columns = sorted({key for row in report.rows for key in row})
            table = wandb.Table(columns=columns, data=[[row.get(c) for c in columns] for row in report.rows])
            run.log({"results": table})
        if report.groups:
            columns = sorted({key for row in report.groups for key in row})
            run.log({"groups": wandb.Table(columns=columns,
                                           data=[[row.get(c) for c in columns] for row in report.groups])})
        images = {name: wandb.Image(str(path)) for name, path in report.files.items() if str(path).endswith(".png")}
        if images:
            run.log(images)
    except Exception as exc:
        log.warning("wandb sweep summary failed (%s)", exc)
    finally:
        try:
            run.finish()
        except Exception as exc:
            log.warning("wandb finish failed (%s)", exc)
