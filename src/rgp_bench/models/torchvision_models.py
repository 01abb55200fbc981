"""torchvision's ResNet-50 and MobileNetV2, adapted to the dataset; weights are never downloaded.

Adaptation: the stem conv is rebuilt for `in_channels`; for images smaller than SMALL_IMAGE
(CIFAR-sized) a CIFAR-style stem is used so the network does not shrink 32×32 inputs to nothing:
ResNet-50 gets a 3×3 stride-1 stem conv and no max-pool (total stride 8), MobileNetV2's first conv
gets stride 1 (total stride 16). From SMALL_IMAGE up the ImageNet stems are kept (total stride 32).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from rgp_bench.models.registry import register_model

SMALL_IMAGE = 64


def resnet50_adapted(in_channels: int, image_size: int, num_classes: int) -> nn.Module:
    """torchvision ResNet-50 (bottleneck, 1×1 conv projection shortcuts) for the given input."""
    from torchvision.models import resnet50  # imported on demand: torchvision adds seconds to every start-up

    model = resnet50(weights=None, num_classes=num_classes)
    if image_size < SMALL_IMAGE:
        model.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    elif in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    return model


def mobilenet_v2_adapted(in_channels: int, image_size: int, num_classes: int) -> nn.Module:
    """torchvision MobileNetV2 (depthwise convs are ordinary grouped nn.Conv2d) for the given input."""
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(weights=None, num_classes=num_classes)
    stride = 1 if image_size < SMALL_IMAGE else 2
    if stride != 2 or in_channels != 3:
        old = model.features[0][0]
        model.features[0][0] = nn.Conv2d(in_channels, old.out_channels, 3, stride, 1, bias=False)
    return model


def total_stride(name: str, image_size: int) -> int:
    """The downsampling factor of the adapted model at this image size."""
    if image_size >= SMALL_IMAGE:
        return 32
    return 8 if name == "resnet50" else 16


def _min_stride(name: str) -> Callable[[int], tuple[int, str]]:
    def rule(image_size: int) -> tuple[int, str]:
        stride = total_stride(name, image_size)
        return stride, f"total stride {stride} with the CIFAR-style stem"

    return rule


@register_model("resnet50", min_size=_min_stride("resnet50"))
def resnet50(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int) -> nn.Module:
    """torchvision's ResNet-50, adapted."""
    return resnet50_adapted(in_channels, image_size, num_classes)


@register_model("mobilenet_v2", min_size=_min_stride("mobilenet_v2"))
def mobilenet_v2(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int) -> nn.Module:
    """torchvision's MobileNetV2, adapted."""
    return mobilenet_v2_adapted(in_channels, image_size, num_classes)
