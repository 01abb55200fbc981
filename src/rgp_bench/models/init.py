"""Weight initialisation shared by every model (the RGP protocol: Kaiming-normal on the dense shapes, as the RGP
authors' code does)."""

from __future__ import annotations

import torch
from torch import nn

from rgp_bench.core.layer_types import WEIGHT_LAYERS, WeightLayer


def init_weights(model: nn.Module) -> None:
    """Kaiming-normal (fan_in, relu) for every conv/linear weight, zero biases, BN weight 1 and bias 0.

    Applied to the dense shapes, with no rescaling for later sparsity. Deterministic under
    torch.manual_seed.
    """
    for m in model.modules():
        if isinstance(m, WEIGHT_LAYERS):
            init_conv_linear(m)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def init_conv_linear(module: WeightLayer, generator: torch.Generator | None = None) -> None:
    """The project's init for one conv/linear layer: Kaiming-normal (fan_in, relu) weight, zero bias.

    Draws from `generator` when given (a CPU generator; the draw is copied to the layer's device), else from
    the global generator. Writes `weight_orig` when the layer is pruned through torch.nn.utils.prune, so the
    mask stays in force.
    """
    weight = getattr(module, "weight_orig", None)
    weight = module.weight if weight is None else weight
    with torch.no_grad():
        if generator is None:
            nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")
        else:
            fresh = torch.empty(weight.shape, dtype=weight.dtype)
            nn.init.kaiming_normal_(fresh, mode="fan_in", nonlinearity="relu", generator=generator)
            weight.copy_(fresh)
        bias = getattr(module, "bias_orig", None)
        bias = module.bias if bias is None else bias
        if bias is not None:
            bias.zero_()
