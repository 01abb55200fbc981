"""Parameter and MAC counts, dense and effective (sparsity-aware), per layer and in total.

Convention: 1 MAC = one fused multiply-add of a conv or linear layer, as fvcore counts it. BN, pooling
and activations are not counted, so per-layer MACs add up to the total and match the paper's accounting.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Collection
from dataclasses import dataclass

import torch
from torch import nn

from rgp_bench.core.layer_types import WEIGHT_LAYERS
from rgp_bench.record.costs import CostTotals, LayerCost, Reduction

with warnings.catch_warnings():  # fvcore imports torch.jit helpers that warn on recent torch
    warnings.simplefilter("ignore")
    from fvcore.nn import FlopCountAnalysis

MAC_CONVENTION = (
    "1 MAC = one fused multiply-add of a conv/linear layer (fvcore); BN, pooling and activations not counted"
)
_UNCOUNTED_OPS = ("aten::batch_norm", "aten::adaptive_avg_pool2d", "aten::upsample_nearest2d",
                  "aten::upsample_bilinear2d", "aten::layer_norm", "aten::group_norm", "aten::instance_norm")


@dataclass(frozen=True)
class CostReport:
    """Whole-model totals, the prunable-layer subtotal (weights only) and the per-layer table."""

    total: CostTotals
    prunable: CostTotals
    layers: list[LayerCost]
    # Dense MACs per module; masks do not change them, so a pruned model's count can reuse the dense one.
    module_macs: dict[str, int]


def _masked_out(module: nn.Module, param: str = "weight") -> int:
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


def module_macs(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """Dense conv/linear MACs per module for one forward pass of `example` (use batch size 1)."""
    analysis = FlopCountAnalysis(model, example)
    for op in _UNCOUNTED_OPS:
        analysis.set_op_handle(op, lambda _inputs, _outputs: 0)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    was_training = model.training
    model.eval()
    fvcore_logger = logging.getLogger("fvcore")
    level = fvcore_logger.level
    fvcore_logger.setLevel(logging.ERROR)
    try:
        # fvcore traces with torch.jit, which recent torch marks deprecated on every call.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {name: int(count) for name, count in analysis.by_module().items()}
    finally:
        fvcore_logger.setLevel(level)
        model.train(was_training)


def measure_costs(model: nn.Module, example: torch.Tensor, prunable: Collection[str],
                  dense_macs: dict[str, int] | None = None) -> CostReport:
    """Count parameters and MACs of `model`; `prunable` names the layers whose weights a method may mask.

    The prunable subtotal counts weights only (biases are never pruned). `dense_macs` (from an earlier
    report on the same architecture) skips the fvcore trace.
    """
    macs = module_macs(model, example) if dense_macs is None else dense_macs
    layers = []
    prunable_weights = prunable_kept = 0
    for name, module in model.named_modules():
        if not isinstance(module, WEIGHT_LAYERS):
            continue
        shape = list(module.weight.shape)
        weights = module.weight.numel()
        kept = weights - _masked_out(module)
        bias = module.bias.numel() if module.bias is not None else 0
        bias_kept = bias - _masked_out(module, "bias")
        layer_macs = macs.get(name, 0)
        layers.append(LayerCost(
            name=name, type=type(module).__name__, shape=shape, prunable=name in prunable,
            params=weights + bias, nonzero=kept + bias_kept, density=kept / weights,
            macs=layer_macs, macs_effective=round(layer_macs * kept / weights),
        ))
        if name in prunable:
            prunable_weights += weights
            prunable_kept += kept
    params, remaining = count_params(model)
    total_macs = macs.get("", 0)
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
