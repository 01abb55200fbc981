"""Datasets: `build_data(cfg)` returns seeded train/val/test splits in a `DataBundle`.

Validation data is always carved from the training data; the test split is for reporting only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rgp_bench.core.errors import choices_error
from rgp_bench.data.dataset import DataBundle, ImageDataset

DATASETS: tuple[str, ...] = ("digits", "cifar10", "cifar100", "imagenet", "synthetic", "mnist1d")


@dataclass(frozen=True)
class DataShape:
    """What a model needs to know about a dataset, known without loading it."""

    channels: int
    size: int
    classes: int
    spatial_dims: int = 2


def dataset_shape(cfg) -> DataShape:
    """The input shape and class count of dataset `cfg.name`, from its config alone (no files read)."""
    name = str(cfg.name)
    if name == "digits":
        return DataShape(1, 8, 10)
    if name in ("cifar10", "cifar100"):
        return DataShape(3, 32, 10 if name == "cifar10" else 100)
    if name == "imagenet":
        return DataShape(3, int(cfg.image_size), 1000)
    if name == "synthetic":
        return DataShape(int(cfg.channels), int(cfg.image_size), int(cfg.num_classes))
    if name == "mnist1d":
        length = (cfg.get("generator") or {}).get("final_seq_length", 40)
        return DataShape(1, int(length), 10, spatial_dims=1)
    raise choices_error("dataset", name, DATASETS)


def build_data(cfg, cache_dir: Path | None = None) -> DataBundle:
    """Build the dataset named by `cfg.name` (a DatasetCfg or a DictConfig with its fields).

    `cache_dir` is where generated datasets (MNIST-1D) keep their arrays. Raises UserError (one line) for
    unknown names, bad fractions or sizes, and missing files. The result is deterministic given the config.
    """
    name = str(cfg.name)
    # Imported on demand: scikit-learn is only needed for digits.
    if name == "digits":
        from rgp_bench.data.digits import build_digits

        return build_digits(cfg)
    if name in ("cifar10", "cifar100"):
        from rgp_bench.data.cifar import build_cifar

        return build_cifar(cfg, name)
    if name == "imagenet":
        from rgp_bench.data.imagenet import build_imagenet

        return build_imagenet(cfg)
    if name == "synthetic":
        from rgp_bench.data.synthetic import build_synthetic

        return build_synthetic(cfg)
    if name == "mnist1d":
        from rgp_bench.data.mnist1d import build_mnist1d

        return build_mnist1d(cfg, cache_dir)
    raise choices_error("dataset", name, DATASETS)


__all__ = ["DATASETS", "DataBundle", "DataShape", "ImageDataset", "build_data", "dataset_shape"]
