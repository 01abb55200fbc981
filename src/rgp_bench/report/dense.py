"""Every pruned group's dense reference: the dense runs in its regime and for its total epochs (any ratio)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rgp_bench.report.groups import Group, comparable, differing

DENSE = "dense"  # the dense reference's name as a reference method (--reference dense)
# Settings that cannot change the dense model's training: which layers a method may prune, a sanity check of the
# masks, how latency is measured. A dense run is the reference of pruned runs that differ from it only in these.
_NOT_DENSE_TRAINING = ("layers.", "sanity", "measure.")


def match_dense(groups: Sequence[Group]) -> None:
    """Give every pruned group its dense reference: the dense group with the same dataset, model, regime and total
    epochs (any ratio, any budget basis) whose training settings agree.

    Sets `dense` (the dense group, or None), `dense_diff` (group mean minus dense mean, in points) and
    `dense_missing` (why there is none, with what to add). A dense reference of other epochs is never used: the
    pruned model would be compared with a model trained for a different budget.
    """
    dense = [g for g in groups if g.is_dense]
    for g in groups:
        g.dense, g.dense_diff, g.dense_missing = None, None, None
        if g.is_dense:
            continue
        same_model = [d for d in dense if (d.dataset, d.model, d.regime) == (g.dataset, g.model, g.regime)]
        found = [d for d in same_model if d.epochs is not None and d.epochs == g.epochs
                 and comparable(g, d, ignore=_NOT_DENSE_TRAINING)]
        if not found:
            g.dense_missing = _why_no_dense(g, same_model)
            continue
        ref = sorted(found, key=lambda d: (not d.default_variant, -d.n, d.variant))[0]
        g.dense = ref
        g.dense_diff = None if g.acc.mean is None or ref.acc.mean is None else g.acc.mean - ref.acc.mean


def _why_no_dense(g: Group, same_model: Sequence[Group]) -> str:
    """'no dense reference at 60 epochs (finetune): add method=dense_finetune', with what the dense runs have."""
    epochs = "mixed epochs" if g.epochs is None else f"{g.epochs} epochs"
    preset = "dense_finetune" if g.regime == "finetune" else DENSE
    text = f"no dense reference at {epochs} ({g.regime}): add method={preset}"
    others = sorted({d.epochs for d in same_model if d.epochs is not None})
    if g.epochs in others:  # dense runs of these epochs exist, trained with other settings
        keys = sorted({k for d in same_model for k in differing(g, d, _NOT_DENSE_TRAINING)})
        return text + f" with this group's settings (the dense runs differ in {', '.join(keys) or 'settings'})"
    if others:
        return text + f" with the same epochs (the dense runs here have {', '.join(str(e) for e in others)})"
    return text


def dense_order(group: Group) -> tuple[Any, ...]:
    """The order dense references are listed and drawn in: scratch first, then by epochs."""
    return (group.regime != "scratch", group.regime or "", group.epochs or 0, group.label)


@dataclass(frozen=True)
class ResultRow:
    """One row of the results table: a group; the dense group shown as the reference of the pruned groups below it
    (`reference`); or a note that a (regime, epochs) has no dense reference (`missing`: why, no group)."""

    dataset: str
    model: str
    ratio: float | None
    budget: str
    group: Group | None
    reference: bool = False
    missing: str | None = None
    # The regime and epochs of a `missing` row (of a group's row: the group's).
    regime: str | None = None
    epochs: int | None = None


def with_dense_rows(groups: Sequence[Group]) -> list[ResultRow]:
    """The groups in the order the results table lists them, with the dense reference in every report group.

    Before the pruned groups of each (dataset, model, ratio, budget basis) comes a row for each dense reference they
    use (the dense group, shown at that ratio and basis) and, when the report has dense runs at all, a row for each
    (regime, epochs) that has none. Dense groups that no pruned group uses follow at the end, as they are.
    """
    cells: dict[tuple[str, str, float | None, str], list[Group]] = defaultdict(list)
    for g in groups:
        if not g.is_dense:
            cells[(g.dataset, g.model, g.ratio, g.budget)].append(g)
    has_dense = any(g.is_dense for g in groups)
    out: list[ResultRow] = []
    used: set[Group] = set()
    for (dataset, model, ratio, budget), members in cells.items():
        refs = list({g.dense: None for g in members if g.dense is not None})
        out += [ResultRow(dataset, model, ratio, budget, ref, reference=True, regime=ref.regime, epochs=ref.epochs)
                for ref in sorted(refs, key=dense_order)]
        used |= set(refs)
        missing = {(g.regime, g.epochs): g.dense_missing for g in members if g.dense_missing}
        out += [ResultRow(dataset, model, ratio, budget, None, missing=why, regime=regime, epochs=epochs)
                for (regime, epochs), why in sorted(missing.items(), key=str) if has_dense]
        out += [_row(g) for g in members]
    return out + [_row(g) for g in groups if g.is_dense and g not in used]


def _row(g: Group) -> ResultRow:
    return ResultRow(g.dataset, g.model, g.ratio, g.budget, g, regime=g.regime, epochs=g.epochs)
