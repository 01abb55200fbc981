"""Published reference results (`baselines/*.yaml`): schema, validation and loading.

Each YAML file holds one source (paper table, figure or README) with its reporting convention and a list
of entries. The schema is described in `baselines/README.md`; `validate` enforces it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from rgp_bench.core.errors import UserError

SCHEMA_VERSION = 1
ENV_VAR = "RGP_BENCH_BASELINES"
# Recorded benchmark runs (results.json trees) may live here; they are not published numbers.
IGNORED_DIRS = frozenset({"runs"})

SOURCE_KINDS = ("table", "figure", "text")
CONVENTION_VALUES: dict[str, tuple[str, ...]] = {
    "reduction": ("nominal", "exact", "estimated", "unknown"),
    "cost_unit": ("MACs", "FLOPs", "unknown"),
    "accuracy_epoch": ("final", "best_epoch", "best_val", "unknown"),
    "ratio_basis": ("weights", "parameters", "flops", "none"),
    "published_as": ("remaining", "removed"),
}
ACCURACY_METRICS = ("top1", "top5")

_SOURCE_REQUIRED = ("id", "short", "citation", "kind", "where")
_SOURCE_OPTIONAL = ("arxiv", "doi", "url", "repo", "commit", "notes")
_CONVENTION_REQUIRED = (*CONVENTION_VALUES, "accuracy", "read_off_figure")
_CONVENTION_OPTIONAL = ("uncertainty",)
_ENTRY_REQUIRED = ("dataset", "model", "method", "label", "ratio", "params_reduction", "macs_reduction", "top1")
_FRACTIONS = ("ratio", "params_reduction", "macs_reduction", "params_reduction_exact", "macs_reduction_exact")
_ENTRY_OPTIONAL = (
    "aliases",
    "top5",
    "delta_top1",
    "nodes",
    "degree",
    "graph",
    "aspl",
    "approximate",
    "params_reduction_exact",
    "macs_reduction_exact",
    "note",
)


@dataclass(frozen=True)
class PublishedEntry:
    """One published result. Fractions are in [0, 1]; accuracies are percentages."""

    dataset: str
    model: str
    method: str
    label: str
    ratio: float | None
    params_reduction: float | None
    macs_reduction: float | None
    top1: float
    top5: float | None = None
    aliases: tuple[str, ...] = ()
    aspl: float | None = None
    nodes: int | None = None
    degree: int | None = None
    approximate: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, dataset: str, model: str) -> bool:
        """True when this entry is about `dataset`/`model` (names compared loosely, aliases included)."""
        models = {normalize_name(m) for m in (self.model, *self.aliases)}
        return normalize_name(dataset) == normalize_name(self.dataset) and normalize_name(model) in models


@dataclass(frozen=True)
class PublishedSource:
    """One YAML file: where the numbers come from, how they were measured, and the entries."""

    path: Path
    source: dict[str, Any]
    convention: dict[str, Any]
    entries: tuple[PublishedEntry, ...]

    @property
    def short(self) -> str:
        return str(self.source["short"])

    @property
    def legend(self) -> str:
        """Legend text that carries the conventions a reader needs to compare the points fairly."""
        bits = [f"{self.convention['reduction']} reduction"]
        if self.convention.get("read_off_figure"):
            bits.append(f"read off figure ±{self.convention.get('uncertainty') or '?'}")
        return f"{self.short} ({', '.join(bits)})"


def normalize_name(name: str) -> str:
    """Loose name for matching: 'CIFAR-10' == 'cifar10', 'VGG16_BN' == 'vgg16bn'."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _is_number(x: object) -> TypeGuard[int | float]:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _check_keys(where: str, d: dict, required: Iterable[str], optional: Iterable[str]) -> list[str]:
    errors = [f"{where}: missing key {k!r}" for k in required if k not in d]
    allowed = set(required) | set(optional)
    errors += [f"{where}: unknown key {k!r}" for k in d if k not in allowed]
    return errors


def validate(doc: object) -> list[str]:
    """Check one parsed baselines file against the schema; return human-readable errors (empty = valid)."""
    if not isinstance(doc, dict):
        return ["file is not a mapping"]
    errors = _check_keys("file", doc, ("schema_version", "source", "convention", "entries"), ())
    if doc.get("schema_version") != SCHEMA_VERSION:
        errors.append(f"schema_version must be {SCHEMA_VERSION}")

    source = doc.get("source")
    if not isinstance(source, dict):
        errors.append("source must be a mapping")
    else:
        errors += _check_keys("source", source, _SOURCE_REQUIRED, _SOURCE_OPTIONAL)
        for k in (*_SOURCE_REQUIRED, *_SOURCE_OPTIONAL):
            if k in source and not (isinstance(source[k], str) and source[k].strip()):
                errors.append(f"source.{k} must be a non-empty string")
        if source.get("kind") not in SOURCE_KINDS:
            errors.append(f"source.kind must be one of {SOURCE_KINDS}")
        if not any(source.get(k) for k in ("arxiv", "doi", "url")):
            errors.append("source needs at least one of arxiv, doi, url")
        if source.get("repo") and not source.get("commit"):
            errors.append("source.commit is required when source.repo is given")

    conv = doc.get("convention")
    if not isinstance(conv, dict):
        errors.append("convention must be a mapping")
    else:
        errors += _check_keys("convention", conv, _CONVENTION_REQUIRED, _CONVENTION_OPTIONAL)
        for k, allowed in CONVENTION_VALUES.items():
            if k in conv and conv[k] not in allowed:
                errors.append(f"convention.{k}={conv[k]!r} not in {allowed}")
        acc = conv.get("accuracy")
        if not (isinstance(acc, list) and acc and all(a in ACCURACY_METRICS for a in acc)):
            errors.append(f"convention.accuracy must be a non-empty list of {ACCURACY_METRICS}")
        if "read_off_figure" in conv and not isinstance(conv["read_off_figure"], bool):
            errors.append("convention.read_off_figure must be true or false")
        unc = conv.get("uncertainty")
        if unc is not None and not (_is_number(unc) and 0 <= unc <= 100):
            errors.append("convention.uncertainty must be null or a number of accuracy points")

    entries = doc.get("entries")
    if not (isinstance(entries, list) and entries):
        errors.append("entries must be a non-empty list")
        return errors
    for i, e in enumerate(entries):
        errors += _validate_entry(f"entries[{i}]", e)
    return errors


