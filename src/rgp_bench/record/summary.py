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


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def _epochs(record: RunRecord) -> str:
    """'scratch, 30 epochs in total' or 'finetune, 60 epochs in total (30 dense + 30 fine-tuning)'."""
    epochs = record.epochs
    text = f"{record.regime}, {_count(epochs.total, 'epoch')} in total"
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
    after = "" if dense.epochs is None else f" after {_count(dense.epochs, 'epoch')}"
    cached = ", loaded from the dense cache" if record.dense_cache is not None and record.dense_cache.hit else ""
    if record.budget.basis == Budget.none:
        return "top-1 before continuing", f"{dense.top1:.2f}%{after}{cached}"
    return "dense top-1 before pruning", f"{dense.top1:.2f}%{after}{cached} (this run trained {record.epochs.total})"


def _search_rows(record: RunRecord) -> list[tuple[str, str]]:
    """A search method's outcome (gnnrl, random_search): its best candidate's validation reward before the run
    trained it, what the search cost, and how to read its reward and its progress line's "MACs -x %"."""
    info = record.method_info
    search = info.get("search")
    if not isinstance(search, dict) or "best_reward" not in info:
        return []
    if info.get("fallback"):
        outcome = "no candidate met the MAC budget: the uniform policy, rescaled to it, was used"
    else:
        outcome = (f"validation top-1 {info['best_val_top1']:.2f}%, reward {info['best_reward']:.2f} "
                   "(reward = validation top-1 - 100: 0 is perfect)")
    spent = [_count(int(search[key]), unit) for key, unit in (("evaluations", "evaluation"),
                                                               ("candidates", "candidate"), ("episodes", "episode"))
             if key in search]
    rows = [("search best, before training", outcome),
            ("search cost", f"{', '.join(spent)} in {float(search.get('seconds', 0.0)):.1f} s"
                            + (f" (budget {search['budget']})" if "budget" in search else "")),
            ("reading the search", "each candidate is rescaled to the MAC budget before its reward;"),
            ("", "'MACs -x %' while it searches is an episode's own reduction, before that")]
    return rows


def _keep_rows(record: RunRecord, per_line: int = 4) -> list[tuple[str, str]]:
    """The fraction of channels each prunable group keeps (channel methods), a few groups a line."""
    kept = record.method_info.get("keep_fraction")
    if not isinstance(kept, dict) or not kept:
        return []
    items = [f"{name} {fraction:.3f}" for name, fraction in kept.items()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return [("keep fraction per group" if i == 0 else "", line) for i, line in enumerate(lines)]


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


def _cost_rows(record: RunRecord) -> list[tuple[str, str]]:
    """What the run cost: its wall time with its two longest phases, and its peak resident memory."""
    phases = sorted(((v, k) for k, v in record.timings.items() if k != "total"), reverse=True)[:2]
    text = f"{record.timings.get('total', sum(v for v, _ in phases)):.1f} s"
    if phases:
        text += " (" + ", ".join(f"{name} {seconds:.1f} s" for seconds, name in phases) + ")"
    if "run" in record.peak_memory_mib:
        text += f", peak memory {record.peak_memory_mib['run'] / 1024:.2f} GiB"
    return [("run time", text)]


def format_summary(record: RunRecord, path: Path) -> str:
    """A two-column table: method, regime and epochs, ratios, params, MACs, accuracy (and the dense model's before
    pruning), a search's outcome, the groups' keep fractions, the measured speed-up, what the run cost (time and
    memory) and where the record is."""
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
    rows.extend(_search_rows(record))
    rows.extend(_keep_rows(record))
    rows.extend(_latency_rows(record))
    rows.extend(_cost_rows(record))
    rows.append(("record", str(path)))
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 3 + max(len(v) for _, v in rows))
    return "\n".join([line, *(f"{k:<{width}} | {v}" for k, v in rows), line])
