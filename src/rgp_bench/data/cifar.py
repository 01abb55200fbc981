"""CIFAR-10/100 read straight from the official "python version" pickles.

The files are parsed here rather than through torchvision so that no md5 check stands between a
correctly formatted file and the benchmark (tests use small fabricated files). torchvision is only
used to download when files are missing and `dataset.download=true`. Images stay in memory as uint8
N×3×32×32 and are normalised per item; training augmentation is RandomCrop(32, padding=4) plus a
horizontal flip. Test = the official test batch; val is carved (stratified, seeded) from the 50k
training images.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rgp_bench.core.errors import UserError
from rgp_bench.data.dataset import DataBundle, ImageDataset
from rgp_bench.data.registry import DataShape, fixed_shape, register_dataset
from rgp_bench.data.splits import VAL_STREAM, check_fraction, check_seed, stratified_split


@dataclass(frozen=True)
class CifarSpec:
    title: str
    folder: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: bytes
    names_key: bytes
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    expected: str  # how the error message lists the expected files


SPECS: dict[str, CifarSpec] = {
    "cifar10": CifarSpec(
        title="CIFAR-10",
        folder="cifar-10-batches-py",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_file="test_batch",
        meta_file="batches.meta",
        label_key=b"labels",
        names_key=b"label_names",
        num_classes=10,
        mean=(0.491, 0.482, 0.447),
        std=(0.247, 0.243, 0.262),
        expected="data_batch_1..5, test_batch",
    ),
    "cifar100": CifarSpec(
        title="CIFAR-100",
        folder="cifar-100-python",
        train_files=("train",),
        test_file="test",
        meta_file="meta",
        label_key=b"fine_labels",
        names_key=b"fine_label_names",
        num_classes=100,
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762),
        expected="train, test",
    ),
}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _missing(folder: Path, spec: CifarSpec) -> list[str]:
    return [f for f in (*spec.train_files, spec.test_file) if not (folder / f).is_file()]


def _download(root: Path, name: str, spec: CifarSpec) -> None:
    # Real code path for users with network access; tests never reach it.
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as exc:  # no network, disk full, bad mirror: all end the same way for the user
        raise UserError(
            f"could not download {spec.title} to {root}: {_one_line(exc)}; download it by hand and "
            f"put the extracted '{spec.title} python version' folder {spec.folder} in {root}"
        ) from None


def _read_batch(path: Path, spec: CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as f:
            entry = pickle.load(f, encoding="bytes")
        data = np.asarray(entry[b"data"], dtype=np.uint8)
        labels = np.asarray(entry[spec.label_key], dtype=np.int64)
    except Exception as exc:
        raise UserError(f"cannot read {spec.title} file {path}: {_one_line(exc)}") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise UserError(
            f"{spec.title} file {path} is malformed: expected data of shape N×3072 with N labels, "
            f"got data {tuple(data.shape)} and {len(labels)} labels"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= spec.num_classes):
        raise UserError(f"{spec.title} file {path} has labels outside 0..{spec.num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels


def _read_split(folder: Path, files: tuple[str, ...], spec: CifarSpec) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [_read_batch(folder / f, spec) for f in files]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(np.ascontiguousarray(data)), torch.from_numpy(labels)


def _class_names(folder: Path, spec: CifarSpec) -> tuple[str, ...]:
    path = folder / spec.meta_file
    if not path.is_file():
        return ()
    try:
        with path.open("rb") as f:
            meta = pickle.load(f, encoding="bytes")
        return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[spec.names_key])
    except Exception as exc:
        raise UserError(f"cannot read {spec.title} meta file {path}: {_one_line(exc)}") from None


def build_cifar(cfg, name: str) -> DataBundle:
    """Load CIFAR-10 (`name="cifar10"`) or CIFAR-100 from `cfg.root`, downloading if allowed."""
    spec = SPECS[name]
    val_fraction = check_fraction("val_fraction", cfg.val_fraction)
    seed = check_seed(cfg.split_seed)
    root = Path(str(cfg.root)).expanduser().resolve()
    folder = root / spec.folder

    if _missing(folder, spec) and cfg.download:
        _download(root, name, spec)
    if missing := _missing(folder, spec):
        raise UserError(
            f"{spec.title} not found at {folder} (expected {spec.expected}; missing: {', '.join(missing)}); "
            f"put the extracted '{spec.title} python version' there or run with dataset.download=true"
        )

    train_images, train_labels = _read_split(folder, spec.train_files, spec)
    test_images, test_labels = _read_split(folder, (spec.test_file,), spec)
    train_idx, val_idx = stratified_split(train_labels.numpy(), val_fraction, seed, VAL_STREAM, "val_fraction")

    return DataBundle(
        name=name,
        train=ImageDataset(train_images, train_labels, train_idx, spec.mean, spec.std, augment=bool(cfg.augment)),
        val=ImageDataset(train_images, train_labels, val_idx, spec.mean, spec.std),
        test=ImageDataset(test_images, test_labels, np.arange(len(test_labels)), spec.mean, spec.std),
        in_channels=3,
        image_size=32,
        num_classes=spec.num_classes,
        classes=_class_names(folder, spec),
    )


@register_dataset("cifar10", shape=fixed_shape(DataShape(3, 32, SPECS["cifar10"].num_classes)))
def build_cifar10(cfg: Any, cache_dir: Path | None = None) -> DataBundle:
    """CIFAR-10 from `cfg.root`."""
    return build_cifar(cfg, "cifar10")


@register_dataset("cifar100", shape=fixed_shape(DataShape(3, 32, SPECS["cifar100"].num_classes)))
def build_cifar100(cfg: Any, cache_dir: Path | None = None) -> DataBundle:
    """CIFAR-100 from `cfg.root`."""
    return build_cifar(cfg, "cifar100")
