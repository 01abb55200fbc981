"""Which group a table may call best: only one that beats every other group of its cell by a paired test after a
Holm correction over the table's comparisons; otherwise the groups that cannot be told apart are a tied group.

A cell is one (dataset, model, ratio, budget basis, regime, total epochs): groups compared at the same budget,
trained the same way for as long. The highest mean of a cell is tested (paired by seed, scipy.stats.ttest_rel)
against every other group of the cell; all these tests of the table form one family, Holm-adjusted (ALPHA). The
highest mean is `best` when every one of its tests is significant (it beats the runner-up); otherwise it and the
groups it does not significantly beat are `tied`. A test that cannot be made (fewer than 2 pairs, a constant
difference) is not significant. The dense reference and groups that missed their ratio (`off_target`) take no part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rgp_bench.report import stats
from rgp_bench.report.columns import metric_column
from rgp_bench.report.compare import paired
from rgp_bench.report.groups import Group

ALPHA = 0.05
CORRECTION_TEXT = (f"Holm-corrected over the table's comparisons, α = {ALPHA:g}")


def cell_key(g: Group) -> tuple[Any, ...]:
    """The cell a group is compared in: same dataset, model, ratio, budget basis, regime and total epochs."""
    return g.dataset, g.model, g.ratio, g.budget, g.regime, g.epochs


def mark_best(groups: Sequence[Group], metric: str) -> int:
    """Set each group's `best`, `tied` and `best_p` (the Holm-adjusted p of the highest mean against the
    runner-up); returns the number of tests in the family."""
    column = metric_column(metric)
    cells: dict[tuple[Any, ...], list[Group]] = defaultdict(list)
    for g in groups:
        g.best, g.tied, g.best_p = False, False, None
        if g.acc.mean is not None and not g.off_target and not g.is_dense:
            cells[cell_key(g)].append(g)
    tests: list[tuple[Group, Group, float | None, float | None]] = []  # (top, other, mean diff, p)
    for members in cells.values():
        if len(members) < 2:
            continue
        ranked = sorted(members, key=lambda g: -(g.acc.mean or 0.0))
        top = ranked[0]
        for other in ranked[1:]:
            p = paired(top, other, column)
            tests.append((top, other, p.mean_diff, p.p_value))
    adjusted = stats.holm([p for *_, p in tests])
    beaten: dict[int, list[bool]] = defaultdict(list)
    for (top, other, diff, _), p_holm in zip(tests, adjusted, strict=True):
        wins = p_holm is not None and p_holm < ALPHA and diff is not None and diff > 0
        beaten[id(top)].append(wins)
        if not wins:
            top.tied = other.tied = True
        runner_up = max((o for t, o, *_ in tests if t is top), key=lambda o: o.acc.mean or 0.0)
        if other is runner_up:
            top.best_p = p_holm
    for top in {id(t): t for t, *_ in tests}.values():
        top.best = all(beaten[id(top)])
    return len(tests)
