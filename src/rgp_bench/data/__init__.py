"""Datasets: `build_data(cfg)` returns seeded train/val/test splits in a `DataBundle`, from the registry that each
dataset module fills with `@register_dataset` (rgp_bench.data.registry), its shape declared beside its builder.

Validation data is always carved from the training data; the test split is for reporting only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rgp_bench.core.errors import choices_error
from rgp_bench.data.dataset import DataBundle, ImageDataset
from rgp_bench.data.registry import DATASET_REGISTRY, DatasetEntry, DataShape, register_dataset

# Each dataset module registers its builders when imported, in this order: the order of DATASETS.
from rgp_bench.data import digits, cifar, imagenet, synthetic, mnist1d  # noqa: F401  # isort: skip

DATASETS: tuple[str, ...] = tuple(DATASET_REGISTRY)


def _entry(name: str) -> DatasetEntry:
    try:
        return DATASET_REGISTRY[name]
    except KeyError:
        raise choices_error("dataset", name, DATASETS) from None


def dataset_shape(cfg: Any) -> DataShape:
    """The input shape and class count of dataset `cfg.name`, from its config alone (no files read)."""
    return _entry(str(cfg.name)).shape(cfg)


def build_data(cfg: Any, cache_dir: Path | None = None) -> DataBundle:
    """Build the dataset named by `cfg.name` (a DatasetCfg or a DictConfig with its fields).

    `cache_dir` is where generated datasets (MNIST-1D) keep their arrays. Raises UserError (one line) for
    unknown names, bad fractions or sizes, and missing files. The result is deterministic given the config.
    """
    return _entry(str(cfg.name)).build(cfg, cache_dir)


__all__ = ["DATASETS", "DataBundle", "DataShape", "ImageDataset", "build_data", "dataset_shape", "register_dataset"]
