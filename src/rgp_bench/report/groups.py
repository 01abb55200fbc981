"""Groups: the runs of one (dataset, model, regime, ratio, budget, method, variant), averaged over seeds."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rgp_bench.config.choices import Budget
from rgp_bench.report import stats
from rgp_bench.report.columns import AGGREGATED, Column, Stat, metric_column
from rgp_bench.report.runs import Run, label, prunable_densities
from rgp_bench.report.variants import ratio_key

# The budget basis of the dense reference (method=dense): it prunes nothing, so its runs serve every ratio.
UNPRUNED = str(Budget.none)
# A group whose achieved reduction (on its budget basis) is further than this from the requested ratio did not
# prune what its ratio says (e.g. RGP's k >= 2 of n = 25 nodes stops at 92 %): it is marked, never bolded.
OFF_TARGET_TOLERANCE = 0.01


@dataclass(frozen=True)
class LayerDensity:
    """The kept fraction of one prunable layer over a group's seeds."""

    name: str
    mean: float | None
    std: float | None
    n: int


@dataclass(eq=False)
class Group:
    """Mean, std and n over the seeds of one (dataset, model, regime, ratio, budget, method, variant)."""

    dataset: str
    model: str
    regime: str | None
    ratio: float | None
    budget: str
    method: str
    variant: str = ""
    metric: str = "best_val"
    runs: list[Run] = field(default_factory=list)
    # The non-method settings with one value across all of the group's runs.
    settings: dict[str, str] = field(default_factory=dict)
    # The method as its defaults define it (no variant, or every split key at its default): the group a reference
    # method's name stands for when its variants are compared with it.
    default_variant: bool = True
    sanity: str = "none"
    seeds: list[int] = field(default_factory=list)
    n: int = 0
    # Top-1 test accuracy of `metric`; `acc_n` values went into it.
    acc: Stat = field(default_factory=Stat)
    acc_n: int = 0
    # Every aggregated column (report.columns), by name.
    stats: dict[str, Stat] = field(default_factory=dict)
    layer_density: list[LayerDensity] = field(default_factory=list)
    off_target: bool = False
    # The group's total epochs (None: mixed).
    epochs: int | None = None
    # The dense reference (report.dense.match_dense), the group's mean minus its mean, or why there is none.
    dense: Group | None = None
    dense_diff: float | None = None
    dense_missing: str | None = None
    # The highest accuracy mean of its cell, better than every other group of the cell by a Holm-corrected paired
    # test (report.emphasis); `tied`: in the cell's group of best means that no test tells apart; `best_p`: the
    # Holm-adjusted p of the cell's highest mean against its runner-up.
    best: bool = False
    tied: bool = False
    best_p: float | None = None

    @property
    def label(self) -> str:
        """Series name: the method, plus its variant when there is one."""
        return label(self.method, self.variant)

    @property
    def is_dense(self) -> bool:
        """A group of the dense reference: it prunes nothing (budget basis `none`)."""
        return self.budget == UNPRUNED

    def stat(self, column: str) -> Stat:
        """The mean and std of an aggregated column."""
        return self.stats.get(column, Stat())

    def per_seed(self, column: Column) -> dict[int, float]:
        """The column's value per seed; several runs with one seed (different run_ids, e.g. another device) are
        averaged before pairing."""
        vals: dict[int, list[float]] = defaultdict(list)
        for r in self.runs:
            if r.value(column) is not None:
                vals[r.seed].append(r.value(column))
        return {s: sum(v) / len(v) for s, v in vals.items()}

    def to_dict(self) -> dict[str, Any]:
        """The group as report.json and `Report.groups` give it."""
        ref = self.dense
        return {
            "dataset": self.dataset, "model": self.model, "regime": self.regime, "ratio": self.ratio,
            "budget": self.budget, "method": self.method, "variant": self.variant, "label": self.label,
            "metric": self.metric, "sanity": self.sanity, "seeds": self.seeds, "n": self.n,
            "acc_mean": self.acc.mean, "acc_std": self.acc.std, "acc_n": self.acc_n,
            **{f"{c.name}_{part}": getattr(self.stat(c.name), part) for c in AGGREGATED for part in ("mean", "std")},
            "layer_density": [asdict(la) for la in self.layer_density], "off_target": self.off_target,
            "epochs": self.epochs,
            "dense_ref_mean": None if ref is None else ref.acc.mean,
            "dense_ref_std": None if ref is None else ref.acc.std,
            "dense_ref_n": None if ref is None else ref.n,
            "dense_ref_epochs": None if ref is None else ref.epochs,
            "dense_diff": self.dense_diff, "dense_missing": self.dense_missing, "best": self.best,
            "tied": self.tied, "best_p_holm": self.best_p,
        }  # fmt: skip


