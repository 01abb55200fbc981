"""Channel counts of a policy without building keep sets: what every GNN-RL step needs, as tensor arithmetic.

A group at keep fraction f keeps kept_count(f, C) = floor(f C + 1/2) channels, at least one (as
select_keep does). A layer's kept positions along a weight dimension are its group's kept channels times the
positions each channel has there (1, or H·W for a linear layer after a flatten), and its MACs are its dense
MACs times the kept fractions of both dimensions, in exact integer arithmetic. So every count here equals
ChannelMacs on select_keep's keep sets, at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rgp_bench.pruning.channels import ChannelGroup, ChannelMacs


class PolicyCounts:
    """Kept channels per group, kept positions and MACs per layer, for per-action preserve ratios."""

    def __init__(self, groups: Sequence[ChannelGroup], macs: ChannelMacs,
                 action_groups: Sequence[Sequence[str]]) -> None:
        self.group_ids = tuple(g.id for g in groups)
        index = {gid: i for i, gid in enumerate(self.group_ids)}
        self.channels = torch.tensor([g.channels for g in groups], dtype=torch.long)
        self._action = torch.full((len(groups),), -1, dtype=torch.long)
        for action, gids in enumerate(action_groups):
            for gid in gids:
                self._action[index[gid]] = action
        dims: dict[tuple[str, int], tuple[int, int]] = {}
        for group in groups:
            for member in group.with_role("producer", "consumer", "depthwise"):
                per_channel = torch.bincount(torch.tensor(member.channels), minlength=group.channels)
                if not bool((per_channel == per_channel[0]).all()):
                    raise ValueError(f"{member.module}: channels of group {group.id} repeat unevenly")
                dims[(member.module, member.dim)] = (index[group.id], int(per_channel[0]))
        dense = macs.dense_widths()
        self.layer_names = tuple(dense)
        self._dense = torch.tensor([dense[name] for name in self.layer_names], dtype=torch.long)  # [L, 2]
        found = [[dims.get((name, d), (-1, 1)) for d in (0, 1)] for name in self.layer_names]
        self._group = torch.tensor([[g for g, _ in row] for row in found], dtype=torch.long)
        self._repeat = torch.tensor([[r for _, r in row] for row in found], dtype=torch.long)
        layer_macs = macs.dense_layer_macs()
        self._dense_macs = torch.tensor([layer_macs[name] for name in self.layer_names], dtype=torch.long)
        self.total = macs.total
        self.fixed_macs = macs.total - int(self._dense_macs.sum())  # MACs outside conv/linear layers

    def group_counts(self, preserve: Tensor) -> Tensor:
        """Kept channels per group (in `group_ids` order) at the preserve ratio of each group's action."""
        fraction = preserve.detach().cpu().to(torch.float64)[self._action.clamp_min(0)]
        kept = torch.floor(fraction * self.channels + 0.5).long().clamp(min=1).minimum(self.channels)
        return torch.where(self._action >= 0, kept, self.channels)

    def layer_widths(self, counts: Tensor) -> Tensor:
        """Kept (output, input) positions of every layer's weight, [L, 2] in `layer_names` order."""
        kept = counts[self._group.clamp_min(0)] * self._repeat
        return torch.where(self._group >= 0, kept, self._dense)

    def layer_macs(self, widths: Tensor) -> Tensor:
        """MACs of every layer at these widths (exactly ChannelMacs' count)."""
        return self._dense_macs * widths[:, 0] * widths[:, 1] // (self._dense[:, 0] * self._dense[:, 1])

    def macs(self, counts: Tensor) -> int:
        """The model's effective MACs at these group counts."""
        return self.fixed_macs + int(self.layer_macs(self.layer_widths(counts)).sum())

    def reduction(self, counts: Tensor) -> float:
        """Fraction of the dense MACs these group counts remove."""
        return 1.0 - self.macs(counts) / self.total
