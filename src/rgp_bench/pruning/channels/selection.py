"""Keep sets from channel scores: per-group fractions, and the order channels leave as a budget grows.

Ties are broken deterministically: equal scores keep the lower channel index, equal thresholds remove
from the earlier group (execution order) first. Every group keeps at least one channel; groups that are
not prunable keep all of theirs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor

from rgp_bench.core.errors import UserError
from rgp_bench.pruning.channels.groups import ChannelGroup
from rgp_bench.pruning.channels.keep import KeepSets, keep_all

Ranking = Literal["uniform", "global"]
RANKINGS: tuple[str, ...] = ("uniform", "global")


def kept_count(fraction: float, channels: int) -> int:
    """Channels a group of `channels` keeps at keep fraction `fraction`: round half up, at least one."""
    return min(channels, max(1, math.floor(fraction * channels + 0.5)))


def ranked(score: Tensor) -> Tensor:
    """Channel indices from best to worst (higher score first; ties: lower index first)."""
    return torch.sort(score, descending=True, stable=True).indices


def select_keep(groups: Iterable[ChannelGroup], scores: Mapping[str, Tensor],
                keep_fraction: float | Mapping[str, float]) -> KeepSets:
    """Keep the `kept_count(fraction, channels)` best-scored channels of each prunable group.

    `keep_fraction` is one fraction for all groups or one per group id (missing ids keep everything).
    """
    groups = list(groups)
    if isinstance(keep_fraction, Mapping):
        unknown = sorted(set(keep_fraction) - {g.id for g in groups})
        if unknown:
            raise ValueError(f"keep_fraction names unknown channel group {unknown[0]!r}")
    keep = {}
    for group in groups:
        fraction = keep_fraction.get(group.id, 1.0) if isinstance(keep_fraction, Mapping) else keep_fraction
        if not 0.0 <= fraction <= 1.0:
            raise UserError(f"keep fraction for channel group {group.id} must be in [0, 1], got {fraction!r}")
        if not group.prunable:
            keep[group.id] = torch.ones(group.channels, dtype=torch.bool)
            continue
        kept = torch.zeros(group.channels, dtype=torch.bool)
        kept[ranked(_score(scores, group))[: kept_count(fraction, group.channels)]] = True
        keep[group.id] = kept
    return keep


def removal_order(groups: Sequence[ChannelGroup], scores: Mapping[str, Tensor], ranking: Ranking = "uniform"
                  ) -> list[tuple[str, int]]:
    """(group id, channel) pairs in the order they are removed as the pruning budget grows.

    "uniform": the order in which channels drop out as one keep fraction f shared by all groups falls from
    1: the channel of rank r (0 = best) in a group of C channels is kept while kept_count(f, C) > r, i.e.
    while f >= (r + 0.5) / C, so removing a prefix of this order is select_keep at some f, with at most one
    channel fewer in groups that tie with the next one. "global": ascending score over all groups (a
    global threshold). Each group's best channel and non-prunable groups never appear.
    """
    if ranking not in RANKINGS:
        raise UserError(f"unknown channel ranking {ranking!r}; valid choices: {', '.join(RANKINGS)}")
    entries = []
    for index, group in enumerate(groups):
        if not group.prunable:
            continue
        score = _score(scores, group)
        values = score.tolist()
        for rank, channel in enumerate(ranked(score).tolist()):
            if rank == 0:
                continue
            key = (-(rank + 0.5) / group.channels, index, -rank) if ranking == "uniform" else (
                values[channel], index, -rank)
            entries.append((key, group.id, channel))
    entries.sort(key=lambda entry: entry[0])
    return [(group_id, channel) for _, group_id, channel in entries]


def policy_removal_order(groups: Sequence[ChannelGroup], scores: Mapping[str, Tensor], policy: Mapping[str, float],
                         lower: float = 0.0) -> list[tuple[str, int]]:
    """(group id, channel) pairs in the order they are removed as one common scale s of a per-group policy falls.

    Group g keeps the best kept_count(clip(s * policy[g], lower, 1), C) channels: the channel of rank r leaves
    when s drops below (r + 0.5) / (C * policy[g]), and never if (r + 0.5) / C <= lower, so every prefix of this
    order is a keep set whose per-group fractions keep the policy's proportions (to one channel) within
    [lower, 1]. Prunable groups missing from `policy` keep all their channels. "uniform" is the policy 1
    everywhere with lower 0. Ties as in removal_order.
    """
    if not 0.0 <= lower <= 1.0:
        raise UserError(f"policy lower bound must be in [0, 1], got {lower!r}")
    entries = []
    for index, group in enumerate(groups):
        if not group.prunable or group.id not in policy:
            continue
        share = float(policy[group.id])
        if not (math.isfinite(share) and share > 0.0):
            raise UserError(f"policy keep fraction for channel group {group.id} must be > 0, got {share!r}")
        for rank, channel in enumerate(ranked(_score(scores, group)).tolist()):
            threshold = (rank + 0.5) / group.channels
            if rank == 0 or threshold <= lower:
                continue
            entries.append(((-threshold / share, index, -rank), group.id, channel))
    entries.sort(key=lambda entry: entry[0])
    return [(group_id, channel) for _, group_id, channel in entries]


def keep_without(groups: Iterable[ChannelGroup], removed: Iterable[tuple[str, int]]) -> KeepSets:
    """Keep sets with exactly the given (group id, channel) pairs removed."""
    keep = keep_all(groups)
    for group_id, channel in removed:
        keep[group_id][channel] = False
    return keep


def _score(scores: Mapping[str, Tensor], group: ChannelGroup) -> Tensor:
    score = scores.get(group.id)
    if score is None or tuple(score.shape) != (group.channels,):
        raise ValueError(f"scores for channel group {group.id!r} must have shape ({group.channels},)")
    return score.detach().cpu()
