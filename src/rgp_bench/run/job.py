"""The Hydra task around one run: skip it when already complete, else run it (resuming) and store it.

A user mistake becomes one line and a non-zero exit (single run) or a failed job with `error.json`
(multirun), so a sweep goes on and its report lists the failure.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from rgp_bench.core.console import emit, job_console
from rgp_bench.core.errors import UserError
from rgp_bench.core.fileio import remove_stale_temps
from rgp_bench.export.state import MODEL_FILE
from rgp_bench.methods import METHODS
from rgp_bench.record.io import set_aside_attempt, write_results
from rgp_bench.record.provenance import git_state
from rgp_bench.record.summary import format_summary
from rgp_bench.run.ending import (
    Stopped,
    describe,
    exit_status,
    interrupted,
    resume_point,
    sigterm_raises,
    write_error_where_room,
)
from rgp_bench.run.pipeline import identity_fields, run
from rgp_bench.run.relaunch import ReplaceRefused, clear_refused, mark_refused, refuse_other_threads
from rgp_bench.store.dense import remove_stale_dense_temps
from rgp_bench.store.runs import RunStore

log = logging.getLogger(__name__)
# Files a run writes besides its record, kept in the run store and copied into the run dir of a skipped rerun.
ARTIFACTS = (MODEL_FILE,)


def run_job(cfg: DictConfig) -> float | None:
    """Skip a run that is already complete, else run it and store its record; a run that does not complete ends
    through `end_failed` (error.json, one line, its exit status), Ctrl-C and SIGTERM included.

    Returns the best validation accuracy, which sweepers (Optuna, Ax, ...) optimise: it must be validation
    accuracy, never test accuracy.
    """
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    started = time.time()
    try:
        with sigterm_raises(), job_console(job_label(cfg) if multirun else None):
            return _run_or_skip(cfg, out_dir, multirun, started)
    except ReplaceRefused as exc:
        _refused(exc, out_dir, multirun)
        return None
    except (Exception, KeyboardInterrupt, Stopped) as exc:
        end_failed(cfg, out_dir, exc, multirun)
        return None


def job_label(cfg: DictConfig) -> str:
    """The prefix of a sweep job's console lines, e.g. "[rgp r0.9 s1]" (a dense run serves every ratio)."""
    method = METHODS.get(cfg.method.name)
    ratio = "" if method is not None and not method.prunes else f" r{cfg.ratio}"
    return f"[{cfg.method.name}{ratio} s{cfg.seed}]"


def _run_or_skip(cfg: DictConfig, out_dir: Path, multirun: bool, started: float) -> float | None:
    """Copy the stored record of a complete run into `out_dir`, else run it (resuming) and store its record."""
    identity = identity_fields(cfg)
    refuse_other_threads(cfg, out_dir, identity["run_id"])
    clear_refused(out_dir)
    store = RunStore(Path(cfg.cache_dir) / "runs")
    remove_leftovers(cfg, store, out_dir, started)
    with store.lock(identity["run_id"]):
        done = store.completed(identity) if cfg.skip_complete else None
        set_aside_attempt(out_dir, keep=done[1] if done is not None else None)
        if done is not None:
            record, stored = done
            store.copy_artifacts(identity["run_id"], ARTIFACTS, out_dir)
            path = write_results(out_dir, stored)
            emit(f"skip: run {identity['run_id']} ({_describe(identity)}) is already complete; record copied "
                 f"from {record.output_dir}{_other_commit(record)}. Its stored summary:\n"
                 + format_summary(record, path))
            return record.accuracy.best_val.val_top1
        sweep_dir = HydraConfig.get().sweep.dir if multirun else None
        record = run(cfg, out_dir, store.checkpoint(identity["run_id"]), store.method_state(identity["run_id"]),
                     sweep_dir)
        store.save(identity["run_id"], record, [out_dir / name for name in ARTIFACTS if (out_dir / name).is_file()])
    return record.accuracy.best_val.val_top1


def remove_leftovers(cfg: DictConfig, store: RunStore, out_dir: Path, started: float) -> None:
    """Remove the temp files killed jobs left (in the run store, the dense cache and this run's directory): those
    written before this job started, where no running job holds the lock."""
    removed = [*store.remove_stale_temps(started), *remove_stale_dense_temps(Path(cfg.cache_dir) / "dense", started)]
    if out_dir.is_dir():
        removed += remove_stale_temps(out_dir, started)
    if removed:
        log.info("removed %d temp file(s) left by a killed job: %s", len(removed), ", ".join(map(str, removed)))


