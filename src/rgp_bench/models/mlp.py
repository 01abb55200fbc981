"""graph2nn-style MLP: hidden Linear+BN+ReLU layers of one width between a stem and a classifier."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from rgp_bench.core.errors import positive_int
from rgp_bench.models.registry import at_least, register_model


class MLP(nn.Module):
    """flatten -> Linear(in, width)+BN+ReLU -> (depth-1)× [Linear(width, width)+BN+ReLU]
    -> Linear(width, classes).

    The first Linear is the stem and the last the classifier. Hidden Linears have no bias (BN follows).
    """

    def __init__(self, in_features: int, width: int, depth: int, num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = in_features
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True)]
            fan_in = width
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x))


@register_model("mlp", min_size=at_least(1, "any size"), spatial_dims=None)
def mlp(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int) -> MLP:
    """The MLP on flattened inputs of in_channels x image_size^spatial_dims, `cfg.width` x `cfg.depth` hidden."""
    width = positive_int("model.width", cfg.width)
    depth = positive_int("model.depth", cfg.depth)
    return MLP(in_channels * image_size**spatial_dims, width, depth, num_classes)
