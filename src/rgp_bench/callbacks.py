"""Hydra callbacks: at the end of a multirun, write the sweep's report and log it to wandb."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from rgp_bench.record.io import ERROR_FILE
from rgp_bench.run.tracking import start_run, sweep_group

log = logging.getLogger(__name__)


class SweepReport(Callback):
    """Writes `<sweep dir>/report/` (CSV, Markdown, HTML, plots) once every job of a multirun has ended.

    Jobs may run in other processes (joblib, submitit), so the report is built from the `results.json`
    files on disk, never from in-memory job returns. `reference`: the methods every other method is
    compared with (set in conf/config.yaml; override with `hydra.callbacks.sweep_report.reference=[...]`).
    """

    def __init__(self, reference: Sequence[str] = ()) -> None:
        self.reference = tuple(reference)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from rgp_bench.run.relaunch import keep_earlier_sweep_plan

        moved = keep_earlier_sweep_plan(Path(config.hydra.sweep.dir), list(config.hydra.overrides.task))
        if moved is not None:
            print(f"note: {config.hydra.sweep.dir} held another sweep; its plan is kept as {moved.name}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from rgp_bench.report import build_report

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            report = build_report([sweep_dir], sweep_dir / "report", references=self.reference)
        except Exception as exc:  # still report the failed runs below, even without a report
            log.warning("sweep report not written: %s", exc)
            report = None
        if report is not None:
            print(f"sweep report: {report.files['markdown']} ({report.summary()})")
            log_sweep_to_wandb(config, sweep_dir, report)
        failed = len(list(sweep_dir.glob(f"**/{ERROR_FILE}")))
        if failed:
            where = report.files["markdown"] if report is not None else f"the {ERROR_FILE} files under {sweep_dir}"
            print(f"error: {failed} run(s) of the sweep failed; see {where}", file=sys.stderr)
            sys.exit(1)


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
