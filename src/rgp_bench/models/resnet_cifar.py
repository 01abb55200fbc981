"""CIFAR ResNets: ResNet-20/44/56/110 (He et al. 2016, option-A shortcuts) and the CIFAR ResNet-18.

Every module is registered in the order forward runs it, so the stem is the first conv and the
classifier (`fc`) the last one in both `named_modules()` and execution order.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from rgp_bench.models.registry import at_least, register_model


class PadShortcut(nn.Module):
    """Option-A shortcut: subsample by `stride` and zero-pad the extra channels. No parameters."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        extra = out_planes - in_planes
        self.pad_front, self.pad_back = extra // 2, extra - extra // 2

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))


class BasicBlock(nn.Module):
    """Two 3×3 conv+BN layers with a residual; `shortcut` is identity, option A, or a 1×1 conv+BN."""

    def __init__(self, in_planes: int, planes: int, stride: int, option: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            if option == "A":
                self.shortcut = PadShortcut(in_planes, planes, stride)
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
                )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """3×3 stride-1 stem, stages of BasicBlocks (first stage stride 1, then 2), global avg pool, Linear."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        widths: tuple[int, ...],
        blocks: tuple[int, ...],
        option: str,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        stages = []
        for i, (width, n) in enumerate(zip(widths, blocks, strict=True)):
            layers = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(BasicBlock(in_planes, width, stride, option))
                in_planes = width
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.pool(self.layers(x)).flatten(1)
        return self.fc(x)


def resnet_cifar(depth: int, in_channels: int, num_classes: int) -> CifarResNet:
    """ResNet-`depth` for CIFAR (depth = 6n+2): 16/32/64 channels, n blocks per stage, option A."""
    n = (depth - 2) // 6
    return CifarResNet(in_channels, num_classes, (16, 32, 64), (n, n, n), option="A")


def resnet18_cifar(in_channels: int, num_classes: int) -> CifarResNet:
    """CIFAR ResNet-18 (kuangliu / RGP's cResNet18): 64-128-256-512, 1×1 conv+BN projection shortcuts."""
    return CifarResNet(in_channels, num_classes, (64, 128, 256, 512), (2, 2, 2, 2), option="B")


_THREE_STAGES = at_least(4, "2 stride-2 stages")


@register_model("resnet20", min_size=_THREE_STAGES)
def resnet20(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int) -> CifarResNet:
    """CIFAR ResNet-20."""
    return resnet_cifar(20, in_channels, num_classes)


@register_model("resnet44", min_size=_THREE_STAGES)
def resnet44(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int) -> CifarResNet:
    """CIFAR ResNet-44."""
    return resnet_cifar(44, in_channels, num_classes)


@register_model("resnet56", min_size=_THREE_STAGES)
def resnet56(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int) -> CifarResNet:
    """CIFAR ResNet-56."""
    return resnet_cifar(56, in_channels, num_classes)


@register_model("resnet110", min_size=_THREE_STAGES)
def resnet110(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int) -> CifarResNet:
    """CIFAR ResNet-110."""
    return resnet_cifar(110, in_channels, num_classes)


@register_model("resnet18", min_size=at_least(8, "3 stride-2 stages"))
def resnet18(cfg: Any, in_channels: int, image_size: int, num_classes: int, spatial_dims: int) -> CifarResNet:
    """CIFAR ResNet-18."""
    return resnet18_cifar(in_channels, num_classes)
