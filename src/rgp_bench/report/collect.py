"""Find run directories under the given paths and read their records (through rgp_bench.record.read) into runs and
problems.

A job dir is any directory holding `results.json`, `error.json` or `.hydra/config.yaml`. A sweep dir
holds Hydra's `multirun.yaml`; its sweep overrides are expanded so that jobs that never started are
listed as missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rgp_bench.core.errors import UserError
from rgp_bench.record.read import ERROR_FILE as ERROR
from rgp_bench.record.read import MULTIRUN_FILE, earlier_plans, read_created, read_error, read_name, read_results
from rgp_bench.record.read import RESULTS_FILE as RESULTS
from rgp_bench.record.schema import SCHEMA_VERSION
from rgp_bench.record.typed import RecordError
from rgp_bench.report.jobs import HYDRA_DIR, Job, describe, read_job
from rgp_bench.report.problems import Problem, first_line
from rgp_bench.report.runs import Run, make_run
from rgp_bench.report.sweeps import expand_sweep, matches

log = logging.getLogger(__name__)
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})


@dataclass
class Collection:
    """What the report's paths hold: the complete runs, the problems (failed, incomplete, missing) and notes."""

    runs: list[Run] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- discovery
def _is_job_dir(d: Path) -> bool:
    return (d / RESULTS).is_file() or (d / ERROR).is_file() or (d / HYDRA_DIR / "config.yaml").is_file()


def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """Return (job dirs, sweep dirs) found recursively under `paths`, each sorted and without duplicates.

    A path that does not exist is skipped with a warning (UserError when none exists); a file must be a
    run's results.json or error.json.
    """
    jobs: dict[Path, None] = {}
    sweeps: dict[Path, None] = {}
    missing = [Path(p) for p in paths if not Path(p).exists()]
    if len(missing) == len(paths):
        raise UserError(f"path not found: {missing[0]}" if len(missing) == 1 else
                        f"none of the paths exists: {', '.join(str(m) for m in missing)}")
    for p in missing:
        log.warning("path not found, skipped: %s", p)
    for p in (Path(p) for p in paths if Path(p).exists()):
        if p.is_file():
            if p.name not in (RESULTS, ERROR):
                raise UserError(f"{p} is not a run record ({RESULTS} or {ERROR}); give a run or sweep folder")
            p = p.parent
        for dirpath, dirnames, filenames in os.walk(p):
            d = Path(dirpath).resolve()
            dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and n not in _SKIP_DIRS)
            if MULTIRUN_FILE in filenames:
                sweeps[d] = None
            if _is_job_dir(d):
                jobs[d] = None
    return sorted(jobs), sorted(sweeps)


# ------------------------------------------------------------------------------------------------ main
def collect(paths: Sequence[str | Path]) -> Collection:
    """Read every job and sweep under `paths`. Raises UserError for a missing path or when nothing is found."""
    job_dirs, sweep_dirs = discover(paths)
    col = Collection()
    upgraded: list[int] = []
    jobs = [_read_job_dir(d, col, upgraded) for d in job_dirs]
    _note_upgraded(upgraded, col)
    _note_set_aside(job_dirs, col)
    for s in sweep_dirs:
        combos, notes = _expand_plans(s)
        col.notes += notes
        inside = [j for j in jobs if j.path == s or s in j.path.parents]
        for combo in combos:
            if not any(matches(j, combo) for j in inside):
                what = " ".join(f"{k}={v}" for k, v in combo.items())
                col.problems.append(Problem(str(s), "missing", f"no job dir for {what}", what))
        if not combos and not notes:
            col.notes.append(f"{s}: multirun.yaml lists no sweep overrides")

    if not job_dirs and not any(p.status == "missing" for p in col.problems):
        raise UserError(f"no runs found under {', '.join(str(p) for p in paths)}")
    return col


def _expand_plans(sweep_dir: Path) -> tuple[list, list[str]]:
    """The expected jobs of every sweep run into `sweep_dir`: its `multirun.yaml` and the plans of earlier sweeps
    into the same folder, kept as `multirun.<time>.yaml` (rgp_bench.run.relaunch)."""
    combos: list = []
    notes: list[str] = []
    for plan in [sweep_dir / MULTIRUN_FILE, *earlier_plans(sweep_dir)]:
        found, said = expand_sweep(plan)
        combos += [c for c in found if c not in combos]
        notes += said
    return combos, notes


def _newest_attempt(d: Path) -> str | None:
    """Which record of the job dir tells its status: results.json or error.json, the newer by the time each states
    (`created`; else the file's modification time) when both are there (a run dir of an older version of the code
    could keep a record beside a later attempt's error); None when there is neither."""
    present = [name for name in (RESULTS, ERROR) if (d / name).is_file()]
    if len(present) < 2:
        return present[0] if present else None
    return max(present, key=lambda name: _written_at(d / name))


def _written_at(path: Path) -> tuple[str, float]:
    created = read_created(path)
    return (created or "", path.stat().st_mtime)


def _note_set_aside(job_dirs: list[Path], col: Collection) -> None:
    """A note naming the job dirs that keep earlier failed attempts (error.<time>.json, set aside by a later one)."""
    kept = [d for d in job_dirs if any(d.glob(f"{Path(ERROR).stem}.*{Path(ERROR).suffix}"))]
    if kept:
        col.notes.append(f"{len(kept)} run dir(s) keep earlier failed attempts set aside by a later one "
                         f"(error.<time>.json): {', '.join(str(d) for d in kept)}")


def _note_upgraded(versions: list[int], col: Collection) -> None:
    """A note on the records read through the schema upgrades (record/upgrade.py) rather than as written."""
    older = sorted(set(versions))
    if versions:
        col.notes.append(f"{len(versions)} record(s) written in an older schema ({', '.join(map(str, older))}) were "
                         f"read through the schema upgrades to schema {SCHEMA_VERSION}")


def _read_job_dir(d: Path, col: Collection, upgraded: list[int] | None = None) -> Job:
    """Add the job dir's run (or its problem) to `col`, from its newest attempt; returns its Hydra metadata. The
    schema version of a record read through the upgrades is added to `upgraded`."""
    newest = _newest_attempt(d)
    if newest == RESULTS:
        try:
            found = read_results(d / RESULTS)
        except RecordError as exc:
            job = read_job(d)
            col.problems.append(Problem(str(d), "failed", f"corrupt {exc}", describe(job, read_name(d / RESULTS))))
            return job
        job = read_job(d, found.record.config)
        col.runs.append(make_run(found.record, job.config, d))
        if found.version != SCHEMA_VERSION and upgraded is not None:
            upgraded.append(found.version)
        return job
    if newest == ERROR:
        try:
            failure = read_error(d / ERROR)
        except RecordError as exc:
            job = read_job(d)
            col.problems.append(Problem(str(d), "failed", str(exc), describe(job)))
            return job
        job = read_job(d)
        detail = first_line(failure.error) or "no error message"
        col.problems.append(Problem(str(d), "failed", detail, describe(job, failure.name)))
        return job
    job = read_job(d)
    col.problems.append(Problem(str(d), "incomplete", f"neither {RESULTS} nor {ERROR} (still running, or killed)",
                                describe(job)))
    return job
