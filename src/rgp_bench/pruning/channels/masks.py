"""Channel masks: zero removed channels everywhere they live, through torch.nn.utils.prune.

A removed channel is masked in its producers' weight rows and biases, BN gamma and beta, depthwise
filters and its consumers' input columns (the classifier's included), so a channel-masked model computes
what the physically pruned one does (see removal.py). BN gives 0 for a masked channel only because gamma
and beta are masked too.

A removed channel of a residual stream is not zero, though: its writers are masked, but the shortcut
still adds the block input, and at a padded position that is a (kept) channel of the previous stage's
stream. Within the stage this is harmless, since every reader's column is masked; but the next option-A
shortcut would copy the value into a position of the next stream that may be kept. Parameter masks cannot
stop that (the shortcut has no parameters), so each shortcut whose input group loses channels gets a
channel gate: a forward pre-hook that zeroes those input channels, exactly as the physically pruned
`IndexShortcut` reads zeros for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

from rgp_bench.pruning.channels.groups import ChannelGroup
from rgp_bench.pruning.channels.keep import removed_channels
from rgp_bench.pruning.masks import apply_channel_gates, apply_param_masks


def channel_param_masks(model: nn.Module, groups: Iterable[ChannelGroup], keep: Mapping[str, Tensor]
                        ) -> dict[str, Tensor]:
    """Bool masks keyed "module.param", shaped like the parameter, False where a removed channel lives.

    Only parameters that lose entries appear. A parameter touched by several groups (a conv reading one
    group and writing another) gets the AND of their masks.
    """
    groups = list(groups)
    removed = removed_channels(groups, keep)
    masks: dict[str, Tensor] = {}
    for group in groups:
        if group.id not in removed:
            continue
        for member in group.members:
            if not member.params:
                continue
            module = model.get_submodule(member.module)
            dropped = member.positions_of(removed[group.id])
            for param in member.params:
                key = f"{member.module}.{param}"
                mask = masks.setdefault(key, torch.ones(getattr(module, param).shape, dtype=torch.bool))
                mask.index_fill_(member.dim, dropped, False)
    return masks


def channel_gates(groups: Iterable[ChannelGroup], keep: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Bool input-channel gates keyed by shortcut module name, for shortcuts whose input group loses channels."""
    groups = list(groups)
    removed = removed_channels(groups, keep)
    gates = {}
    for group in groups:
        if group.id not in removed:
            continue
        for member in group.with_role("shortcut_in"):
            gate = torch.ones(len(member.positions), dtype=torch.bool)
            gate[member.positions_of(removed[group.id])] = False
            gates[member.module] = gate
    return gates


def apply_channel_masks(model: nn.Module, groups: Iterable[ChannelGroup], keep: Mapping[str, Tensor]
                        ) -> dict[str, Tensor]:
    """Mask the removed channels of `keep` in `model` (parameter masks plus shortcut gates); returns the masks."""
    groups = list(groups)
    masks = channel_param_masks(model, groups, keep)
    apply_param_masks(model, masks)
    apply_channel_gates(model, channel_gates(groups, keep))
    return masks
