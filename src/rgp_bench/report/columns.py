"""Every report column, declared once: its name, the typed accessor that reads it from a `RunRecord`, its kind and
how tables show it.

The table drives the tidy row of each run (`report.rows`), the CSV column order, which columns are averaged over
seeds per group, and the cells of the results table. A new record field becomes a report column by adding one line
here; a renamed field is a type error here and a reading error for a stored file (rgp_bench.record.read), never an
empty column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from rgp_bench.record.schema import RunRecord
from rgp_bench.report.render import fnum, pct, pm

Kind = Literal["text", "number", "integer", "flag"]
Value = str | float | int | bool | None


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation over seeds (None: no value, or std with fewer than 2 seeds)."""

    mean: float | None = None
    std: float | None = None


@dataclass(frozen=True)
class Column:
    """One column of the tidy results table."""

    name: str
    # Reads the value from a record; None where the record has none (e.g. no latency measured).
    get: Callable[[RunRecord], Value]
    kind: Kind = "number"
    # Averaged over seeds in each group (the group's `stats[name]`; <name>_mean and <name>_std in report.json).
    aggregate: bool = False
    # Header and cell of the results table, for columns it shows.
    header: str = ""
    cell: Callable[[Stat], str] | None = None

    def value(self, record: RunRecord) -> Value:
        """The column's value in `record`, as the kind says: numbers as float (None for NaN), integers as int, flags
        as 1.0/0.0 (so a group's mean is the fraction of its runs)."""
        value = self.get(record)
        if value is None or self.kind == "text":
            return value
        if isinstance(value, float) and not math.isfinite(value):
            return None  # stored as null: no value
        return int(value) if self.kind == "integer" else float(value)


def _pm(s: Stat) -> str:
    return pm(s.mean, s.std)


def _pct(s: Stat) -> str:
    return pct(s.mean)


def _whole(s: Stat) -> str:
    return fnum(s.mean, 0)


def _three(s: Stat) -> str:
    return pm(s.mean, s.std, 3)


def _seconds(s: Stat) -> str:
    return fnum(s.mean, 0 if s.mean is not None and s.mean >= 10 else 1)


def _times(s: Stat) -> str:
    return "n/a" if s.mean is None else f"{fnum(s.mean)}×" + ("" if s.std is None else f" ± {fnum(s.std)}")


def method_fact(record: RunRecord, *path: str) -> float | None:
    """A number in the method-specific `method_info` (free-form): None where the method records none, or records
    something else there (e.g. rgp's `strategy` text where a search method has its `search` facts)."""
    node: Any = record.method_info
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, int | float) and not isinstance(node, bool) else None


def _git_commit(record: RunRecord) -> str | None:
    git = record.environment.get("git")
    commit = git.get("commit") if isinstance(git, dict) else None
    return commit if isinstance(commit, str) else None


