"""The in-memory image dataset shared by every data source, and the bundle `build_data` returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


class ImageDataset(Dataset):
    """A subset (`indices`) of an in-memory image array, normalised per item.

    `images` is N×C×H×W, either uint8 in 0..255 (CIFAR, kept compact) or float32 in the data's own
    scale; it is shared, not copied, between the splits carved from one source. Items are
    `(float32 C×H×W tensor, int label)`. With `augment`, each item gets a random crop from the image
    zero-padded by `pad` pixels plus a random horizontal flip, drawn from torch's global RNG so that
    `torch.manual_seed` and DataLoader worker seeding control it.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        indices: np.ndarray | torch.Tensor | Sequence[int],
        mean: Sequence[float],
        std: Sequence[float],
        augment: bool = False,
        pad: int = 4,
    ) -> None:
        self.images = images
        self.all_labels = labels.to(torch.long)
        self.indices = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        # One value per channel, broadcast over the spatial dims (2 for images, 1 for signals).
        per_channel = (-1,) + (1,) * (images.dim() - 2)
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(per_channel)
        self.std = torch.tensor(list(std), dtype=torch.float32).view(per_channel)
        self.augment = augment
        self.pad = pad

    def __len__(self) -> int:
        return int(self.indices.numel())

    @property
    def labels(self) -> torch.Tensor:
        """The labels of this subset, in item order."""
        return self.all_labels[self.indices]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        j = int(self.indices[i])
        x = self.images[j]
        if self.augment:
            x = _crop_flip(x, self.pad)
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        return (x - self.mean) / self.std, int(self.all_labels[j])


def _crop_flip(x: torch.Tensor, pad: int) -> torch.Tensor:
    # Padding happens before normalisation, as torchvision's RandomCrop on the raw image does.
    h, w = x.shape[-2:]
    padded = F.pad(x, (pad, pad, pad, pad))
    top, left = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,)))
    x = padded[:, top : top + h, left : left + w]
    if torch.rand(()) < 0.5:
        x = x.flip(-1)
    return x


@dataclass(frozen=True)
class DataBundle:
    """Train/val/test splits of one dataset plus the shape facts a model needs.

    `val` is carved from the training data; `test` is for reporting only. Only `train` augments.
    """

    name: str
    train: Dataset
    val: Dataset
    test: Dataset
    in_channels: int
    # Side length of a square image, or the length of a 1-D signal.
    image_size: int
    num_classes: int
    # Human-readable class names where the dataset ships them (CIFAR meta files); else empty.
    classes: tuple[str, ...] = ()
    # 2 for images (C x H x W), 1 for signals (C x L).
    spatial_dims: int = 2
