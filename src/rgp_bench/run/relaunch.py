"""Relaunching into a directory that already holds results: never replace a complete record silently.

The resolved thread count is part of a run's identity, because it can change results on CPU (measured: digits MLP,
RGP 0.9, 3 epochs, seed 0: identical accuracies but val_loss 0.12100342909 with 1 thread vs 0.12100525697 with 2).
So a run or sweep relaunched on another number of cores (`hardware.threads: null` follows the cores available) is
another run; when its directory holds the complete record of the same config on other threads, it is refused.
Each sweep also keeps its own `multirun.yaml` when a sweep directory is reused for another sweep.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from rgp_bench.core.errors import UserError
from rgp_bench.core.fileio import atomic_write_text
from rgp_bench.core.hardware import resolved_threads
from rgp_bench.record.io import RESULTS_FILE
from rgp_bench.record.read import EARLIER_PLAN, MULTIRUN_FILE
from rgp_bench.run.identity import run_id

# In a sweep's job directory: the line of a job that refused to replace the record there (the sweep then fails).
REFUSED_FILE = "refused.txt"


class ReplaceRefused(UserError):
    """A relaunch would replace a complete record of another run (the same config on another thread count)."""


def _complete_record(out_dir: Path) -> dict | None:
    try:
        record = json.loads((out_dir / RESULTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("status") == "complete" else None


def _threads_of(record: dict) -> int | None:
    try:
        return int(record["environment"]["device"]["threads"])
    except (KeyError, TypeError, ValueError):
        return None


def _with_threads(cfg: DictConfig, threads: int) -> DictConfig:
    other = copy.deepcopy(cfg)
    with open_dict(other):
        other.hardware.threads = threads
    return other


def refuse_other_threads(cfg: DictConfig, out_dir: Path, current_id: str) -> None:
    """Raise ReplaceRefused when `out_dir` holds the complete record of this very config run on another thread
    count (its run id differs from this run's only through the threads); any other record is left to the caller."""
    record = _complete_record(out_dir)
    if record is None or record.get("run_id") in (None, current_id):
        return
    old = _threads_of(record)
    new = resolved_threads(cfg.hardware)
    if old is None or old == new or run_id(_with_threads(cfg, old)) != record["run_id"]:
        return
    how = "hardware.threads=null follows the available cores" if cfg.hardware.threads is None else \
        f"hardware.threads={new} was set"
    raise ReplaceRefused(
        f"{out_dir / RESULTS_FILE} holds the complete record of this config on {old} threads (run "
        f"{record['run_id']}), but this run uses {new} threads ({how}; the thread count can change results on CPU, "
        f"so it is run {current_id}); not replacing it: set hardware.threads={old} to reuse that record, or choose "
        f"another output directory for a {new}-thread run")


def mark_refused(out_dir: Path, message: str) -> None:
    """Leave the refusal's line in a sweep job's directory, so the end of the sweep counts it (the job's own
    process may be a worker that cannot fail the sweep)."""
    atomic_write_text(out_dir / REFUSED_FILE, message + "\n")


def clear_refused(out_dir: Path) -> None:
    """A job that runs (or skips) removes an earlier launch's refusal from its directory."""
    (out_dir / REFUSED_FILE).unlink(missing_ok=True)


def keep_earlier_sweep_plan(sweep_dir: Path, overrides: list[str]) -> Path | None:
    """Before a sweep writes `multirun.yaml` into `sweep_dir`, rename the one of an earlier, different sweep to
    `multirun.<its time>.yaml` so both plans stay (the same sweep relaunched to resume keeps one file).
    Returns the new name of the earlier plan, if it was moved."""
    plan = sweep_dir / MULTIRUN_FILE
    if not plan.is_file():
        return None
    try:
        earlier = OmegaConf.select(OmegaConf.load(plan), "hydra.overrides.task")
        earlier = list(earlier) if earlier is not None else None
    except Exception:  # an unreadable plan is kept too
        earlier = None
    if earlier == list(overrides):
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(plan.stat().st_mtime))
    target = sweep_dir / EARLIER_PLAN.format(stamp)
    n = 1
    while target.exists():
        target, n = sweep_dir / EARLIER_PLAN.format(f"{stamp}-{n}"), n + 1
    plan.rename(target)
    return target
