"""Keep sets that remove a requested fraction of the model's MACs.

Both rankings walk a fixed removal order (selection.removal_order): "uniform" lowers one keep fraction
shared by all groups, "global" raises one score threshold over all groups; a policy (keep_for_policy)
lowers one common scale of per-group keep fractions (selection.policy_removal_order), which is how a
searched policy is rescaled to hit a budget exactly. Bisection finds the shortest prefix of the order whose
removal reaches the target; because the order resolves ties one channel at a time, the result overshoots
the target by less than the MACs of the last channel removed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from rgp_bench.core.errors import UserError
from rgp_bench.pruning.channels.keep import KeepSets
from rgp_bench.pruning.channels.macs import ChannelMacs
from rgp_bench.pruning.channels.selection import Ranking, policy_removal_order, removal_order


@dataclass(frozen=True)
class MacBudget:
    """Keep sets meeting a MAC-reduction target, and what they achieve (exact, from ChannelMacs)."""

    keep: KeepSets
    target: float
    reduction: float
    macs: int
    removed_channels: int


def keep_for_mac_reduction(macs: ChannelMacs, scores: Mapping[str, Tensor], reduction: float,
                           ranking: Ranking = "uniform") -> MacBudget:
    """The fewest channels, taken in `ranking`'s removal order, that remove at least `reduction` of the MACs.

    `reduction` is a fraction of the dense model's total MACs. Raises UserError when it is outside what the
    prunable groups can reach (every prunable group down to one channel).
    """
    order = removal_order(macs.groups, scores, ranking)
    return _shortest_prefix(macs, order, reduction, "the prunable channel groups reach")


def keep_for_policy(macs: ChannelMacs, scores: Mapping[str, Tensor], policy: Mapping[str, float], reduction: float,
                    lower: float = 0.0) -> MacBudget:
    """Per-group keep fractions clip(s * policy[group], lower, 1), with the one scale s that removes `reduction`.

    Exact to within one channel, like keep_for_mac_reduction: s is raised when the policy removes more than
    asked and lowered when it removes less, so the policy's proportions are kept. Raises UserError when
    `reduction` is beyond what every policy group at `lower` reaches.
    """
    order = policy_removal_order(macs.groups, scores, policy, lower)
    return _shortest_prefix(macs, order, reduction, f"keep fractions in [{lower:g}, 1] reach")


def reachable_reduction(macs: ChannelMacs, scores: Mapping[str, Tensor], policy: Mapping[str, float],
                        lower: float = 0.0) -> float:
    """The largest MAC reduction keep_for_policy can reach: every policy group at keep fraction `lower`."""
    order = policy_removal_order(macs.groups, scores, policy, lower)
    return 1.0 - _Prefixes(macs, order).macs(len(order)) / macs.total


def _shortest_prefix(macs: ChannelMacs, order: list[tuple[str, int]], reduction: float, reach: str) -> MacBudget:
    """The shortest prefix of `order` whose removal takes away at least `reduction` of the MACs (bisection)."""
    prefix = _Prefixes(macs, order)
    reachable = 1.0 - prefix.macs(len(order)) / macs.total
    if not (isinstance(reduction, int | float) and math.isfinite(reduction) and 0.0 <= reduction <= reachable):
        raise UserError(f"MAC reduction {reduction!r} is not reachable by channel pruning of this model; "
                        f"{reach} reductions from 0 to {reachable:.6f}")
    limit = macs.total * (1.0 - reduction)  # remaining MACs allowed
    lo, hi = 0, len(order)  # invariant: prefix hi meets the target; every prefix shorter than lo does not
    while lo < hi:
        mid = (lo + hi) // 2
        if prefix.macs(mid) <= limit:
            hi = mid
        else:
            lo = mid + 1
    remaining = prefix.macs(hi)
    return MacBudget(prefix.keep(hi), reduction, 1.0 - remaining / macs.total, remaining, hi)


class _Prefixes:
    """Keep sets and MACs after removing the first k channels of an order (flat tensors, no per-pair loop)."""

    def __init__(self, macs: ChannelMacs, order: list[tuple[str, int]]) -> None:
        self._macs = macs
        self._groups = macs.groups
        offsets, start = {}, 0
        for group in self._groups:
            offsets[group.id] = start
            start += group.channels
        self._sizes = [g.channels for g in self._groups]
        self._total = start
        self._flat = torch.tensor([offsets[gid] + channel for gid, channel in order], dtype=torch.long)

    def keep(self, k: int) -> KeepSets:
        flat = torch.ones(self._total, dtype=torch.bool)
        flat[self._flat[:k]] = False
        return {g.id: kept.clone() for g, kept in zip(self._groups, flat.split(self._sizes), strict=True)}

    def macs(self, k: int) -> int:
        return self._macs.macs(self.keep(k))
