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
import torch.nn.functional as F
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

    @property
    def action_index(self) -> Tensor:
        """The action of every group (in `group_ids` order), -1 for a group no action sets."""
        return self._action

    def group_counts(self, preserve: Tensor) -> Tensor:
        """Kept channels per group (in `group_ids` order) at the preserve ratio of each group's action."""
        fraction = preserve.detach().cpu().to(torch.float64)[self._action.clamp_min(0)]
        kept = torch.floor(fraction * self.channels + 0.5).long().clamp(min=1).minimum(self.channels)
        return torch.where(self._action >= 0, kept, self.channels)

    def layer_widths(self, counts: Tensor) -> Tensor:
        """Kept (output, input) positions of every layer's weight, [..., L, 2] in `layer_names` order, for group
        counts [..., G] (one count vector or a batch of them)."""
        kept = counts[..., self._group.clamp_min(0)] * self._repeat
        return torch.where(self._group >= 0, kept, self._dense)

    def layer_macs(self, widths: Tensor) -> Tensor:
        """MACs of every layer at these widths (exactly ChannelMacs' count), [..., L]."""
        return self._dense_macs * widths[..., 0] * widths[..., 1] // (self._dense[:, 0] * self._dense[:, 1])

    def total_macs(self, counts: Tensor) -> Tensor:
        """The model's effective MACs at group counts [..., G], as a long tensor [...]."""
        return self.fixed_macs + self.layer_macs(self.layer_widths(counts)).sum(-1)

    def macs(self, counts: Tensor) -> int:
        """The model's effective MACs at these group counts."""
        return int(self.total_macs(counts))

    def reduction(self, counts: Tensor) -> float:
        """Fraction of the dense MACs these group counts remove."""
        return 1.0 - self.macs(counts) / self.total


class PolicyRescale:
    """The exact-budget rescale of a policy as kept channels per group: what keep_for_policy keeps, without
    building a keep set or a removal order of (group, channel) pairs.

    keep_for_policy removes channels in the order of one falling scale s of the per-group preserve ratios: rank
    r of a group of C channels (0 = best) leaves when s drops below (r + 1/2) / (C p), never when
    (r + 1/2) / C <= lower, ties to the earlier group, then the higher rank; it removes the shortest prefix of
    that order that meets the MAC target. Within a group the worst rank always leaves first, so a prefix is
    fully described by how many channels each group lost: that count is all this class computes, with a
    stable sort of the thresholds and a search over exact MAC counts (PolicyCounts) of the prefixes, in two
    vectorised passes (MACs only fall as channels leave: 64 evenly spaced prefixes bracket the answer, then every
    prefix in the bracket).
    """

    BRACKETS = 64

    def __init__(self, counts: PolicyCounts, lower: float) -> None:
        self.counts = counts
        groups, thresholds = [], []
        for index, (channels, action) in enumerate(zip(counts.channels.tolist(), counts.action_index.tolist(),
                                                       strict=True)):
            if action < 0:
                continue
            ranks = torch.arange(channels - 1, 0, -1, dtype=torch.float64)  # worst rank first: the tie order
            threshold = (ranks + 0.5) / channels
            kept = threshold > lower
            groups.append(torch.full((int(kept.sum()),), index, dtype=torch.long))
            thresholds.append(threshold[kept])
        self._group = torch.cat(groups) if groups else torch.zeros(0, dtype=torch.long)
        self._threshold = torch.cat(thresholds) if thresholds else torch.zeros(0, dtype=torch.float64)
        self._entry_action = counts.action_index[self._group]
        group_count = counts.channels.numel()
        self.reachable = counts.reduction(counts.channels - torch.bincount(self._group, minlength=group_count))

    def __call__(self, preserve: Tensor, reduction: float) -> Tensor:
        """Kept channels per group of keep_for_policy(policy = these per-action preserve ratios, `reduction`)."""
        share = preserve.detach().cpu().to(torch.float64)[self._entry_action]
        order = self._group[torch.sort(-self._threshold / share, stable=True).indices]
        limit = self.counts.total * (1.0 - reduction)
        size, groups = order.numel(), self.counts.channels.numel()
        # Pass 1: channels removed per group at BRACKETS + 1 evenly spaced prefixes (the last: the whole order).
        marks = torch.linspace(0, size, self.BRACKETS + 1).round().long().unique()
        segment = torch.bucketize(torch.arange(size), marks, right=True)  # entry i counts at every mark > i
        removed = torch.zeros(marks.numel() + 1, groups, dtype=torch.long)
        removed.index_put_((segment, order), torch.ones(size, dtype=torch.long), accumulate=True)
        removed = removed.cumsum(0)[:-1]
        fits = self.counts.total_macs(self.counts.channels - removed) <= limit
        first = int(fits.long().argmax())  # the first mark within the limit (the reachable check: one is)
        # Pass 2: every prefix from the mark before it (over the limit) to it.
        start = int(marks[first - 1]) if first > 0 else 0
        steps = F.one_hot(order[start:int(marks[first])], groups).cumsum(0)
        base = removed[first - 1] if first > 0 else torch.zeros(groups, dtype=torch.long)
        kept = self.counts.channels - torch.cat([base[None], base + steps])
        fits = self.counts.total_macs(kept) <= limit
        return kept[int(fits.long().argmax())]
