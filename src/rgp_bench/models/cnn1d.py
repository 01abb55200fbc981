"""The MNIST-1D paper's CNN (Greydanus & Kobak, ICML 2024; `ConvBase` in the mnist1d repository's
notebooks/models.py): three 1-D convolutions with ReLU and a linear classifier on the flattened features.

conv1: 1 -> 25 channels, kernel 5, stride 2, padding 1; conv2 and conv3: 25 -> 25, kernel 3, stride 2,
padding 1; then Linear(25 x 5 -> 10) for the published length of 40 (40 -> 19 -> 10 -> 5). No BN. As in
every model here, conv1 is the stem and the linear layer the classifier, so only conv2 and conv3 are
prunable by default. The reference uses PyTorch's default init; rgp-bench initialises it like every other
model (Kaiming-normal), so runs are comparable across models.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from rgp_bench.models.registry import register_model

CHANNELS = 25


def conv_length(length: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a 1-D convolution."""
    return (length + 2 * padding - kernel) // stride + 1


class CNN1D(nn.Module):
    """MNIST-1D's ConvBase for inputs of `in_channels` x `length`."""

    def __init__(self, in_channels: int, length: int, num_classes: int, channels: int = CHANNELS) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        out = conv_length(conv_length(conv_length(length, 5, 2, 1), 3, 2, 1), 3, 2, 1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(channels * out, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        h = self.relu(self.conv1(x))
        h = self.relu(self.conv2(h))
        h = self.relu(self.conv3(h))
        return self.fc(h.flatten(1))


def min_length() -> int:
    """The shortest input whose third convolution still has an output (length >= 1)."""
    length = 1
    while conv_length(conv_length(conv_length(length, 5, 2, 1), 3, 2, 1), 3, 2, 1) < 1:
        length += 1
    return length


@register_model("cnn1d", min_size=lambda _length: (min_length(), "three stride-2 convolutions"), spatial_dims=1)
def cnn1d(cfg: Any, in_channels: int, length: int, num_classes: int, spatial_dims: int) -> CNN1D:
    """MNIST-1D's CNN for signals of `length`."""
    return CNN1D(in_channels, length, num_classes)
