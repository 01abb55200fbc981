"""graph2nn-style MLP: hidden Linear+BN+ReLU layers of one width between a stem and a classifier."""

from __future__ import annotations

from torch import Tensor, nn


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
