"""The one MAC counter: the multiply-adds of a model's conv and linear layers, dense and under their weight masks.

Convention (MAC_CONVENTION): 1 MAC = one fused multiply-add of a conv/linear layer, the count fvcore makes (the
tests check that it equals fvcore's on every model); BN, pooling and activations are not counted, so the layers'
MACs add up to the model's. A layer's dense MACs per sample are its output elements times the inputs each one
reads (`weight[0].numel()`: input channels per group x kernel). A layer keeping `kept` of its `weights` does
`dense x kept / weights` of them: exact, since dense MACs are a whole multiple of the weight count (each weight
does one multiply-add per output position). The run's costs (measure.costs), the channel methods' keep sets
(pruning.channels.macs) and the speed benchmark all count with this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rgp_bench.core.forward import forward_once
from rgp_bench.core.layer_types import WEIGHT_LAYERS, WeightLayer

MAC_CONVENTION = (
    "1 MAC = one fused multiply-add of a conv/linear layer (fvcore); BN, pooling and activations not counted"
)


def layer_macs(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """Dense MACs per sample of every conv/linear layer that `model(example)` runs, by name, in model order
    (`example`: a batch of one or more; a layer run twice counts twice)."""
    counts: dict[str, int] = {}
    batch = example.shape[0]

    def hook(name: str) -> Any:
        def count(module: WeightLayer, _inputs: Any, output: torch.Tensor) -> None:
            counts[name] = counts.get(name, 0) + output.numel() // batch * module.weight[0].numel()

        return count

    forward_once(model, example, [module.register_forward_hook(hook(name))
                                  for name, module in model.named_modules() if isinstance(module, WEIGHT_LAYERS)])
    return {name: counts[name] for name, _ in model.named_modules() if name in counts}


def effective_macs(dense: int, kept: int, weights: int) -> int:
    """MACs of a layer whose dense count is `dense` when it keeps `kept` of its `weights` (exact)."""
    return dense * kept // weights


def kept_weights(module: WeightLayer) -> int:
    """Entries of the module's weight that its torch.nn.utils.prune mask keeps (all of them without a mask)."""
    mask = getattr(module, "weight_mask", None)
    return int(mask.count_nonzero()) if mask is not None else module.weight.numel()


@dataclass(frozen=True)
class LayerMacs:
    """MACs of one layer per sample: with all its weights, and with only those its mask keeps."""

    dense: int
    effective: int


def masked_layer_macs(model: nn.Module, example: torch.Tensor,
                      dense: Mapping[str, int] | None = None) -> dict[str, LayerMacs]:
    """Dense and effective MACs per sample of every conv/linear layer `model(example)` runs, under the weight masks
    the model holds; `dense` (an earlier `layer_macs` of the same architecture) skips the forward pass."""
    dense = layer_macs(model, example) if dense is None else dense
    modules = dict(model.named_modules())
    return {name: LayerMacs(macs, effective_macs(macs, kept_weights(modules[name]), modules[name].weight.numel()))
            for name, macs in dense.items()}


def mac_reduction(counts: Mapping[str, LayerMacs], reference: Mapping[str, LayerMacs] | None = None) -> float:
    """Dense MACs of `reference` (default: the same counts) over the effective MACs of `counts`."""
    reference = counts if reference is None else reference
    effective = sum(c.effective for c in counts.values())
    return sum(c.dense for c in reference.values()) / effective if effective else float("inf")
