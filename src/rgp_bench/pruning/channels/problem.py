"""A channel-pruning problem: a model's coupled channel groups over the prunable layers, and their MAC counter."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from torch import Tensor, nn

from rgp_bench.pruning.channels.groups import ChannelGroup, find_channel_groups
from rgp_bench.pruning.channels.macs import ChannelMacs


@dataclass(frozen=True)
class ChannelProblem:
    """A model's channel groups and their exact MAC counter (dense MACs traced once)."""

    model: nn.Module
    groups: tuple[ChannelGroup, ...]
    macs: ChannelMacs

    @property
    def prunable(self) -> tuple[ChannelGroup, ...]:
        return tuple(g for g in self.groups if g.prunable)

    @classmethod
    def of(cls, model: nn.Module, example: Tensor, prunable_layers: Collection[str]) -> ChannelProblem:
        """The coupled channel groups of `model` over `prunable_layers`, traced with `example`."""
        groups = tuple(find_channel_groups(model, example, prunable_layers))
        return cls(model, groups, ChannelMacs.measure(model, example, groups))
