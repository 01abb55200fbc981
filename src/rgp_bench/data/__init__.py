"""Datasets: `build_data(cfg)` returns seeded train/val/test splits in a `DataBundle`.

Validation data is always carved from the training data; the test split is for reporting only.
"""

from __future__ import annotations

from rgp_bench.data.dataset import DataBundle, ImageDataset
from rgp_bench.errors import choices_error

DATASETS: tuple[str, ...] = ("digits", "cifar10", "cifar100", "imagenet", "synthetic")


def build_data(cfg) -> DataBundle:
    """Build the dataset named by `cfg.name` (a DatasetCfg or a DictConfig with its fields).

    Raises UserError (one line) for unknown names, bad fractions or sizes, and missing files.
    The result is deterministic given the config.
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
    raise choices_error("dataset", name, DATASETS)


__all__ = ["DATASETS", "DataBundle", "ImageDataset", "build_data"]
