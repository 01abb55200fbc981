"""Weight initialisation shared by every model (the RGP protocol, rgp-method.md §4)."""

from __future__ import annotations

from torch import nn


def init_weights(model: nn.Module) -> None:
    """Kaiming-normal (fan_in, relu) for every conv/linear weight, zero biases, BN weight 1 and bias 0.

    Applied to the dense shapes, with no rescaling for later sparsity. Deterministic under
    torch.manual_seed.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
