"""One completed run as the report sees it: its typed record, its tidy row and what grouping needs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgp_bench.record.schema import RunRecord
from rgp_bench.report.columns import Column, Value, record_values
from rgp_bench.report.style import remember_declared


@dataclass
class Run:
    """One completed run."""

    record: RunRecord
    # The tidy row without its variant: the declared columns, where the record was found, then method_info.*.
    values: dict[str, Value]
    # The flattened resolved config (used to tell variants apart).
    config: dict[str, Any]
    job_dir: Path
    # A hash of each top-level entry of the record: equal for every key means an identical copy.
    digests: dict[str, str]
    # Settings that split the run's method into variants ('start=ring'); set by report.variants.
    variant: str = ""
    # Whether every split setting is at the method's default (the run is of the method as its defaults define it).
    default_variant: bool = True
    # Settings shared by every method (training budget, data, layers ...), normalised: comparisons need them to agree.
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def row(self) -> dict[str, Any]:
        """The run's row of results.csv (and `Report.rows`)."""
        return {**self.values, "variant": self.variant}

    def value(self, column: Column) -> Any:
        """The run's value in a declared column."""
        return self.values[column.name]

    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def label(self) -> str:
        """Series name: the method, plus its variant when there is one."""
        return label(self.record.method, self.variant)


def label(method: str, variant: str) -> str:
    """Series name: the method, plus its variant when there is one."""
    return f"{method} [{variant}]" if variant else method


def make_run(record: RunRecord, config: dict[str, Any], job_dir: Path) -> Run:
    """The report's view of a record found in `job_dir`, whose resolved config is `config` (nested)."""
    remember_declared(record.method, record.method_facts)  # the style the run's method declared, if recorded
    values: dict[str, Value] = {**record_values(record), "output_dir": str(job_dir)}
    values.update({f"method_info.{k}": v for k, v in flatten(record.method_info).items()})
    return Run(record=record, values=values, config=flatten(config), job_dir=job_dir,
               digests=record_digests(record.to_dict()))


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
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


def prunable_densities(record: RunRecord) -> list[tuple[str, float]]:
    """(layer name, kept fraction) of each prunable layer in `cost.layers`, in model order."""
    return [(layer.name, layer.density) for layer in record.cost.layers if layer.prunable]


def record_digests(stored: dict[str, Any]) -> dict[str, str]:
    """A hash of each top-level entry of a record (two records are identical when every hash agrees)."""
    return {
        k: hashlib.sha256(json.dumps(v, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]
        for k, v in stored.items()
    }
