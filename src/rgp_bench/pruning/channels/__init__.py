"""Channel (filter) pruning: coupled channel groups, channel masks, physical removal, MACs and selection.

Layers, low to high (as in Torch-Pruning): shortcut (the option-A shortcut as an index map and its
pruner), groups (the dependency graph's coupled channel groups), keep/masks/removal/macs (apply a keep
set: mask it, remove it, count it), scores (filter norms), selection/budget (policies: keep fractions,
removal orders, MAC targets).
"""

from rgp_bench.pruning.channels.budget import MacBudget, keep_for_mac_reduction, keep_for_policy, reachable_reduction
from rgp_bench.pruning.channels.groups import ChannelGroup, GroupMember, Producer, find_channel_groups
from rgp_bench.pruning.channels.keep import KeepSets, keep_all, keep_from_masks, removed_channels
from rgp_bench.pruning.channels.macs import ChannelMacs
from rgp_bench.pruning.channels.masks import apply_channel_masks, channel_gates, channel_param_masks
from rgp_bench.pruning.channels.removal import materialise_channels, remove_channels
from rgp_bench.pruning.channels.scores import filter_scores
from rgp_bench.pruning.channels.selection import (
    RANKINGS,
    keep_without,
    kept_count,
    policy_removal_order,
    removal_order,
    select_keep,
)
from rgp_bench.pruning.channels.shortcut import IndexShortcut, ShortcutPruner

__all__ = [
    "RANKINGS",
    "ChannelGroup",
    "ChannelMacs",
    "GroupMember",
    "IndexShortcut",
    "KeepSets",
    "MacBudget",
    "Producer",
    "ShortcutPruner",
    "apply_channel_masks",
    "channel_gates",
    "channel_param_masks",
    "filter_scores",
    "find_channel_groups",
    "keep_all",
    "keep_for_mac_reduction",
    "keep_for_policy",
    "keep_from_masks",
    "keep_without",
    "kept_count",
    "materialise_channels",
    "policy_removal_order",
    "reachable_reduction",
    "removal_order",
    "remove_channels",
    "removed_channels",
    "select_keep",
]
