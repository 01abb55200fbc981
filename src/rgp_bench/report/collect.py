"""Find run directories under the given paths and turn their records into tidy rows and problems.

A job dir is any directory holding `results.json`, `error.json` or `.hydra/config.yaml`. A sweep dir
holds Hydra's `multirun.yaml`; its sweep overrides are expanded so that jobs that never started are
listed as missing.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rgp_bench.core.errors import UserError
from rgp_bench.record.io import ERROR_FILE as ERROR
from rgp_bench.record.io import RESULTS_FILE as RESULTS
from rgp_bench.report.columns import CorruptRecord, record_values
from rgp_bench.report.style import remember_declared

log = logging.getLogger(__name__)
HYDRA_DIR = ".hydra"
MULTIRUN = "multirun.yaml"
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})


@dataclass
class Run:
    """One completed run: its tidy row plus the flattened resolved config (used to detect variants)."""

    row: dict[str, Any]
    config: dict[str, Any]
    job_dir: Path
    # A hash of each top-level entry of the record: equal for every key means an identical copy.
    digests: dict[str, str] = field(default_factory=dict)


@dataclass
class Job:
    """A job directory and what it holds."""

    path: Path
    overrides: dict[str, str] | None = None  # from .hydra/overrides.yaml, normalised values
    choices: dict[str, str] = field(default_factory=dict)  # hydra.runtime.choices (group -> option)
    config: dict[str, Any] = field(default_factory=dict)  # nested resolved config, when readable


@dataclass
class Collection:
    runs: list[Run] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
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
            if MULTIRUN in filenames:
                sweeps[d] = None
            if _is_job_dir(d):
                jobs[d] = None
    return sorted(jobs), sorted(sweeps)


# ------------------------------------------------------------------------------------------- job files
def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


def normalize_value(v: object) -> str:
    """Canonical text of an override value so '0.50', '0.5' and 0.5 compare equal."""
    s = str(v).strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1]
    low = s.lower()
    if low in ("true", "false", "null", "none"):
        return {"none": "null"}.get(low, low)
    try:
        f = float(s)
    except ValueError:
        return s.replace(" ", "")
    if math.isfinite(f) and f == int(f) and "e" not in low:
        return str(int(f))
    return repr(f)


def _override_key(raw_key: str) -> str:
    return raw_key.lstrip("+~").strip()


def parse_job_overrides(items: object) -> dict[str, str] | None:
    """Turn a job's override list (['method=rgp', 'seed=1']) into {key: normalised value}."""
    if not isinstance(items, list):
        return None
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if sep:
            out[_override_key(key)] = normalize_value(value)
    return out


def read_job(path: Path, record: dict | None = None) -> Job:
    """Read the Hydra metadata of a job dir (overrides, group choices, resolved config)."""
    job = Job(path=path)
    hydra_dir = path / HYDRA_DIR
    job.overrides = parse_job_overrides(_read_yaml(hydra_dir / "overrides.yaml"))
    hydra_yaml = _read_yaml(hydra_dir / "hydra.yaml")
    if isinstance(hydra_yaml, dict):
        h = hydra_yaml.get("hydra", {}) or {}
        if job.overrides is None:
            job.overrides = parse_job_overrides((h.get("overrides") or {}).get("task"))
        choices = (h.get("runtime") or {}).get("choices") or {}
        if isinstance(choices, dict):
            job.choices = {str(k): normalize_value(v) for k, v in choices.items() if v is not None}
    cfg = record.get("config") if isinstance(record, dict) else None
    if not (isinstance(cfg, dict) and cfg):
        cfg = _read_yaml(hydra_dir / "config.yaml")
    job.config = cfg if isinstance(cfg, dict) else {}
    return job


def _lookup(cfg: dict, dotted: str) -> object:
    node: object = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def job_value(job: Job, key: str) -> str | None:
    """The normalised value this job used for a sweep key, from its overrides or else its config."""
    if job.overrides is not None and key in job.overrides:
        return job.overrides[key]
    group = key.split("@")[0]
    if group in job.choices:
        return job.choices[group]
    node = _lookup(job.config, group.replace("/", "."))
    if isinstance(node, dict):  # a config group: compare its `name` with the chosen option
        node = node.get("name")
    return None if node is None else normalize_value(node)