def _validate_entry(where: str, e: object) -> list[str]:
    if not isinstance(e, dict):
        return [f"{where}: not a mapping"]
    errors = _check_keys(where, e, _ENTRY_REQUIRED, _ENTRY_OPTIONAL)
    for k in ("dataset", "model", "method", "label"):
        if k in e and not (isinstance(e[k], str) and e[k].strip()):
            errors.append(f"{where}.{k} must be a non-empty string")
    for k in _FRACTIONS:
        v = e.get(k)
        if v is not None and not (_is_number(v) and 0.0 <= v <= 1.0):
            errors.append(f"{where}.{k}={v!r} must be null or a fraction in [0, 1]")
    for k in ("top1", "top5"):
        v = e.get(k)
        if v is None and k == "top5":
            continue
        if not (_is_number(v) and 0.0 <= v <= 100.0):
            errors.append(f"{where}.{k}={v!r} must be an accuracy in [0, 100]")
    if e.get("delta_top1") is not None and not _is_number(e["delta_top1"]):
        errors.append(f"{where}.delta_top1 must be a number")
    for k in ("nodes", "degree"):
        v = e.get(k)
        if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            errors.append(f"{where}.{k} must be a positive integer")
    if e.get("aspl") is not None and not (_is_number(e["aspl"]) and e["aspl"] >= 1.0):
        errors.append(f"{where}.aspl must be a number >= 1")
    if "approximate" in e and not isinstance(e["approximate"], bool):
        errors.append(f"{where}.approximate must be true or false")
    aliases = e.get("aliases", [])
    if not (isinstance(aliases, list) and all(isinstance(a, str) for a in aliases)):
        errors.append(f"{where}.aliases must be a list of strings")
    return errors


def _entry(d: dict[str, Any]) -> PublishedEntry:
    known = {
        "dataset",
        "model",
        "method",
        "label",
        "ratio",
        "params_reduction",
        "macs_reduction",
        "top1",
        "top5",
        "aliases",
        "aspl",
        "nodes",
        "degree",
        "approximate",
    }

    def num(k: str) -> float | None:
        return None if d.get(k) is None else float(d[k])

    return PublishedEntry(
        dataset=d["dataset"],
        model=d["model"],
        method=d["method"],
        label=d["label"],
        ratio=num("ratio"),
        params_reduction=num("params_reduction"),
        macs_reduction=num("macs_reduction"),
        top1=float(d["top1"]),
        top5=num("top5"),
        aliases=tuple(d.get("aliases", ())),
        aspl=num("aspl"),
        nodes=d.get("nodes"),
        degree=d.get("degree"),
        approximate=bool(d.get("approximate", False)),
        extra={k: v for k, v in d.items() if k not in known},
    )


def baseline_files(root: str | Path) -> list[Path]:
    """The YAML files under `root`, sorted; the `runs/` subfolder (recorded benchmark runs) is skipped."""
    root = Path(root)
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS and not d.startswith("."))
        files += [Path(dirpath) / f for f in filenames if f.endswith((".yaml", ".yml"))]
    return sorted(files)


def load_file(path: str | Path) -> PublishedSource:
    """Load and validate one baselines file; raise UserError (one line) when it does not fit the schema."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read baselines file {path}: {str(exc).splitlines()[0]}") from exc
    errors = validate(doc)
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UserError(f"invalid baselines file {path}: {errors[0]}{more}")
    entries = tuple(_entry(e) for e in doc["entries"])
    return PublishedSource(path=path, source=dict(doc["source"]), convention=dict(doc["convention"]), entries=entries)


def load_published(root: str | Path | None = None) -> list[PublishedSource]:
    """Load every baselines file under `root` (default: `default_dir()`); [] when there is no such dir.

    Raises UserError if a file is invalid or two files share a source id.
    """
    root = default_dir() if root is None else Path(root)
    if root is None or not root.is_dir():
        return []
    sources = [load_file(p) for p in baseline_files(root)]
    seen: dict[str, Path] = {}
    for s in sources:
        sid = s.source["id"]
        if sid in seen:
            raise UserError(f"baselines source id {sid!r} used by both {seen[sid]} and {s.path}")
        seen[sid] = s.path
    return sources


def default_dir() -> Path | None:
    """$RGP_BENCH_BASELINES, else `./baselines`, else the copy inside the wheel, else the checkout's."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for cand in (Path.cwd() / "baselines", here.parents[1] / "baselines", here.parents[3] / "baselines"):
        if cand.is_dir():
            return cand
    return None


def matching(sources: Iterable[PublishedSource], dataset: str,
             model: str) -> list[tuple[PublishedSource, PublishedEntry]]:
    """All (source, entry) pairs about this dataset and model."""
    return [(s, e) for s in sources for e in s.entries if e.matches(dataset, model)]
