"""Parameter and MAC counts, dense and effective (sparsity-aware), per layer and in total.

MACs are counted by rgp_bench.measure.macs (its MAC_CONVENTION: one fused multiply-add of a conv or linear layer;
BN, pooling and activations are not counted, so per-layer MACs add up to the total and match the paper's
accounting).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import torch
from torch import nn

from rgp_bench.core.layer_types import WEIGHT_LAYERS
from rgp_bench.measure.macs import effective_macs, kept_weights, layer_macs
from rgp_bench.record.costs import CostTotals, LayerCost, Reduction


@dataclass(frozen=True)
class CostReport:
    """Whole-model totals, the prunable-layer subtotal (weights only) and the per-layer table."""

    total: CostTotals
    prunable: CostTotals
    layers: list[LayerCost]
    # Dense MACs per conv/linear layer (measure.macs.layer_macs); masks do not change them, so a pruned model's
    # count can reuse the dense one.
    module_macs: dict[str, int]


def _masked_out(module: nn.Module, param: str) -> int:
    """Entries of `param` removed by a torch.nn.utils.prune mask (0 when it is not pruned)."""
    mask = getattr(module, f"{param}_mask", None)
    return int((mask == 0).sum()) if mask is not None else 0


def _all_masked_out(module: nn.Module) -> int:
    """Entries removed from every pruned parameter of `module` itself (weights, biases, BN γ/β)."""
    return sum(int((mask == 0).sum()) for name, mask in module.named_buffers(recurse=False)
               if name.endswith("_mask"))


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, remaining) parameters; remaining = total minus the entries masked out by pruning.

    Counting masked entries rather than exact zeros keeps zero-initialised biases from looking pruned.
    """
    total = sum(p.numel() for p in model.parameters())  # each `*_orig` stands in for its pruned parameter
    return total, total - sum(_all_masked_out(m) for m in model.modules())


def measure_costs(model: nn.Module, example: torch.Tensor, prunable: Collection[str],
                  dense_macs: dict[str, int] | None = None) -> CostReport:
    """Count parameters and MACs of `model`; `prunable` names the layers whose weights a method may mask.

    The prunable subtotal counts weights only (biases are never pruned). `dense_macs` (`module_macs` of an earlier
    report on the same architecture) skips the forward pass.
    """
    macs = layer_macs(model, example) if dense_macs is None else dense_macs
    layers = []
    prunable_weights = prunable_kept = 0
    for name, module in model.named_modules():
        if not isinstance(module, WEIGHT_LAYERS):
            continue
        shape = list(module.weight.shape)
        weights = module.weight.numel()
        kept = kept_weights(module)
        bias = module.bias.numel() if module.bias is not None else 0
        bias_kept = bias - _masked_out(module, "bias")
        dense = macs.get(name, 0)
        layers.append(LayerCost(
            name=name, type=type(module).__name__, shape=shape, prunable=name in prunable,
            params=weights + bias, nonzero=kept + bias_kept, density=kept / weights,
            macs=dense, macs_effective=effective_macs(dense, kept, weights),
        ))
        if name in prunable:
            prunable_weights += weights
            prunable_kept += kept
    params, remaining = count_params(model)
    total_macs = sum(macs.values())
    effective = total_macs - sum(layer.macs - layer.macs_effective for layer in layers)
    chosen = [layer for layer in layers if layer.prunable]
    prunable_totals = CostTotals(prunable_weights, prunable_kept, sum(layer.macs for layer in chosen),
                                 sum(layer.macs_effective for layer in chosen))
    return CostReport(CostTotals(params, remaining, total_macs, effective), prunable_totals, layers, macs)


def reductions(dense: CostReport, pruned: CostReport) -> Reduction:
    """What pruning removed, as fractions of the dense model (overall and over the prunable layers)."""
    def frac(new: int, old: int) -> float:
        return 1.0 - new / old if old else 0.0

    return Reduction(
        params=frac(pruned.total.params_nonzero, dense.total.params),
        macs=frac(pruned.total.macs_effective, dense.total.macs),
        prunable_params=frac(pruned.prunable.params_nonzero, dense.prunable.params),
        prunable_macs=frac(pruned.prunable.macs_effective, dense.prunable.macs),
    )
