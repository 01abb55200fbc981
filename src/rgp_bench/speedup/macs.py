"""Dense and effective MACs of conv/linear layers, counted with forward hooks (the fvcore convention of
rgp_bench.measure.costs: one multiply-add of a conv/linear layer; BN, pooling and activations not counted)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rgp_bench.core.forward import forward_once

_COUNTED = (nn.Conv1d, nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class LayerMacs:
    """MACs of one layer for one sample: all weights, and only the weights its mask keeps."""

    dense: int
    effective: int


def _density(module: nn.Module) -> float:
    mask = getattr(module, "weight_mask", None)
    return float(mask.float().mean()) if mask is not None else 1.0


def layer_macs(model: nn.Module, sample: torch.Tensor) -> dict[str, LayerMacs]:
    """Per-sample MACs of every Conv1d/Conv2d/Linear that ``model(sample)`` runs (sample: batch of one or more)."""
    counts: dict[str, LayerMacs] = {}
    batch = sample.shape[0]

    def hook(name: str):
        def count(module: nn.Module, _inputs, output: torch.Tensor) -> None:
            per_output = module.weight.shape[1] * module.weight[0, 0].numel()
            dense = output.numel() // batch * per_output
            counts[name] = LayerMacs(dense, round(dense * _density(module)))

        return count

    forward_once(model, sample, [m.register_forward_hook(hook(name)) for name, m in model.named_modules()
                                  if isinstance(m, _COUNTED)])
    return counts


def mac_reduction(counts: dict[str, LayerMacs], reference: dict[str, LayerMacs] | None = None) -> float:
    """Dense MACs of ``reference`` (default: the same counts) over the effective MACs of ``counts``."""
    reference = counts if reference is None else reference
    effective = sum(c.effective for c in counts.values())
    return sum(c.dense for c in reference.values()) / effective if effective else float("inf")
