"""The layer types whose weights rgp-bench initialises, counts (MACs) and may prune: convolutions and linear layers."""

from __future__ import annotations

from typing import Final, cast

from torch import nn

# Spelled out (not tuple[type[nn.Module], ...]) so that isinstance(m, WEIGHT_LAYERS) narrows m to a WeightLayer.
WEIGHT_LAYERS: Final = (nn.Conv1d, nn.Conv2d, nn.Linear)
CONVS: Final = (nn.Conv1d, nn.Conv2d)
WeightLayer = nn.Conv1d | nn.Conv2d | nn.Linear
# Config names (layers.types) of the prunable layer types.
BY_NAME: dict[str, type[WeightLayer]] = {t.__name__: t for t in WEIGHT_LAYERS}


def layer_at(model: nn.Module, name: str) -> WeightLayer:
    """The conv/linear layer `name` of `model`, typed as one (the caller knows it is: `get_submodule` says Module)."""
    return cast(WeightLayer, model.get_submodule(name))
