"""Seeded random images with learnable labels, for smoke tests and quick experiments.

Each class has a smooth prototype (a random coarse pattern upsampled to the image size, plus a
per-channel offset); a sample is its class prototype plus Gaussian pixel noise of the same scale,
so a few epochs of training reach high accuracy (a smoke-test task, not a hard benchmark).
Everything comes from one torch.Generator seeded by `split_seed`. Test and val are split as for digits; `augment` has no
effect. Images are standardised per channel with training-split statistics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from rgp_bench.core.errors import positive_int
from rgp_bench.data.dataset import DataBundle, ImageDataset
from rgp_bench.data.registry import DataShape, register_dataset
from rgp_bench.data.splits import check_fraction, check_seed, three_way_split

NOISE_STD = 1.0



@register_dataset("synthetic",
                  shape=lambda cfg: DataShape(int(cfg.channels), int(cfg.image_size), int(cfg.num_classes)))
def build_synthetic(cfg: Any, cache_dir: Path | None = None) -> DataBundle:
    """Generate the synthetic dataset described by `cfg` (channels, image_size, num_classes, num_samples)."""
    channels = positive_int("dataset.channels", cfg.channels)
    size = positive_int("dataset.image_size", cfg.image_size)
    num_classes = positive_int("dataset.num_classes", cfg.num_classes)
    num_samples = positive_int("dataset.num_samples", cfg.num_samples)
    test_fraction = check_fraction("test_fraction", cfg.test_fraction)
    val_fraction = check_fraction("val_fraction", cfg.val_fraction)
    seed = check_seed(cfg.split_seed)

    gen = torch.Generator().manual_seed(seed)
    coarse = min(4, size)
    pattern = torch.randn(num_classes, channels, coarse, coarse, generator=gen)
    protos = F.interpolate(pattern, size=(size, size), mode="bilinear", align_corners=False)
    protos = protos + 0.5 * torch.randn(num_classes, channels, 1, 1, generator=gen)
    # Balanced classes (as balanced as num_samples allows), in a seeded random order.
    labels = (torch.arange(num_samples) % num_classes)[torch.randperm(num_samples, generator=gen)]
    noise = NOISE_STD * torch.randn(num_samples, channels, size, size, generator=gen)
    images = (protos[labels] + noise).contiguous()

    train_idx, val_idx, test_idx = three_way_split(labels.numpy(), test_fraction, val_fraction, seed)
    train_images = images[torch.from_numpy(train_idx)]
    mean = train_images.mean(dim=(0, 2, 3)).tolist()
    std = train_images.std(dim=(0, 2, 3)).clamp_min(1e-6).tolist()

    def subset(idx) -> ImageDataset:
        return ImageDataset(images, labels, idx, mean, std, augment=False)

    return DataBundle(
        name="synthetic",
        train=subset(train_idx),
        val=subset(val_idx),
        test=subset(test_idx),
        in_channels=channels,
        image_size=size,
        num_classes=num_classes,
    )