def identity(job: Job, record: dict | None = None) -> str:
    """Short 'key=value ...' description of a job, for problem listings."""
    if job.overrides:
        return " ".join(f"{k}={v}" for k, v in job.overrides.items())
    src = record if isinstance(record, dict) else {}
    bits = []
    for k in ("method", "dataset", "model", "ratio", "seed"):
        v = src.get(k)
        if v is None:
            v = job_value(job, k)
        if v is not None:
            bits.append(f"{k}={normalize_value(v)}")
    return " ".join(bits)


# ----------------------------------------------------------------------------------------------- rows
def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys; lists become JSON text so rows stay scalar."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list | tuple):
            out[key] = json.dumps(v, sort_keys=True)
        else:
            out[key] = v
    return out


def record_to_row(rec: object, job_dir: Path) -> dict[str, Any]:
    """Turn one results.json record into a tidy row (the columns of `report.columns`, then method_info.*).

    Raises CorruptRecord when it is not a run record.
    """
    row = record_values(rec)
    row["budget"] = row["budget"] or "weights"  # records before schema 2 only had weight budgets
    # Where the record was found (the recorded output_dir is stale once a tree is copied).
    row["output_dir"] = str(job_dir)
    info = rec.get("method_info")  # type: ignore[union-attr]
    if info is not None and not isinstance(info, dict):
        raise CorruptRecord("method_info is not an object")
    row.update({f"method_info.{k}": v for k, v in flatten(info or {}).items()})
    row["_layers"] = prunable_densities(rec)  # type: ignore[arg-type]
    defaults = rec.get("method_defaults")  # type: ignore[union-attr]
    row["_method_defaults"] = flatten(defaults) if isinstance(defaults, dict) else {}
    if isinstance(rec, dict):
        remember_declared(str(rec.get("method")), rec.get("method_facts"))
    return row


def prunable_densities(rec: dict[str, Any]) -> list[tuple[str, float]]:
    """(layer name, kept fraction) of each prunable layer in `cost.layers`, in model order; [] without them."""
    cost = rec.get("cost")
    layers = cost.get("layers") if isinstance(cost, dict) else None
    if not isinstance(layers, list):
        return []
    return [(str(la.get("name")), float(la["density"])) for la in layers
            if isinstance(la, dict) and la.get("prunable") and _is_number(la.get("density"))]


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def record_digests(rec: dict[str, Any]) -> dict[str, str]:
    """A hash of each top-level entry of a record (two records are identical when every hash agrees)."""
    return {
        k: hashlib.sha256(json.dumps(v, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]
        for k, v in rec.items()
    }


# ----------------------------------------------------------------------------------------------- sweeps
def expand_sweep(multirun_yaml: Path) -> tuple[list[dict[str, str | None]], list[str]]:
    """Expected job combinations of a Hydra multirun: the cartesian product of its sweep overrides.

    Returns (combinations, notes). A value of None means "not enumerable" (e.g. glob(), interval()) and
    matches anything. Notes explain what could not be checked.
    """
    doc = _read_yaml(multirun_yaml)
    hydra = doc.get("hydra") if isinstance(doc, dict) else None
    if not isinstance(hydra, dict):
        return [], [f"{multirun_yaml}: unreadable or has no hydra section; missing runs not checked"]
    sweeper = hydra.get("sweeper")
    sweeper = sweeper if isinstance(sweeper, dict) else {}
    target = str(sweeper.get("_target_") or "BasicSweeper")
    if not target.endswith("BasicSweeper"):
        # Optuna/Ax/Nevergrad sample a budget of trials rather than a grid, so no grid can be "missing".
        return [], [f"{multirun_yaml}: sweeper {target} does not run a grid; missing runs not checked"]
    params = sweeper.get("params") or {}
    # Sweeps declared in config (`hydra.sweeper.params`) come first: a command-line override of the same key
    # replaces that axis, and a plain (non-sweep) override removes it, as Hydra does.
    task = [f"{k}={v}" for k, v in params.items()] if isinstance(params, dict) else []
    task += list((hydra.get("overrides") or {}).get("task") or [])

    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    axes: dict[str, list[str | None]] = {}
    notes: list[str] = []
    for item in task:
        try:
            ov = parser.parse_overrides([str(item)])[0]
        except Exception as exc:  # Hydra raises several exception types for bad syntax
            notes.append(f"{multirun_yaml}: cannot parse override {item!r} ({type(exc).__name__}); ignored")
            continue
        key = _override_key(ov.key_or_group) + (f"@{ov.package}" if ov.package else "")
        if key.startswith("hydra"):
            continue
        if not ov.is_sweep_override():
            axes.pop(key, None)
            continue
        try:
            axes[key] = [normalize_value(v) for v in ov.sweep_string_iterator()]
        except Exception:
            axes[key] = [None]
            notes.append(f"{multirun_yaml}: sweep {item!r} cannot be enumerated; that axis is not checked")
    keys = list(axes)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*axes.values())]
    return combos, notes