COLUMNS: tuple[Column, ...] = (
    Column("run_id", lambda r: r.run_id, "text"),
    Column("dataset", lambda r: r.dataset, "text"),
    Column("model", lambda r: r.model, "text"),
    Column("regime", lambda r: r.regime, "text"),
    Column("method", lambda r: r.method, "text"),
    Column("ratio", lambda r: r.ratio),
    Column("seed", lambda r: r.seed, "integer"),
    Column("top1_final", lambda r: r.accuracy.final.top1, aggregate=True, header="top-1 final", cell=_pm),
    Column("top5_final", lambda r: r.accuracy.final.top5, aggregate=True, header="top-5 final", cell=_pm),
    Column("top1_best_val", lambda r: r.accuracy.best_val.top1, aggregate=True, header="top-1 best_val", cell=_pm),
    Column("top5_best_val", lambda r: r.accuracy.best_val.top5, aggregate=True, header="top-5 best_val", cell=_pm),
    Column("best_val_epoch", lambda r: r.accuracy.best_val.epoch, "integer"),
    Column("val_top1_best_val", lambda r: r.accuracy.best_val.val_top1),
    # Finetune regime only: the dense model's test top-1 before pruning, after `dense_epochs` epochs (records before
    # that field: blank). Fewer epochs than the run's total, so not its reference: the dense runs (method=dense) are.
    Column("top1_dense", lambda r: None if r.accuracy.dense is None else r.accuracy.dense.top1, aggregate=True),
    Column("dense_epochs", lambda r: None if r.accuracy.dense is None else r.accuracy.dense.epochs, "integer"),
    Column("params_reduction", lambda r: r.cost.reduction.params, aggregate=True, header="params red.", cell=_pct),
    Column("macs_reduction", lambda r: r.cost.reduction.macs, aggregate=True, header="MACs red.", cell=_pct),
    Column("prunable_params_reduction", lambda r: r.cost.reduction.prunable_params, aggregate=True),
    Column("prunable_macs_reduction", lambda r: r.cost.reduction.prunable_macs, aggregate=True),
    Column("sparsity_requested", lambda r: r.sparsity.requested),
    Column("sparsity_achieved", lambda r: r.sparsity.achieved, aggregate=True, header="sparsity (prunable)",
           cell=_pct),
    Column("sparsity_overall", lambda r: r.sparsity.overall),
    # What `ratio` counts: "weights" (prunable weights), "macs" (the model's MACs) or "none" (the dense reference).
    Column("budget", lambda r: r.budget.basis, "text"),
    # Records upgraded from schema 2 have no sanity check (none) and no collapse facts (blank).
    Column("sanity", lambda r: r.sanity, "text"),
    Column("collapsed", lambda r: None if r.collapse is None else r.collapse.collapsed, "flag", aggregate=True,
           header="collapsed", cell=_pct),
    Column("narrowest_kept", lambda r: None if r.collapse is None else r.collapse.narrowest_kept),
    Column("budget_achieved", lambda r: r.budget.achieved),
    Column("params", lambda r: r.cost.pruned.params, "integer"),
    Column("params_nonzero", lambda r: r.cost.pruned.params_nonzero, "integer"),
    Column("macs", lambda r: r.cost.pruned.macs, "integer"),
    Column("macs_effective", lambda r: r.cost.pruned.macs_effective, "integer"),
    Column("dense_params", lambda r: r.cost.dense.params, "integer"),
    Column("dense_macs", lambda r: r.cost.dense.macs, "integer"),
    Column("epochs_pretrain", lambda r: r.epochs.pretrain, "integer"),
    Column("epochs_train", lambda r: r.epochs.train, "integer"),
    Column("epochs_total", lambda r: r.epochs.total, "integer", aggregate=True, header="epochs", cell=_whole),
    # Measured inference speed-up over dense (materialised, else masked) at `speedup_batch`, when measured.
    Column("speedup", lambda r: None if r.cost.latency is None else r.cost.latency.speedup, aggregate=True,
           header="measured speed-up", cell=_times),
    Column("speedup_batch", lambda r: None if r.cost.latency is None else r.cost.latency.speedup_batch, "integer"),
    # The headline's form ("materialised" or "masked"), and whether its per-round speed-ups stayed noisy.
    Column("speedup_form", lambda r: None if r.cost.latency is None else r.cost.latency.headline, "text"),
    Column("speedup_noisy", lambda r: None if r.cost.latency is None else r.cost.latency.noisy, "flag",
           aggregate=True),
    # Dense MACs over effective MACs (the speed-up that skipping every pruned MAC would give) and the headline's
    # fraction of it; the headline over an equal-MAC dense twin and over the dense model compiled (when measured).
    Column("mac_limit", lambda r: None if r.cost.latency is None else r.cost.latency.mac_limit, aggregate=True,
           header="MAC limit", cell=_times),
    Column("fraction_of_limit", lambda r: None if r.cost.latency is None else r.cost.latency.fraction_of_limit,
           aggregate=True, header="of MAC limit", cell=_pct),
    Column("speedup_vs_twin", lambda r: None if r.cost.latency is None else r.cost.latency.speedup_vs_twin,
           aggregate=True, header="vs twin", cell=_times),
    Column("speedup_vs_compiled", lambda r: None if r.cost.latency is None else r.cost.latency.speedup_vs_compiled,
           aggregate=True, header="vs compiled", cell=_times),
    Column("latency_efficiency", lambda r: None if r.cost.latency is None else r.cost.latency.efficiency,
           aggregate=True, header="efficiency", cell=_pct),
    Column("latency_device", lambda r: None if r.cost.latency is None else r.cost.latency.device, "text"),
    Column("latency_threads", lambda r: None if r.cost.latency is None else r.cost.latency.threads, "integer"),
    Column("latency_reused_from", lambda r: None if r.cost.latency is None or r.cost.latency.protocol is None
           else r.cost.latency.protocol.reused_from, "text"),
    # Search methods (gnnrl, random_search): the cost of their search.
    # Graph-based methods (rgp, rreg, ramanujan): the average shortest path length of the graph they drew.
    Column("aspl", lambda r: method_fact(r, "aspl"), aggregate=True, header="ASPL", cell=_three),
    Column("search_seconds", lambda r: method_fact(r, "search", "seconds"), aggregate=True, header="search s",
           cell=_seconds),
    Column("search_evaluations", lambda r: method_fact(r, "search", "evaluations"), aggregate=True,
           header="search evaluations", cell=_whole),
    # The search's best reward as validation top-1 of the masked model before fine-tuning: the number that
    # separates search methods (fine-tuning erases most of the difference).
    Column("search_val_top1", lambda r: method_fact(r, "best_val_top1"), aggregate=True,
           header="search val top-1 (before FT)", cell=_pm),
    Column("seconds_total", lambda r: r.timings.get("total")),
    Column("created", lambda r: r.created, "text"),
    Column("git_commit", _git_commit, "text"),
)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
# The tidy row's columns in CSV order: the declared ones, then where the record was found (the recorded output_dir
# is stale once a tree is copied).
ROW_COLUMNS: tuple[str, ...] = (*(c.name for c in COLUMNS), "output_dir")
AGGREGATED: tuple[Column, ...] = tuple(c for c in COLUMNS if c.aggregate)


# The accuracy a report's tables and plots use: test top-1 at the best-validation epoch, or at the final epoch.
METRICS = ("best_val", "final")
_METRIC_TEXT = {
    "best_val": "test top-1 at best-validation epoch (%)",
    "final": "test top-1 at final epoch (%)",
}


def metric_column(metric: str) -> Column:
    """The column holding top-1 test accuracy for `metric` (best_val or final)."""
    return BY_NAME[f"top1_{metric}"]


def metric_text(metric: str) -> str:
    """What `metric` is, in words (an axis label)."""
    return _METRIC_TEXT.get(metric, metric)


def record_values(record: RunRecord) -> dict[str, Value]:
    """The declared columns of one record, by name."""
    return {c.name: c.value(record) for c in COLUMNS}
