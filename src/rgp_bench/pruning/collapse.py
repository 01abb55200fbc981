"""Layer collapse (Tanaka et al., NeurIPS 2020): do the masks still connect the input to the output?

An all-ones input goes through a copy of the model in which every prunable weight is its 0/1 mask, every other
conv/linear weight is all ones, biases are zero and BN is the identity (`rgp_bench.pruning.linearise`), in float64.
Every activation is then non-negative, so an output is non-zero exactly when some input-output path survives.
Each conv/linear output is clipped to {0, 1} (a forward hook), which keeps that reachability exact at any depth
(no overflow of path counts, no underflow).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rgp_bench.core.layer_types import WEIGHT_LAYERS
from rgp_bench.measure.topology import density_profile
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.linearise import ones_input, path_copy


@dataclass(frozen=True)
class Collapse:
    """Whether masks cut a network, and how much of each prunable layer they keep."""

    collapsed: bool  # no path survives, or some layer keeps no weight
    no_path: bool  # no input-output path survives (the output is identically zero)
    empty_layers: list[str]  # prunable layers that keep no weight at all
    kept_fraction: dict[str, float]  # per prunable layer
    narrowest: tuple[str, float]  # the layer with the smallest kept fraction, and that fraction


def _reachable(_module: nn.Module, _args: tuple, output: torch.Tensor) -> torch.Tensor:
    return (output > 0).to(output.dtype)


def connectivity_copy(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """The 0/1 path model: prunable weights = their masks (by module name), other conv/linear weights = 1,
    biases = 0, BN = identity, float64, eval mode; conv/linear outputs clipped to {0, 1}."""
    out = path_copy(model)
    with torch.no_grad():
        for p in out.parameters():
            p.fill_(1.0)
        for name, module in out.named_modules():
            if isinstance(module, WEIGHT_LAYERS):
                if name in masks:
                    module.weight.copy_(masks[name].to(module.weight.device, module.weight.dtype))
                if module.bias is not None:
                    module.bias.zero_()
                module.register_forward_hook(_reachable)
    return out


def layer_collapse(model: nn.Module, layers: Sequence[PrunableLayer], masks: Mapping[str, torch.Tensor],
                   example: torch.Tensor) -> Collapse:
    """Check `masks` (keep = True, one per prunable layer) on `model` (not modified) for an input like `example`."""
    kept = density_profile({layer.name: masks[layer.name] for layer in layers})
    empty = [name for name, fraction in kept.items() if fraction == 0.0]
    with torch.no_grad():
        output = connectivity_copy(model, masks)(ones_input(example))
    no_path = not bool((output > 0).any())
    narrowest = min(kept.items(), key=lambda item: item[1])
    return Collapse(collapsed=no_path or bool(empty), no_path=no_path, empty_layers=empty, kept_fraction=kept,
                    narrowest=narrowest)