def _matches(job: Job, combo: dict[str, str | None]) -> bool:
    return all(v is None or job_value(job, k) == v for k, v in combo.items())


# ------------------------------------------------------------------------------------------------ main
def collect(paths: Sequence[str | Path]) -> Collection:
    """Read every job and sweep under `paths`. Raises UserError for a missing path or when nothing is found."""
    job_dirs, sweep_dirs = discover(paths)
    col = Collection()
    jobs: list[Job] = []
    for d in job_dirs:
        record: Any = None
        if (d / RESULTS).is_file():
            try:
                record = json.loads((d / RESULTS).read_text(encoding="utf-8"))
                job = read_job(d, record)
                if isinstance(record, dict) and record.get("status") == "failed":
                    raise CorruptRecord(f"status is 'failed': {str(record.get('error', '')).strip()}")
                row = record_to_row(record, d)
                col.runs.append(Run(row=row, config=flatten(job.config), job_dir=d, digests=record_digests(record)))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, CorruptRecord) as exc:
                job = read_job(d)
                col.problems.append(
                    _problem(
                        d,
                        "failed",
                        f"corrupt {RESULTS}: {_first_line(exc)}",
                        identity(job, record if isinstance(record, dict) else None),
                    )
                )
        elif (d / ERROR).is_file():
            try:
                record = json.loads((d / ERROR).read_text(encoding="utf-8"))
                err = record.get("error", "no error message") if isinstance(record, dict) else "not an object"
                detail = _first_line(err) or "no error message"
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                record, detail = None, f"unreadable {ERROR}: {_first_line(exc)}"
            job = read_job(d, record if isinstance(record, dict) else None)
            col.problems.append(_problem(d, "failed", detail, identity(job, record)))
        else:
            job = read_job(d)
            col.problems.append(
                _problem(d, "incomplete", f"neither {RESULTS} nor {ERROR} (still running, or killed)", identity(job))
            )
        jobs.append(job)

    for s in sweep_dirs:
        combos, notes = expand_sweep(s / MULTIRUN)
        col.notes += notes
        inside = [j for j in jobs if j.path == s or s in j.path.parents]
        for combo in combos:
            if not any(_matches(j, combo) for j in inside):
                what = " ".join(f"{k}={v}" for k, v in combo.items())
                col.problems.append(_problem(s, "missing", f"no job dir for {what}", what))
        if not combos and not notes:
            col.notes.append(f"{s}: multirun.yaml lists no sweep overrides")

    if not job_dirs and not any(p["status"] == "missing" for p in col.problems):
        raise UserError(f"no runs found under {', '.join(str(p) for p in paths)}")
    return col


def _first_line(x: object) -> str:
    lines = [ln.strip() for ln in str(x).strip().splitlines() if ln.strip()]
    # For a traceback the last line names the exception; otherwise the first line is the message.
    if lines and lines[0].startswith("Traceback"):
        return lines[-1]
    return lines[0] if lines else ""


def _problem(path: Path, status: str, detail: str, run: str = "") -> dict[str, Any]:
    return {"path": str(path), "status": status, "detail": detail, "run": run}
