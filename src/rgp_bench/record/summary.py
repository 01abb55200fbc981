"""The short table printed at the end of a run."""

from __future__ import annotations

from pathlib import Path

from rgp_bench.record.schema import RunRecord


def _human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def format_summary(record: RunRecord, path: Path) -> str:
    """A two-column table: method, regime, ratios, params, MACs, accuracy and where the record is."""
    cost, acc = record.cost, record.accuracy
    dense, pruned, red = cost.dense, cost.pruned, cost.reduction
    best = acc.best_val
    rows = [
        ("method", f"{record.method} on {record.model} / {record.dataset} (seed {record.seed})"),
        ("regime", f"{record.regime}, {record.epochs.total} epochs in total"),
        ("ratio requested / achieved", f"{record.budget.requested:.4f} / {record.budget.achieved:.4f} of "
                                       f"{'the MACs' if record.budget.basis == 'macs' else 'prunable weights'}"),
        ("params (remaining / dense)",
         f"{_human(pruned.params_nonzero)} / {_human(dense.params)}  (-{100 * red.params:.2f}%)"),
        ("MACs (effective / dense)",
         f"{_human(pruned.macs_effective)} / {_human(dense.macs)}  (-{100 * red.macs:.2f}%)"),
        ("test top-1 final", f"{acc.final.top1:.2f}%  (epoch {acc.final.epoch})"),
        ("test top-1 @ best val", f"{best.top1:.2f}%  (epoch {best.epoch}, val {best.val_top1:.2f}%)"),
        ("record", str(path)),
    ]
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 3 + max(len(v) for _, v in rows))
    return "\n".join([line, *(f"{k:<{width}} | {v}" for k, v in rows), line])
