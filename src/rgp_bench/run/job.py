"""The Hydra task around one run: skip it when already complete, else run it (resuming) and store it.

A user mistake becomes one line and a non-zero exit (single run) or a failed job with `error.json`
(multirun), so a sweep goes on and its report lists the failure.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from rgp_bench.core.console import emit, job_console
from rgp_bench.core.errors import UserError
from rgp_bench.export.state import MODEL_FILE
from rgp_bench.methods import METHODS
from rgp_bench.record.io import write_error, write_results
from rgp_bench.record.provenance import git_state
from rgp_bench.record.summary import format_summary
from rgp_bench.run.pipeline import identity_fields, run
from rgp_bench.store.runs import RunStore

log = logging.getLogger(__name__)
# Files a run writes besides its record, kept in the run store and copied into the run dir of a skipped rerun.
ARTIFACTS = (MODEL_FILE,)


def run_job(cfg: DictConfig) -> float | None:
    """Skip a run that is already complete, else run it and store its record.

    Returns the best validation accuracy, which sweepers (Optuna, Ax, ...) optimise: it must be validation
    accuracy, never test accuracy.
    """
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    with job_console(job_label(cfg) if multirun else None):
        return _run_or_skip(cfg, out_dir, multirun)


def job_label(cfg: DictConfig) -> str:
    """The prefix of a sweep job's console lines, e.g. "[rgp r0.9 s1]" (a dense run serves every ratio)."""
    method = METHODS.get(cfg.method.name)
    ratio = "" if method is not None and not method.prunes else f" r{cfg.ratio}"
    return f"[{cfg.method.name}{ratio} s{cfg.seed}]"


def _run_or_skip(cfg: DictConfig, out_dir: Path, multirun: bool) -> float | None:
    try:
        identity = identity_fields(cfg)
        store = RunStore(Path(cfg.cache_dir) / "runs")
        with store.lock(identity["run_id"]):
            done = store.completed(identity["run_id"]) if cfg.skip_complete else None
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
    except Exception as exc:
        failure = record_failure(cfg, out_dir, exc)
        if multirun:
            # Keep the sweep going: the failure is in error.json, the traceback in the job's log, and the
            # end-of-sweep report lists it (and makes the sweep exit non-zero).
            log.error("run failed: %s", failure, exc_info=not isinstance(exc, UserError))
            return None
        if isinstance(exc, UserError):
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(exc.exit_code)
        raise
    return record.accuracy.best_val.val_top1


def record_failure(cfg: DictConfig, out_dir: Path, exc: Exception) -> str:
    """Write error.json for a failed run; returns its one-line description."""
    message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}".splitlines()[0]
    try:
        identity = identity_fields(cfg)
    except Exception:  # a config too broken to hash still gets its failure recorded
        identity = {"method": cfg.method.name, "dataset": cfg.dataset.name, "model": cfg.model.name,
                    "ratio": cfg.ratio, "seed": cfg.seed}
    write_error(out_dir, identity, message)
    return message


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
