"""The layer types whose weights rgp-bench initialises, counts (MACs) and may prune: convolutions and linear layers."""

from __future__ import annotations

from torch import nn

WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Linear)
CONVS: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d)
# Config names (layers.types) of the prunable layer types.
BY_NAME: dict[str, type[nn.Module]] = {t.__name__: t for t in WEIGHT_LAYERS}
