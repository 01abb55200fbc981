"""Every report column, declared once: its name, where it lives in a run record, its kind and how tables show it.

The table drives `record_to_row` (one tidy row per run), the CSV column order, which columns are averaged
over seeds per group, and the cells of the results table. A new record field becomes a report column by
adding one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from rgp_bench.report.render import fnum, pct, pm

Kind = Literal["text", "number", "integer", "flag"]


class CorruptRecord(ValueError):
    """A results.json that cannot be read as a run record."""


@dataclass(frozen=True)
class Column:
    """One column of the tidy results table."""

    name: str
    # Dotted path into the record; None for columns the reader fills in (where the record was found).
    path: str | None
    kind: Kind = "number"
    # Averaged over seeds in each group (the group gets <name>_mean and <name>_std).
    aggregate: bool = False
    # Header and cell of the results table, for columns it shows: cell(mean, std) -> text.
    header: str = ""
    cell: Callable[[Any, Any], str] | None = None
    # Free-form parts of a record (method_info): a value of another shape reads as absent instead of corrupt.
    strict: bool = True


def _pm(mean: Any, std: Any) -> str:
    return pm(mean, std)


def _pct(mean: Any, _std: Any) -> str:
    return pct(mean)


def _whole(mean: Any, _std: Any) -> str:
    return fnum(mean, 0)


def _seconds(mean: Any, _std: Any) -> str:
    return fnum(mean, 0 if mean is not None and mean >= 10 else 1)


def _times(mean: Any, std: Any) -> str:
    return "n/a" if mean is None else f"{fnum(mean)}×" + ("" if std is None else f" ± {fnum(std)}")


COLUMNS: tuple[Column, ...] = (
    Column("run_id", "run_id", "text"),
    Column("dataset", "dataset", "text"),
    Column("model", "model", "text"),
    Column("regime", "regime", "text"),
    Column("method", "method", "text"),
    Column("ratio", "ratio"),
    Column("seed", "seed", "integer"),
    Column("top1_final", "accuracy.final.top1", aggregate=True, header="top-1 final", cell=_pm),
    Column("top5_final", "accuracy.final.top5", aggregate=True, header="top-5 final", cell=_pm),
    Column("top1_best_val", "accuracy.best_val.top1", aggregate=True, header="top-1 best_val", cell=_pm),
    Column("top5_best_val", "accuracy.best_val.top5", aggregate=True, header="top-5 best_val", cell=_pm),
    Column("best_val_epoch", "accuracy.best_val.epoch", "integer"),
    Column("val_top1_best_val", "accuracy.best_val.val_top1"),
    # Finetune regime only: the dense model's test top-1 before pruning, after `dense_epochs` epochs (records before
    # that field: blank). Fewer epochs than the run's total, so not its reference: the dense runs (method=dense) are.
    Column("top1_dense", "accuracy.dense.top1", aggregate=True),
    Column("dense_epochs", "accuracy.dense.epochs", "integer"),
    Column("params_reduction", "cost.reduction.params", aggregate=True, header="params red.", cell=_pct),
    Column("macs_reduction", "cost.reduction.macs", aggregate=True, header="MACs red.", cell=_pct),
    Column("prunable_params_reduction", "cost.reduction.prunable_params", aggregate=True),
    Column("prunable_macs_reduction", "cost.reduction.prunable_macs", aggregate=True),
    Column("sparsity_requested", "sparsity.requested"),
    Column("sparsity_achieved", "sparsity.achieved", aggregate=True, header="sparsity (prunable)", cell=_pct),
    Column("sparsity_overall", "sparsity.overall"),
    # What `ratio` counts: "weights" (prunable weights) or "macs" (the model's MACs); records before v2: weights.
    Column("budget", "budget.basis", "text"),
    # Records before schema 3 have no sanity check (none) and no collapse facts (blank).
    Column("sanity", "sanity", "text"),
    Column("collapsed", "collapse.collapsed", "flag", aggregate=True, header="collapsed", cell=_pct, strict=False),
    Column("narrowest_kept", "collapse.narrowest_kept", strict=False),
    Column("budget_achieved", "budget.achieved"),
    Column("params", "cost.pruned.params", "integer"),
    Column("params_nonzero", "cost.pruned.params_nonzero", "integer"),
    Column("macs", "cost.pruned.macs", "integer"),
    Column("macs_effective", "cost.pruned.macs_effective", "integer"),
    Column("dense_params", "cost.dense.params", "integer"),
    Column("dense_macs", "cost.dense.macs", "integer"),
    Column("epochs_pretrain", "epochs.pretrain", "integer"),
    Column("epochs_train", "epochs.train", "integer"),
    Column("epochs_total", "epochs.total", "integer", aggregate=True, header="epochs", cell=_whole),
    # Measured inference speed-up over dense (materialised, else masked) at `speedup_batch`, when measured.
    Column("speedup", "cost.latency.speedup", aggregate=True, header="measured speed-up", cell=_times),
    Column("speedup_batch", "cost.latency.speedup_batch", "integer"),
    # Search methods (gnnrl, random_search): the cost of their search.
    Column("search_seconds", "method_info.search.seconds", aggregate=True, header="search s", cell=_seconds,
           strict=False),
    Column("search_evaluations", "method_info.search.evaluations", aggregate=True, header="search evaluations",
           cell=_whole, strict=False),
    # The search's best reward as validation top-1 of the masked model before fine-tuning: the number that
    # separates search methods (fine-tuning erases most of the difference).
    Column("search_val_top1", "method_info.best_val_top1", aggregate=True, header="search val top-1 (before FT)",
           cell=_pm, strict=False),
    Column("seconds_total", "timings.total"),
    Column("created", "created", "text"),
    Column("git_commit", "environment.git.commit", "text"),
    Column("output_dir", None, "text"),
)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
ROW_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)
AGGREGATED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.aggregate)
# A record without these is not a run record.
REQUIRED: tuple[str, ...] = ("method", "dataset", "model", "accuracy")


def _lookup(record: dict[str, Any], path: str) -> Any:
    node: Any = record
    parts = path.split(".")
    for i, part in enumerate(parts):
        if node is None:
            return None
        if not isinstance(node, dict):
            raise CorruptRecord(f"{'.'.join(parts[:i])} is not an object")
        node = node.get(part)
    return node


def _convert(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "text":
        return str(value) if column.name in REQUIRED else value
    if column.kind == "flag":  # true/false as 1/0, so a group's mean is the fraction of its runs
        if not isinstance(value, bool):
            raise CorruptRecord(f"{column.path} is not true or false: {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CorruptRecord(f"{column.path} is not a number: {value!r}")
    return int(value) if column.kind == "integer" else float(value)


def _value(column: Column, record: dict[str, Any]) -> Any:
    try:
        return _convert(column, _lookup(record, str(column.path)))
    except CorruptRecord:
        if column.strict:
            raise
        return None


def record_values(record: object) -> dict[str, Any]:
    """The declared columns of one record (without the reader's own columns); CorruptRecord if it is not one."""
    if not isinstance(record, dict):
        raise CorruptRecord("not a JSON object")
    for key in REQUIRED:
        if record.get(key) is None:
            raise CorruptRecord(f"missing key {key!r}")
    return {c.name: _value(c, record) for c in COLUMNS if c.path is not None}
