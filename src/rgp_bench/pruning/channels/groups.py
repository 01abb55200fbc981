"""Coupled channel groups of a model, read off Torch-Pruning's dependency graph.

A channel group is a set of channels that must be removed together: the output channels of every layer
that writes them (coupled by residual adds, concatenations, depthwise convs or BN), together with every
place they are read. No per-architecture rules: the graph comes from tracing the model once.

Conventions:
- Writers ("producers") are the conv/linear layers whose output rows hold the channels. A group is
  prunable only if it has producers and all of them are in the prunable layer set (channel methods' set,
  pruning/layers.py, includes the stem and leaves out a model's fixed-width layers). Readers never restrict a
  group: the classifier's input columns are pruned with the group that feeds it.
- Depthwise convs (groups == in == out channels) and BN do not mix channels; they are per-channel members
  pruned with the group that passes through them, never producers.
- Option-A shortcuts (`PadShortcut`) are index maps (see `shortcut.py`): their input belongs to one stage's
  residual stream and their output to the next stage's, so streams of different stages are independent
  groups; the shortcut is a member of both.
- The network's output (the classifier's out features) is not a group: removing it would change the
  model's interface.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch_pruning as tp
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch_pruning.dependency import Group

from rgp_bench.core.errors import UserError
from rgp_bench.core.layer_types import WEIGHT_LAYERS
from rgp_bench.pruning.channels.shortcut import SHORTCUT_TYPES, ShortcutPruner, pad_shortcut_channels
from rgp_bench.pruning.layers import execution_order

MemberRole = Literal["producer", "consumer", "depthwise", "norm", "shortcut_in", "shortcut_out"]
GroupKind = Literal["block", "residual", "concat"]

# Roles on the output side of a module (they index its output channels); the rest index its input.
OUTPUT_ROLES: frozenset[str] = frozenset({"producer", "depthwise", "norm", "shortcut_out"})
_ROLE_ORDER = ("producer", "depthwise", "norm", "shortcut_out", "shortcut_in", "consumer")


@dataclass(frozen=True)
class GroupMember:
    """One place a group's channels live: positions along dimension `dim` of a module's tensors.

    `params` are the module's parameters indexed that way (e.g. ("weight", "bias") on dim 0 for a producer,
    ("weight",) on dim 1 for a consumer, nothing for a shortcut, whose `dim` 1 is that of its activation).
    `positions[i]` holds group channel `channels[i]`; a channel can hold several positions (a Linear after
    a flatten reads each channel at several columns).
    """

    module: str
    role: MemberRole
    params: tuple[str, ...]
    dim: int
    positions: tuple[int, ...] = field(repr=False)
    channels: tuple[int, ...] = field(repr=False)

    def positions_of(self, channels: Tensor) -> Tensor:
        """Positions (along `dim`) holding the channels flagged True in the bool tensor `channels`."""
        flagged = channels[torch.tensor(self.channels, dtype=torch.long)]
        return torch.tensor(self.positions, dtype=torch.long)[flagged]


@dataclass(frozen=True)
class Producer:
    """A conv/linear layer whose output rows hold the group's channels."""

    name: str
    prunable: bool


@dataclass(frozen=True)
class ChannelGroup:
    """Channels that are removed together; channel i is output row i of the first producer (execution order).

    `id` is that first producer's module name. `kind` is "concat" when a concatenation is involved,
    "residual" when several layers write the channels (residual adds; the option-A shortcut counts as a
    writer here), else "block".
    """

    id: str
    channels: int
    kind: GroupKind
    prunable: bool
    producers: tuple[Producer, ...]
    members: tuple[GroupMember, ...] = field(repr=False)

    def with_role(self, *roles: MemberRole) -> tuple[GroupMember, ...]:
        """The members with one of the given roles, in model order."""
        return tuple(m for m in self.members if m.role in roles)


def find_channel_groups(model: nn.Module, example: Tensor, prunable_layer_names: Collection[str]) -> list[ChannelGroup]:
    """The coupled channel groups of `model` (traced once with `example`), in execution order.

    `prunable_layer_names` is the prunable layer set (e.g. from find_prunable_layers); it decides which
    groups are prunable. Raises UserError for a module type the channel pruner does not handle.
    """
    modules = dict(model.named_modules())
    unknown = sorted(set(prunable_layer_names) - set(modules))
    if unknown:
        raise ValueError(f"prunable layer {unknown[0]!r} is not a module of the model")
    names = {module: name for name, module in modules.items()}
    model_order = {name: i for i, name in enumerate(modules)}
    run_order = {name: i for i, name in enumerate(execution_order(model, example))}
    pruner = ShortcutPruner(pad_shortcut_channels(model, example))
    graph = _dependency_graph(model, example, pruner)
    groups = []
    for tp_group in graph.get_all_groups(root_module_types=WEIGHT_LAYERS):
        group = _channel_group(tp_group, names, set(prunable_layer_names), model_order, run_order)
        if group is not None:
            groups.append(group)
    groups.sort(key=lambda g: (run_order.get(g.id, len(run_order)), model_order[g.id]))
    _check_disjoint(groups)
    return groups


