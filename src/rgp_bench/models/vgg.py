"""VGG16-BN for CIFAR with the RGP head: 13 conv layers, then two 512×512 hidden FC layers."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from rgp_bench.models.registry import at_least, register_model

# Output channels per conv; "M" = 2×2 max-pool. Five pools: 32×32 input -> 1×1×512.
VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip


class VGG(nn.Module):
    """Conv3×3(no bias)+BN+ReLU stacks with max-pools, global avg pool, then
    Linear(512,512)+ReLU, Linear(512,512)+ReLU, Linear(512,classes) (≈15.25M params for 10 classes).

    At 32×32 the map before pooling is already 1×1, so the head sees exactly the 512 conv features;
    the global pool only matters for larger inputs.

    Channel methods keep the hidden FC layers' 512 outputs (FIXED_WIDTH_LAYERS): GNN-RL's VGG-16 action space
    is the 13 convs' output channels (the authors' share_layers.py), as in the torchvision VGG-16 they pruned.
    """

    FIXED_WIDTH_LAYERS: tuple[str, ...] = ("classifier.0", "classifier.2")

    def __init__(self, in_channels: int, num_classes: int, cfg: tuple[int | str, ...] = VGG16_CFG) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [
                    nn.Conv2d(c, int(v), 3, 1, 1, bias=False),
                    nn.BatchNorm2d(int(v)),
                    nn.ReLU(inplace=True),
                ]
                c = int(v)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(c, 512),
            nn.ReLU(inplace=True),
            nn.Linear(512, 512),
            nn.ReLU(inplace=True),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


@register_model("vgg16", min_size=at_least(32, "5 max-pools"))
def vgg16(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int) -> VGG:
    """VGG16-BN with the RGP head."""
    return VGG(in_channels, num_classes)
