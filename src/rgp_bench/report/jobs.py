"""A job directory's Hydra metadata (overrides, group choices, resolved config) and the values a sweep key took."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rgp_bench.record.failed import RunName

HYDRA_DIR = ".hydra"


@dataclass
class Job:
    """A job directory and what it holds."""

    path: Path
    overrides: dict[str, str] | None = None  # from .hydra/overrides.yaml, normalised values
    choices: dict[str, str] = field(default_factory=dict)  # hydra.runtime.choices (group -> option)
    config: dict[str, Any] = field(default_factory=dict)  # nested resolved config, when readable


def read_yaml(path: Path) -> Any:
    """The parsed YAML file, or None when it is missing or unreadable."""
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


def override_key(raw_key: str) -> str:
    """An override's key without Hydra's add/delete prefixes (`+`, `~`)."""
    return raw_key.lstrip("+~").strip()


def parse_job_overrides(items: object) -> dict[str, str] | None:
    """Turn a job's override list (['method=rgp', 'seed=1']) into {key: normalised value}."""
    if not isinstance(items, list):
        return None
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if sep:
            out[override_key(key)] = normalize_value(value)
    return out


def read_job(path: Path, config: dict[str, Any] | None = None) -> Job:
    """Read the Hydra metadata of a job dir; its resolved config is `config` (a record's) when given and not empty,
    else .hydra/config.yaml."""
    job = Job(path=path)
    hydra_dir = path / HYDRA_DIR
    job.overrides = parse_job_overrides(read_yaml(hydra_dir / "overrides.yaml"))
    hydra_yaml = read_yaml(hydra_dir / "hydra.yaml")
    if isinstance(hydra_yaml, dict):
        h = hydra_yaml.get("hydra", {}) or {}
        if job.overrides is None:
            job.overrides = parse_job_overrides((h.get("overrides") or {}).get("task"))
        choices = (h.get("runtime") or {}).get("choices") or {}
        if isinstance(choices, dict):
            job.choices = {str(k): normalize_value(v) for k, v in choices.items() if v is not None}
    cfg: Any = config
    if not cfg:
        cfg = read_yaml(hydra_dir / "config.yaml")
    job.config = cfg if isinstance(cfg, dict) else {}
    return job


def _lookup(cfg: dict[str, Any], dotted: str) -> object:
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


def describe(job: Job, name: RunName | None = None) -> str:
    """Short 'key=value ...' description of a job, for problem listings: its overrides, else the names its file
    gives (`name`), else its config's."""
    if job.overrides:
        return " ".join(f"{k}={v}" for k, v in job.overrides.items())
    given = name or RunName()
    bits = []
    for k in ("method", "dataset", "model", "ratio", "seed"):
        v = getattr(given, k)
        if v is None:
            v = job_value(job, k)
        if v is not None:
            bits.append(f"{k}={normalize_value(v)}")
    return " ".join(bits)
