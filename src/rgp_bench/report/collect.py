"""Find run directories under the given paths and turn their records into tidy rows and problems.

A job dir is any directory holding `results.json`, `error.json` or `.hydra/config.yaml`. A sweep dir
holds Hydra's `multirun.yaml`; its sweep overrides are expanded so that jobs that never started are
listed as missing.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rgp_bench.errors import UserError

RESULTS = "results.json"
ERROR = "error.json"
HYDRA_DIR = ".hydra"
MULTIRUN = "multirun.yaml"
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})

# Columns every row has, in CSV order; method_info.* and `variant` follow.
ROW_COLUMNS = (
    "run_id",
    "dataset",
    "model",
    "regime",
    "method",
    "ratio",
    "seed",
    "top1_final",
    "top5_final",
    "top1_best_val",
    "top5_best_val",
    "best_val_epoch",
    "val_top1_best_val",
    "top1_dense",
    "params_reduction",
    "macs_reduction",
    "prunable_params_reduction",
    "prunable_macs_reduction",
    "sparsity_requested",
    "sparsity_achieved",
    "sparsity_overall",
    "params",
    "params_nonzero",
    "macs",
    "macs_effective",
    "dense_params",
    "dense_macs",
    "epochs_pretrain",
    "epochs_train",
    "epochs_total",
    "seconds_total",
    "created",
    "git_commit",
    "output_dir",
)


class CorruptRecord(ValueError):
    """A results.json that cannot be read as a run record."""


@dataclass
class Run:
    """One completed run: its tidy row plus the flattened resolved config (used to detect variants)."""

    row: dict[str, Any]
    config: dict[str, Any]
    job_dir: Path


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

    Raises UserError for a path that does not exist.
    """
    jobs: dict[Path, None] = {}
    sweeps: dict[Path, None] = {}
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise UserError(f"path not found: {p}")
        if p.is_file():  # a results.json / error.json given directly
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
def _num(x: object, what: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise CorruptRecord(f"{what} is not a number: {x!r}")
    return float(x)


def _int(x: object, what: str) -> int | None:
    v = _num(x, what)
    return None if v is None else int(v)


def _d(x: object, what: str) -> dict:
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise CorruptRecord(f"{what} is not an object")
    return x


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
    """Turn one results.json record into a tidy row; raise CorruptRecord when it is not a run record."""
    if not isinstance(rec, dict):
        raise CorruptRecord("not a JSON object")
    for k in ("method", "dataset", "model", "accuracy"):
        if rec.get(k) is None:
            raise CorruptRecord(f"missing key {k!r}")
    acc = _d(rec["accuracy"], "accuracy")
    final, best, dense = (_d(acc.get(k), f"accuracy.{k}") for k in ("final", "best_val", "dense"))
    sparsity = _d(rec.get("sparsity"), "sparsity")
    cost = _d(rec.get("cost"), "cost")
    pruned, dense_cost = _d(cost.get("pruned"), "cost.pruned"), _d(cost.get("dense"), "cost.dense")
    red = _d(cost.get("reduction"), "cost.reduction")
    epochs = _d(rec.get("epochs"), "epochs")
    timings = _d(rec.get("timings"), "timings")
    git = _d(_d(rec.get("environment"), "environment").get("git"), "environment.git")
    row: dict[str, Any] = {
        "run_id": rec.get("run_id"),
        "dataset": str(rec["dataset"]),
        "model": str(rec["model"]),
        "regime": rec.get("regime"),
        "method": str(rec["method"]),
        "ratio": _num(rec.get("ratio"), "ratio"),
        "seed": _int(rec.get("seed"), "seed"),
        "top1_final": _num(final.get("top1"), "accuracy.final.top1"),
        "top5_final": _num(final.get("top5"), "accuracy.final.top5"),
        "top1_best_val": _num(best.get("top1"), "accuracy.best_val.top1"),
        "top5_best_val": _num(best.get("top5"), "accuracy.best_val.top5"),
        "best_val_epoch": _int(best.get("epoch"), "accuracy.best_val.epoch"),
        "val_top1_best_val": _num(best.get("val_top1"), "accuracy.best_val.val_top1"),
        "top1_dense": _num(dense.get("top1"), "accuracy.dense.top1"),
        "params_reduction": _num(red.get("params"), "cost.reduction.params"),
        "macs_reduction": _num(red.get("macs"), "cost.reduction.macs"),
        "prunable_params_reduction": _num(red.get("prunable_params"), "cost.reduction.prunable_params"),
        "prunable_macs_reduction": _num(red.get("prunable_macs"), "cost.reduction.prunable_macs"),
        "sparsity_requested": _num(sparsity.get("requested"), "sparsity.requested"),
        "sparsity_achieved": _num(sparsity.get("achieved"), "sparsity.achieved"),
        "sparsity_overall": _num(sparsity.get("overall"), "sparsity.overall"),
        "params": _int(pruned.get("params"), "cost.pruned.params"),
        "params_nonzero": _int(pruned.get("params_nonzero"), "cost.pruned.params_nonzero"),
        "macs": _int(pruned.get("macs"), "cost.pruned.macs"),
        "macs_effective": _int(pruned.get("macs_effective"), "cost.pruned.macs_effective"),
        "dense_params": _int(dense_cost.get("params"), "cost.dense.params"),
        "dense_macs": _int(dense_cost.get("macs"), "cost.dense.macs"),
        "epochs_pretrain": _int(epochs.get("pretrain"), "epochs.pretrain"),
        "epochs_train": _int(epochs.get("train"), "epochs.train"),
        "epochs_total": _int(epochs.get("total"), "epochs.total"),
        "seconds_total": _num(timings.get("total"), "timings.total"),
        "created": rec.get("created"),
        "git_commit": git.get("commit"),
        # Where the record was found (the recorded output_dir is stale once a tree is copied).
        "output_dir": str(job_dir),
    }
    info = _d(rec.get("method_info"), "method_info")
    row.update({f"method_info.{k}": v for k, v in flatten(info).items()})
    return row


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
                col.runs.append(Run(row=row, config=flatten(job.config), job_dir=d))
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
