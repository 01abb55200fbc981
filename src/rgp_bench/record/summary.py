"""The short table printed at the end of a run."""

from __future__ import annotations

from pathlib import Path

from rgp_bench.config.choices import Budget
from rgp_bench.record.schema import RunRecord


def _human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def _epochs(record: RunRecord) -> str:
    """'scratch, 30 epochs in total' or 'finetune, 60 epochs in total (30 dense + 30 fine-tuning)'."""
    epochs = record.epochs
    text = f"{record.regime}, {epochs.total} epochs in total"
    if epochs.pretrain:
        after = "continued, unpruned" if record.budget.basis == Budget.none else "fine-tuning"
        text += f" ({epochs.pretrain} dense + {epochs.train} {after})"
    return text


def _budget_rows(record: RunRecord) -> list[tuple[str, str]]:
    """What was pruned: the ratio, parameters and MACs; for the dense reference, its size alone."""
    dense, pruned, red = record.cost.dense, record.cost.pruned, record.cost.reduction
    if record.budget.basis == Budget.none:
        return [("params / MACs", f"{_human(dense.params)} / {_human(dense.macs)}  (unpruned: the dense reference, "
                                  "the same run for every ratio)")]
    basis = "the MACs" if record.budget.basis == "macs" else "prunable weights"
    return [
        ("ratio requested / achieved", f"{record.budget.requested:.4f} / {record.budget.achieved:.4f} of {basis}"),
        ("params (remaining / dense)",
         f"{_human(pruned.params_nonzero)} / {_human(dense.params)}  (-{100 * red.params:.2f}%)"),
        ("MACs (effective / dense)",
         f"{_human(pruned.macs_effective)} / {_human(dense.macs)}  (-{100 * red.macs:.2f}%)"),
    ]


def _before_pruning(record: RunRecord) -> tuple[str, str]:
    """The dense model's test top-1 when the finetune regime pruned (or, for a dense run, continued) it."""
    dense = record.accuracy.dense
    assert dense is not None
    after = "" if dense.epochs is None else f" after {dense.epochs} epochs"
    if record.budget.basis == Budget.none:
        return "top-1 before continuing", f"{dense.top1:.2f}%{after}"
    return "dense top-1 before pruning", f"{dense.top1:.2f}%{after} (this run trained {record.epochs.total})"


def _latency_rows(record: RunRecord) -> list[tuple[str, str]]:
    """The measured speed-up of the fastest deployable form at each batch size, with the MAC limit beside it."""
    latency = record.cost.latency
    if latency is None:
        return []
    limit = f"MAC limit {latency.mac_limit:.1f}×" if latency.mac_limit else "no MAC limit recorded"
    rows = []
    for batch in latency.batches:
        forms = {name: v for name, v in batch.variants.items() if name in ("materialised", "masked")}
        name, best = max(forms.items(), key=lambda item: item[1].speedup)
        twin = batch.variants.get("twin")
        versus_twin = f", {best.speedup / twin.speedup:.2f}× its equal-MAC twin" if twin else ""
        noisy = " (noisy)" if batch.noisy else ""
        rows.append((f"speed-up at batch {batch.batch_size}",
                     f"{best.speedup:.2f}× over dense, {name} ({limit}){versus_twin}{noisy}"))
    if latency.protocol is not None and latency.protocol.reused_from:
        rows.append(("latency measured by", f"run {latency.protocol.reused_from} (same model structure)"))
    return rows


def format_summary(record: RunRecord, path: Path) -> str:
    """A two-column table: method, regime and epochs, ratios, params, MACs, accuracy and where the record is."""
    acc = record.accuracy
    best = acc.best_val
    rows = [
        ("method", f"{record.method} on {record.model} / {record.dataset} (seed {record.seed})"),
        ("regime", _epochs(record)),
        *_budget_rows(record),
        ("test top-1 final", f"{acc.final.top1:.2f}%  (epoch {acc.final.epoch})"),
        ("test top-1 @ best val", f"{best.top1:.2f}%  (epoch {best.epoch}, val {best.val_top1:.2f}%)"),
    ]
    if acc.dense is not None:
        rows.append(_before_pruning(record))
    rows.extend(_latency_rows(record))
    rows.append(("record", str(path)))
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 3 + max(len(v) for _, v in rows))
    return "\n".join([line, *(f"{k:<{width}} | {v}" for k, v in rows), line])
