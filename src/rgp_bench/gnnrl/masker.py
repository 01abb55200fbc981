"""One private copy of the pretrained model, channel-masked in place for any kept count per group.

A search evaluates thousands of candidates. Each is a keep set of the filter-norm ranking (a group keeps
its best `count` channels), so a candidate is fully given by its kept count per group, and masking it
means: restore the tensors the previous candidate zeroed, then zero the removed channels' positions in
every tensor that holds them (producers' rows and biases, BN γ/β, depthwise filters, consumers' columns)
and in the input gates of option-A shortcuts. The index tables are built once; no model copy, state-dict
load or mask dictionary per candidate. The result is the model `channel_param_masks` + `channel_gates` give
for the same keep sets (tests/test_gnnrl.py checks it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rgp_bench.pruning import apply_channel_gates
from rgp_bench.pruning.channels import ChannelGroup, KeepSets
from rgp_bench.pruning.channels.selection import ranked
from rgp_bench.pruning.masks import GATE_BUFFER


@dataclass(frozen=True)
class _Slot:
    """Positions along `dim` of one tensor that hold a group's channels, with each position's channel rank."""

    tensor: Tensor
    dim: int
    positions: Tensor  # long
    ranks: Tensor  # long, the rank (0 = best) of the channel at each position


class InPlaceMasker:
    """Mask a private copy of `model` to per-group kept counts (best `scores` kept), in place."""

    def __init__(self, model: nn.Module, groups: Sequence[ChannelGroup], scores: Mapping[str, Tensor]) -> None:
        self.model = copy.deepcopy(model).eval()
        self.groups = tuple(groups)
        self._ranked = {g.id: ranked(scores[g.id]) for g in self.groups if g.prunable}
        gates = {m.module: torch.ones(len(m.positions), dtype=torch.bool)
                 for g in self.groups if g.prunable for m in g.with_role("shortcut_in")}
        apply_channel_gates(self.model, gates)  # all open; each candidate closes its removed channels
        self._slots: list[list[_Slot]] = []
        touched: dict[int, tuple[Tensor, Tensor]] = {}  # by storage: a conv's weight is in two groups
        for group in self.groups:
            slots = []
            if group.prunable:
                rank = torch.empty(group.channels, dtype=torch.long)
                rank[self._ranked[group.id]] = torch.arange(group.channels)
                for member in group.members:
                    module = self.model.get_submodule(member.module)
                    names = (GATE_BUFFER,) if member.role == "shortcut_in" else member.params
                    dim = 0 if member.role == "shortcut_in" else member.dim
                    ranks = rank[torch.tensor(member.channels, dtype=torch.long)]
                    positions = torch.tensor(member.positions, dtype=torch.long)
                    for name in names:
                        tensor = getattr(module, name).data
                        device = tensor.device
                        slots.append(_Slot(tensor, dim, positions.to(device), ranks.to(device)))
                        touched.setdefault(tensor.data_ptr(), (tensor, tensor.clone()))
            self._slots.append(slots)
        self._originals = list(touched.values())

    def keep(self, counts: Sequence[int]) -> KeepSets:
        """The keep sets of these kept counts (groups in the masker's order): each group's best channels."""
        keep = {}
        for group, count in zip(self.groups, counts, strict=True):
            kept = torch.ones(group.channels, dtype=torch.bool)
            if group.prunable:
                kept[self._ranked[group.id][int(count):]] = False
            keep[group.id] = kept
        return keep

    @torch.no_grad()
    def apply(self, counts: Sequence[int]) -> nn.Module:
        """The model with each group down to its best `counts[i]` channels (the others zeroed everywhere)."""
        for tensor, original in self._originals:
            tensor.copy_(original)
        for slots, group, count in zip(self._slots, self.groups, counts, strict=True):
            if int(count) >= group.channels:
                continue
            for slot in slots:
                slot.tensor.index_fill_(slot.dim, slot.positions[slot.ranks >= int(count)], 0)
        return self.model

    @torch.no_grad()
    def reset(self) -> None:
        """Back to the dense pretrained tensors (all gates open)."""
        for tensor, original in self._originals:
            tensor.copy_(original)