def end_failed(cfg: DictConfig, out_dir: Path, exc: BaseException, multirun: bool) -> None:
    """End a run that did not complete: error.json where there is room, and one line (stderr in a single run, the
    log in a sweep). A single run then exits with `exit_status(exc)`; a sweep goes on (its report lists the
    failure), except after Ctrl-C or SIGTERM in a sweep whose jobs run in this process."""
    try:
        failure, where = _record(cfg, out_dir, exc)
        note = "" if where.parent == out_dir else f" (error.json written to {where}: no room in {out_dir})"
    except OSError as unwritable:  # not even the temp directory has room: the line still says what happened
        failure, note = describe(exc, "resume"), f" (error.json could not be written: {unwritable})"
    unexpected = not isinstance(exc, UserError | OSError | MemoryError) and not interrupted(exc)
    if multirun:
        # The failure is in error.json, the traceback (of an unexpected error) in the job's log, and the
        # end-of-sweep report lists it (and makes the sweep exit non-zero).
        log.error("run failed: %s%s", failure, note, exc_info=unexpected)
        if interrupted(exc) and _jobs_run_here():
            print(f"{failure}{note}", file=sys.stderr)
            sys.exit(exit_status(exc))
        return None
    if unexpected:  # a bug: its traceback goes to the job's log (and stdout), the line to stderr
        log.error("run failed: %s", failure, exc_info=exc)
        job_log = out_dir / f"{HydraConfig.get().job.name}.log"
        where_traceback = f" (traceback in {job_log})" if job_log.is_file() else ""
        print(f"error: {failure}{note}{where_traceback}", file=sys.stderr)
    else:
        print(f"{failure}{note}" if interrupted(exc) else f"error: {failure}{note}", file=sys.stderr)
    sys.exit(exit_status(exc))


def record_failure(cfg: DictConfig, out_dir: Path, exc: BaseException) -> str:
    """Write error.json for a failed run (where there is room); returns its one-line description."""
    return _record(cfg, out_dir, exc)[0]


def _record(cfg: DictConfig, out_dir: Path, exc: BaseException) -> tuple[str, Path]:
    """Write error.json for a run that ended with `exc`: in `out_dir`, else in the run's store slot, else under the
    temp directory. Returns the one-line description and where it was written."""
    places = [out_dir]
    try:
        identity = identity_fields(cfg)
        store = RunStore(Path(cfg.cache_dir) / "runs")
        places.append(store.checkpoint(identity["run_id"]).parent)
        resume = resume_point(cfg, store.checkpoint(identity["run_id"]))
    except Exception:  # a config too broken to hash still gets its failure recorded
        identity = {"method": cfg.method.name, "dataset": cfg.dataset.name, "model": cfg.model.name,
                    "ratio": cfg.ratio, "seed": cfg.seed}
        resume = "start it again"
    message = describe(exc, resume)
    return message, write_error_where_room(places, identity, message)


def _jobs_run_here() -> bool:
    """Whether the sweep's launcher runs its jobs in this process (Hydra's basic launcher), so that an interrupt
    of a job is one of the whole sweep."""
    return "BasicLauncher" in str(HydraConfig.get().launcher.get("_target_", ""))


def _refused(exc: ReplaceRefused, out_dir: Path, multirun: bool) -> None:
    """A relaunch that would replace another run's complete record: one line, and the record stays as it was (no
    error.json beside it). A sweep goes on with its other jobs, and fails at its end (the line is left in the job's
    directory for it to count)."""
    print(f"error: {exc}", file=sys.stderr)
    if not multirun:
        sys.exit(exc.exit_code)
    try:
        mark_refused(out_dir, str(exc))
    except OSError as unwritable:
        log.error("the refusal could not be left in %s (%s); the sweep will not count it", out_dir, unwritable)


def _other_commit(record: Any) -> str:
    """A note when the stored record was written by another commit of the code than the one running now."""
    stored = (record.environment.get("git") or {}).get("commit")
    current = git_state()["commit"]
    if stored and current and stored != current:
        return f" (written by commit {stored[:10]}; this checkout is {current[:10]})"
    return ""


def _describe(identity: dict[str, Any]) -> str:
    return (f"{identity['method']} {identity['model']}/{identity['dataset']} ratio={identity['ratio']} "
            f"seed={identity['seed']}")
