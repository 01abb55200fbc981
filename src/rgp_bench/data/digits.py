"""scikit-learn's bundled 8×8 handwritten digits: real data that needs no download.

There is no official test split, so `test_fraction` is held out (stratified, seeded) and val is
carved from the rest. Pixels are scaled from 0..16 to [0, 1], then standardised with the mean and
std of the training split. `augment` has no effect: crops and flips do not suit 8×8 digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rgp_bench.data.dataset import DataBundle, ImageDataset
from rgp_bench.data.registry import DataShape, fixed_shape, register_dataset
from rgp_bench.data.splits import check_fraction, check_seed, three_way_split


@register_dataset("digits", shape=fixed_shape(DataShape(1, 8, 10)))
def build_digits(cfg: Any, cache_dir: Path | None = None) -> DataBundle:
    """Load the digits and split them into train/val/test as `cfg` (a DatasetCfg) says."""
    from sklearn.datasets import load_digits  # deferred: scikit-learn is needed only for digits

    test_fraction = check_fraction("test_fraction", cfg.test_fraction)
    val_fraction = check_fraction("val_fraction", cfg.val_fraction)
    seed = check_seed(cfg.split_seed)

    raw = load_digits()
    images = torch.from_numpy((raw.images / 16.0).astype(np.float32)).unsqueeze(1)  # N×1×8×8
    labels = torch.from_numpy(raw.target.astype(np.int64))
    train_idx, val_idx, test_idx = three_way_split(raw.target, test_fraction, val_fraction, seed)

    train_pixels = images[torch.from_numpy(train_idx)]
    mean, std = [float(train_pixels.mean())], [float(train_pixels.std())]

    def subset(idx: np.ndarray) -> ImageDataset:
        return ImageDataset(images, labels, idx, mean, std, augment=False)

    return DataBundle(
        name="digits",
        train=subset(train_idx),
        val=subset(val_idx),
        test=subset(test_idx),
        in_channels=1,
        image_size=8,
        num_classes=10,
        classes=tuple(str(d) for d in range(10)),
    )