GROUP_KEYS = ("dataset", "model", "regime", "ratio", "budget", "method", "variant")


def _key(run: Run) -> tuple[Any, ...]:
    rec = run.record
    return (rec.dataset, rec.model, rec.regime, ratio_key(rec.ratio), rec.budget.basis, rec.method, run.variant)


def group_runs(runs: Iterable[Run], metric: str) -> list[Group]:
    """Aggregate runs per (dataset, model, regime, ratio, budget, method, variant): mean, std and n over seeds,
    sorted. Their dense references: report.dense.match_dense; the best of each cell: report.emphasis.mark_best."""
    cells: dict[tuple[Any, ...], list[Run]] = defaultdict(list)
    for run in runs:
        cells[_key(run)].append(run)
    groups = [_group(dict(zip(GROUP_KEYS, key, strict=True)), members, metric) for key, members in cells.items()]
    groups.sort(key=_sort_key)
    return groups


def _group(key: dict[str, Any], members: list[Run], metric: str) -> Group:
    g = Group(**key, metric=metric, runs=members)
    g.settings = _common_settings(members)
    g.default_variant = all(m.default_variant for m in members)
    g.sanity = members[0].record.sanity
    g.seeds = sorted({m.seed for m in members})
    # Statistics are over seeds: several runs of one seed (e.g. on two devices) count once, averaged.
    per_seed = g.per_seed(metric_column(metric))
    g.n = len(per_seed) if per_seed else len(members)
    mean, std, g.acc_n = stats.mean_std(list(per_seed.values()))
    g.acc = Stat(mean, std)
    for c in AGGREGATED:
        mean, std, _ = stats.mean_std(list(g.per_seed(c).values()) or [m.value(c) for m in members])
        g.stats[c.name] = Stat(mean, std)
    g.layer_density = _layer_density(members)
    g.off_target = off_target(g.ratio, members) and not g.is_dense
    epochs = {m.record.epochs.total for m in members}
    g.epochs = epochs.pop() if len(epochs) == 1 else None
    return g


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders the numbers inside a text by value ('graph_iters=2' before 'graph_iters=16'; 'null'
    and other words after the numbers)."""
    parts = re.split(r"(-?\d+(?:\.\d+)?)", text)
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts) if p)


def _sort_key(g: Group) -> tuple[Any, ...]:
    return (g.dataset, g.model, -1.0 if g.ratio is None else g.ratio, g.method, natural_key(g.variant),
            g.regime or "")


def off_target(ratio: float | None, members: Sequence[Run]) -> bool:
    """Whether any run of a group achieved a reduction more than OFF_TARGET_TOLERANCE away from its ratio."""
    return ratio is not None and any(abs(m.record.budget.achieved - ratio) > OFF_TARGET_TOLERANCE for m in members)


def _layer_density(members: Sequence[Run]) -> list[LayerDensity]:
    """Kept fraction per prunable layer (from cost.layers), in model order: mean, std and n over seeds."""
    by_seed: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    names: dict[str, None] = {}
    for m in members:
        for name, density in prunable_densities(m.record):
            by_seed[m.seed][name].append(density)
            names[name] = None
    out = []
    for name in names:
        mean, std, n = stats.mean_std([statistics.fmean(v[name]) for v in by_seed.values() if name in v])
        out.append(LayerDensity(name, mean, std, n))
    return out


def _common_settings(members: Sequence[Run]) -> dict[str, str]:
    settings = [m.settings for m in members]
    if not settings:
        return {}
    return {k: v for k, v in settings[0].items() if all(s.get(k) == v for s in settings[1:])}


def differing(g: Group, h: Group, ignore: tuple[str, ...] = ()) -> list[str]:
    """The settings both groups pin down with different values (keys starting with one of `ignore` left out)."""
    a, b = g.settings, h.settings
    return sorted(k for k in a.keys() & b.keys() if a[k] != b[k] and not k.startswith(ignore))


def comparable(g: Group, h: Group, ignore: tuple[str, ...] = ()) -> bool:
    """Two groups may be paired only if every setting both pin down agrees (e.g. the same train.epochs)."""
    return not differing(g, h, ignore)
