"""Apply and read weight masks via torch.nn.utils.prune (weight = weight_orig * weight_mask)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.nn.utils import prune

from rgp_bench.pruning.layers import PrunableLayer

GATE_BUFFER = "channel_gate"


def apply_masks(layers: Sequence[PrunableLayer], masks: Mapping[str, torch.Tensor]) -> None:
    """Attach a frozen mask to every prunable layer; masks combine with any mask already present."""
    for layer in layers:
        mask = masks[layer.name]
        if tuple(mask.shape) != layer.weight_shape:
            raise ValueError(f"mask for {layer.name} has shape {tuple(mask.shape)}, expected {layer.weight_shape}")
        prune.custom_from_mask(layer.module, "weight", mask.to(layer.module.weight.device, torch.float32))


def current_masks(layers: Sequence[PrunableLayer]) -> dict[str, torch.Tensor]:
    """The boolean mask in force for each layer (all-True when the layer is not pruned)."""
    out = {}
    for layer in layers:
        mask = getattr(layer.module, "weight_mask", None)
        out[layer.name] = (
            mask.detach().bool().cpu() if mask is not None
            else torch.ones(layer.weight_shape, dtype=torch.bool)
        )
    return out


def mask_sparsity(masks: Mapping[str, torch.Tensor]) -> float:
    """Fraction of masked-out weights over all given masks."""
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())
    return 1.0 - kept / total if total else 0.0


def apply_param_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Attach a frozen mask to any parameter named `"module.param"` (e.g. a BN's weight and bias)."""
    for path, mask in masks.items():
        module_name, _, param = path.rpartition(".")
        module = model.get_submodule(module_name)
        current = getattr(module, param)
        if tuple(mask.shape) != tuple(current.shape):
            raise ValueError(f"mask for {path} has shape {tuple(mask.shape)}, expected {tuple(current.shape)}")
        prune.custom_from_mask(module, param, mask.to(current.device, torch.float32))


class ChannelGate:
    """Forward pre-hook: multiply the module's input by its `channel_gate` buffer along dim 1.

    For parameter-free modules that parameter masks cannot reach (e.g. an option-A shortcut whose input
    channels were removed; see pruning/channels/masks.py).
    """

    def __call__(self, module: nn.Module, args: tuple) -> tuple:
        x = args[0]
        gate = getattr(module, GATE_BUFFER).to(x.device, x.dtype).view(1, -1, *([1] * (x.dim() - 2)))
        return (x * gate, *args[1:])


def apply_channel_gates(model: nn.Module, gates: Mapping[str, torch.Tensor]) -> None:
    """Install (or AND into an existing) channel gate on each named module."""
    for name, gate in gates.items():
        module = model.get_submodule(name)
        current = getattr(module, GATE_BUFFER, None)
        if current is None:
            module.register_buffer(GATE_BUFFER, gate.to(torch.float32))
            module.register_forward_pre_hook(ChannelGate())
        else:
            current.mul_(gate.to(current.device, current.dtype))


def remove_channel_gates(model: nn.Module) -> None:
    """Drop every channel gate (hook and buffer) from `model`."""
    for module in model.modules():
        for key, hook in list(module._forward_pre_hooks.items()):
            if isinstance(hook, ChannelGate):
                del module._forward_pre_hooks[key]
        module._buffers.pop(GATE_BUFFER, None)


def copy_model(model: nn.Module) -> nn.Module:
    """A deep copy of a (possibly pruned) model.

    After a forward pass with autograd on, a pruned module's `weight` is a computed tensor that deepcopy
    refuses; it is recomputed here without autograd first (same values).
    """
    with torch.no_grad():
        for module in model.modules():
            for hook in module._forward_pre_hooks.values():
                if isinstance(hook, prune.BasePruningMethod):
                    setattr(module, hook._tensor_name, hook.apply_mask(module))
    return copy.deepcopy(model)