def _dependency_graph(model: nn.Module, example: Tensor, pruner: ShortcutPruner) -> tp.DependencyGraph:
    was_training = model.training
    # Torch-Pruning traces through autograd, so a frozen model (requires_grad False) would show no groups at all.
    frozen = [p for p in model.parameters() if not p.requires_grad]
    try:
        for param in frozen:
            param.requires_grad_(True)
        with torch.enable_grad():
            return tp.DependencyGraph().build_dependency(
                model, example_inputs=example, customized_pruners=dict.fromkeys(SHORTCUT_TYPES, pruner),
                verbose=False,
            )
    finally:
        for param in frozen:
            param.requires_grad_(False)
        model.train(was_training)  # build_dependency leaves the model in eval mode


# (module, role) -> params, dim, roots
_Found = dict[tuple[str, MemberRole], tuple[tuple[str, ...], int, dict[int, int]]]


def _channel_group(tp_group: Group, names: dict[nn.Module, str], prunable: set[str], model_order: dict[str, int],
                   run_order: dict[str, int]) -> ChannelGroup | None:
    """Translate one Torch-Pruning group; None for the network's output channels."""
    collected = _collect(tp_group, names)
    if collected is None:
        return None
    found, has_concat = collected
    producers = sorted((name for name, role in found if role == "producer"), key=run_order.__getitem__)
    if producers:
        # Number the channels as the first producer's output rows, whichever layer Torch-Pruning rooted at.
        renumber = {root: position for position, root in found[(producers[0], "producer")][2].items()}
        group_id = producers[0]
    else:
        renumber = {root: root for _, _, roots in found.values() for root in roots.values()}
        group_id = min((name for name, _ in found), key=model_order.__getitem__)
    members = tuple(
        GroupMember(name, role, params, dim, tuple(sorted(roots)), tuple(renumber[roots[p]] for p in sorted(roots)))
        for (name, role), (params, dim, roots) in sorted(
            found.items(), key=lambda kv: (model_order[kv[0][0]], _ROLE_ORDER.index(kv[0][1])))
    )
    writers = len(producers) + sum(m.role == "shortcut_out" for m in members)
    kind: GroupKind = "concat" if has_concat else "residual" if writers > 1 else "block"
    producer_info = tuple(Producer(name, name in prunable) for name in producers)
    return ChannelGroup(
        id=group_id, channels=len(renumber), kind=kind,
        prunable=bool(producer_info) and all(p.prunable for p in producer_info),
        producers=producer_info, members=members,
    )


def _collect(tp_group: Group, names: dict[nn.Module, str]) -> tuple[_Found, bool] | None:
    """Members of a Torch-Pruning group as {(module, role): (params, dim, {position: root channel})}, and
    whether a concatenation is involved; None if the channels reach the network output."""
    found: _Found = {}
    has_concat = False
    for item in tp_group.items:
        node, handler = item.dep.target, item.dep.handler
        module = node.module
        out_side = handler.__name__ == "prune_out_channels"
        if isinstance(module, tp.ops._OutputOp) or (out_side and not node.outputs):
            return None
        has_concat |= isinstance(module, tp.ops._ConcatOp)
        role = _role(module, out_side, names.get(module))
        if role is None:
            continue
        params, dim = _params(module, role)
        _, _, roots = found.setdefault((names[module], role), (params, dim, {}))
        roots.update(zip(item.idxs, item.root_idxs, strict=True))
    return found, has_concat


def _role(module: object, out_side: bool, name: str | None) -> MemberRole | None:
    """How `module` holds a group's channels; None for Torch-Pruning's parameter-free placeholder ops."""
    if isinstance(module, SHORTCUT_TYPES):
        return "shortcut_out" if out_side else "shortcut_in"
    if isinstance(module, nn.Conv2d) and module.groups > 1:
        if module.groups == module.in_channels == module.out_channels:
            return "depthwise"
        raise UserError(f"channel groups: grouped conv {name} (groups={module.groups}, {module.in_channels} -> "
                        f"{module.out_channels} channels) is not supported; only depthwise convs are")
    if isinstance(module, WEIGHT_LAYERS):
        return "producer" if out_side else "consumer"
    if isinstance(module, _BatchNorm):
        return "norm"
    if isinstance(module, nn.Module) and type(module).__module__ == tp.ops.__name__:
        return None
    raise UserError(f"channel groups: {name or 'an unnamed parameter'} ({type(module).__name__}) is not supported; "
                    "supported: Conv2d, Linear, depthwise Conv2d, BatchNorm, option-A shortcuts")


def _params(module: nn.Module, role: MemberRole) -> tuple[tuple[str, ...], int]:
    """The parameters a member's channels index, and along which dimension."""
    if role in ("shortcut_in", "shortcut_out"):
        return (), 1
    if role == "consumer":
        return ("weight",), 1
    present = tuple(p for p in ("weight", "bias") if getattr(module, p, None) is not None)
    return present, 0


def _check_disjoint(groups: Iterable[ChannelGroup]) -> None:
    """Each side of a module belongs to at most one group (depthwise convs and BN: both sides, one group)."""
    owner: dict[tuple[str, str], str] = {}
    for group in groups:
        for member in group.members:
            sides = ("out", "in") if member.role in ("depthwise", "norm") else (
                ("out",) if member.role in OUTPUT_ROLES else ("in",))
            for side in sides:
                previous = owner.setdefault((member.module, side), group.id)
                if previous != group.id:
                    raise RuntimeError(f"{member.module} ({side}) is in channel groups {previous} and {group.id}")
