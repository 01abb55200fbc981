"""Keep sets: for each channel group id, a bool tensor over its channels (True = kept)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

from rgp_bench.pruning.channels.groups import ChannelGroup

KeepSets = dict[str, Tensor]


def keep_all(groups: Iterable[ChannelGroup]) -> KeepSets:
    """Every channel of every group kept."""
    return {g.id: torch.ones(g.channels, dtype=torch.bool) for g in groups}


def removed_channels(groups: Iterable[ChannelGroup], keep: Mapping[str, Tensor]) -> KeepSets:
    """Check `keep` against `groups` and return, for each group that loses channels, its removed-channel mask.

    Groups missing from `keep` keep everything. Raises ValueError for an unknown group id, a wrong shape or
    dtype, a group left without channels, or channels removed from a group that is not prunable.
    """
    groups = list(groups)
    unknown = sorted(set(keep) - {g.id for g in groups})
    if unknown:
        raise ValueError(f"keep names unknown channel group {unknown[0]!r}")
    removed = {}
    for group in groups:
        kept = keep.get(group.id)
        if kept is None:
            continue
        if kept.dtype != torch.bool or tuple(kept.shape) != (group.channels,):
            raise ValueError(f"keep[{group.id!r}] must be a bool tensor of shape ({group.channels},), "
                             f"got {kept.dtype} {tuple(kept.shape)}")
        if not bool(kept.any()):
            raise ValueError(f"keep[{group.id!r}] removes every channel; keep at least one")
        if bool(kept.all()):
            continue
        if not group.prunable:
            writers = ", ".join(p.name for p in group.producers if not p.prunable)
            raise ValueError(f"channel group {group.id!r} is not prunable (written by non-prunable {writers})")
        removed[group.id] = ~kept.detach().cpu()
    return removed


def keep_from_masks(model: nn.Module, groups: Iterable[ChannelGroup]) -> KeepSets:
    """The keep sets of a channel-masked model, read off each group's first producer's weight mask rows."""
    keep: KeepSets = {}
    for group in groups:
        producer = group.with_role("producer")[0] if group.with_role("producer") else None
        mask = None if producer is None else getattr(model.get_submodule(producer.module), "weight_mask", None)
        if producer is None or mask is None or not group.prunable:
            continue
        rows = mask.flatten(1).any(dim=1).cpu()
        kept = torch.zeros(group.channels, dtype=torch.bool)
        kept[torch.tensor(producer.channels)] = rows[torch.tensor(producer.positions)]
        keep[group.id] = kept
    return keep
