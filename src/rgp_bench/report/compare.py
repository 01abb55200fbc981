"""Paired comparisons over seeds: each method against the reference methods, and sanity-checked runs against the
same method without the check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from rgp_bench.report import stats
from rgp_bench.report.columns import Column, metric_column
from rgp_bench.report.dense import DENSE
from rgp_bench.report.groups import Group, comparable


@dataclass(frozen=True)
class Paired:
    """A paired t-test of `a - b` over the seeds both sides have (rgp_bench.report.stats.paired_test)."""

    seeds: list[int]
    # Means of each side over those seeds.
    a_mean: float | None
    b_mean: float | None
    n_pairs: int
    mean_diff: float | None
    std_diff: float | None
    t: float | None
    p_value: float | None


def paired(a: Group, b: Group, column: Column) -> Paired:
    """Group `a` minus group `b` in `column`, over the seeds both have, with a paired t-test."""
    x, y = a.per_seed(column), b.per_seed(column)
    seeds = sorted(set(x) & set(y))
    res = stats.paired_test([x[s] for s in seeds], [y[s] for s in seeds])
    return Paired(seeds, stats.mean_std([x[s] for s in seeds])[0], stats.mean_std([y[s] for s in seeds])[0], **res)


@dataclass(frozen=True)
class Comparison:
    """A group minus a reference group at the same (dataset, model, ratio, budget), paired by seed."""

    dataset: str
    model: str
    ratio: float | None
    budget: str
    # Labels (method and variant) of the two sides, and their regimes.
    method: str
    regime: str | None
    reference: str
    reference_regime: str | None
    off_target: bool
    metric: str
    seeds: list[int]
    method_mean: float | None
    reference_mean: float | None
    n_pairs: int
    mean_diff: float | None
    std_diff: float | None
    t: float | None
    p_value: float | None
    # p after Holm's correction over every comparison of the report (stats.holm).
    p_holm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(groups: Sequence[Group], metric: str, references: Sequence[str]) -> list[Comparison]:
    """Each group against every `references` group at the same (dataset, model, ratio), paired by seed.

    Only groups whose shared settings agree are paired (an rgp variant at 30 epochs is never compared with
    magnitude at 100). Regimes may differ between the two sides (both are reported). Differences are
    method minus reference; `p_holm` is Holm-corrected over all of them.
    The reference `dense` is each group's own dense reference (report.dense.match_dense:
    same regime and total epochs, any ratio); a dense group is never compared as a method.
    """
    column = metric_column(metric)
    out = []
    for g in groups:
        if g.is_dense:
            continue
        for ref in references:
            if ref == DENSE:
                if g.dense is not None:
                    out.append(_comparison(g, g.dense, column, metric))
                continue
            for h in groups:
                if h is g or h.method != ref or not h.default_variant:
                    continue
                # random vs magnitude would only mirror magnitude vs random
                if g.method in references and references.index(g.method) > references.index(ref):
                    continue
                # the same ratio means the same budget only on the same basis (weights vs MACs)
                if (h.dataset, h.model, h.ratio, h.budget) != (g.dataset, g.model, g.ratio, g.budget):
                    continue
                if not comparable(g, h):
                    continue
                out.append(_comparison(g, h, column, metric))
    adjusted = stats.holm([c.p_value for c in out])
    return [replace(c, p_holm=p) for c, p in zip(out, adjusted, strict=True)]


def _comparison(g: Group, h: Group, column: Column, metric: str) -> Comparison:
    p = paired(g, h, column)
    return Comparison(dataset=g.dataset, model=g.model, ratio=g.ratio, budget=g.budget, method=g.label,
                      regime=g.regime, reference=h.label, reference_regime=h.regime,
                      off_target=g.off_target or h.off_target, metric=metric, seeds=p.seeds, method_mean=p.a_mean,
                      reference_mean=p.b_mean, n_pairs=p.n_pairs, mean_diff=p.mean_diff, std_diff=p.std_diff, t=p.t,
                      p_value=p.p_value)


@dataclass(frozen=True)
class SanityCheck:
    """A sanity-checked group against the same method, settings and ratio without the check."""

    group: Group
    # The same method without the check.
    plain: Group
    pairs: Paired
    # `shuffle` without an accuracy drop: the method learns only its layer densities.
    learns_only_densities: bool


def _without_sanity(variant: str) -> str:
    return ", ".join(part for part in variant.split(", ") if part and not part.startswith("sanity="))


def _cell(g: Group) -> tuple[Any, ...]:
    return (g.dataset, g.model, g.ratio, g.budget, g.method, g.regime, _without_sanity(g.variant))


def sanity_checks(groups: Sequence[Group], metric: str) -> list[SanityCheck]:
    """Each sanity-checked group (sanity != none) against the same method without the check, paired by seed.

    `learns_only_densities` is set for `shuffle` when accuracy does not drop: the paired mean difference
    (check - plain) is not below zero by more than its standard error (by anything, with one pair).
    """
    column = metric_column(metric)
    out = []
    for g in groups:
        if g.sanity == "none":
            continue
        for h in groups:
            if h.sanity != "none" or _cell(g) != _cell(h):
                continue
            p = paired(g, h, column)
            margin = (p.std_diff or 0.0) / max(len(p.seeds), 1) ** 0.5
            no_drop = p.mean_diff is not None and p.mean_diff + margin >= 0
            out.append(SanityCheck(g, h, p, g.sanity == "shuffle" and no_drop))
    return out
