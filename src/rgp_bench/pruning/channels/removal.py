"""Physical channel removal with Torch-Pruning's per-layer pruning functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch_pruning as tp
from torch import Tensor, nn
from torch.nn.utils import prune
from torch_pruning.pruner.function import BasePruningFunc

from rgp_bench.models.resnet_cifar import PadShortcut
from rgp_bench.pruning.channels.groups import OUTPUT_ROLES, ChannelGroup, find_channel_groups
from rgp_bench.pruning.channels.keep import keep_from_masks, removed_channels
from rgp_bench.pruning.channels.shortcut import IndexShortcut, ShortcutPruner
from rgp_bench.pruning.masks import copy_model, remove_channel_gates

_SHORTCUT_PRUNER = ShortcutPruner()


def remove_channels(model: nn.Module, groups: Iterable[ChannelGroup], keep: Mapping[str, Tensor]) -> nn.Module:
    """A physically smaller copy of `model` without the removed channels of `keep`.

    `groups` must come from `model`'s architecture (find_channel_groups). Masks already on the model are
    made permanent in the copy first, so a channel-masked model can be passed as is; in eval mode the copy
    computes what the masked model does. Every PadShortcut becomes an equivalent IndexShortcut.
    """
    groups = list(groups)
    removed = removed_channels(groups, keep)
    pruned = copy_model(model)
    _make_masks_permanent(pruned)
    _index_shortcuts(pruned, groups)
    for group in groups:
        if group.id not in removed:
            continue
        for member in group.members:
            module = pruned.get_submodule(member.module)
            positions = member.positions_of(removed[group.id]).tolist()
            _pruner(module)(module, positions, to_output=member.role in OUTPUT_ROLES)
    return pruned


def _pruner(module: nn.Module) -> BasePruningFunc:
    if isinstance(module, IndexShortcut):
        return _SHORTCUT_PRUNER
    return tp.pruner.function.PrunerBox[tp.ops.module2type(module)]


def _make_masks_permanent(model: nn.Module) -> None:
    remove_channel_gates(model)
    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)


def _index_shortcuts(model: nn.Module, groups: list[ChannelGroup]) -> None:
    """Replace each PadShortcut by the IndexShortcut that can represent pruned index maps."""
    in_channels = {m.module: len(m.positions) for g in groups for m in g.with_role("shortcut_in")}
    for name, module in list(model.named_modules()):
        if isinstance(module, PadShortcut):
            parent_name, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent_name), attr, IndexShortcut.from_pad(module, in_channels[name]))


def materialise_channels(model: nn.Module, example: Tensor, prunable: Sequence[str]) -> nn.Module:
    """The channel-masked model with its removed channels physically removed (eval mode)."""
    groups = find_channel_groups(model, example, list(prunable))
    return remove_channels(model, groups, keep_from_masks(model, groups)).eval()
