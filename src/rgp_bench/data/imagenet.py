"""ImageNet (ILSVRC2012) in torchvision's ImageFolder layout, decoded lazily from JPEG files.

Layout: `<dataset.root>/imagenet/train/<wnid>/*.JPEG` and `<dataset.root>/imagenet/val/<wnid>/*.JPEG`
(the official validation images sorted into one folder per class). The folders are scanned with
ImageFolder's own machinery (`make_dataset`; classes and files in sorted order), so the
file list, the labels and hence the seeded splits do not depend on the order the file system lists
entries in. Class indices come from `train/` and are reused for `val/`.

Splits: validation (model selection) is carved from `train/` with the stratified seeded split
(`dataset.val_fraction`, `dataset.split_seed`) as for the other datasets; the official `val/` folder is
the TEST split, for reporting only.

Transforms, at crop size `dataset.image_size` (default 224): training RandomResizedCrop + horizontal
flip (with `dataset.augment`; torchvision's default scale (0.08, 1)), evaluation
Resize(int(size * 256 / 224)) + CenterCrop(size); both normalise with the ImageNet mean/std. Random
augmentation draws from torch's RNG, so the run seed and DataLoader worker seeding control it.

Only relative file paths (as one compact numpy byte array) are held in memory, shared between the
splits carved from one folder; each item is read and decoded with PIL when it is requested.
ImageNet cannot be downloaded automatically (licence); a missing folder is a one-line UserError.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from rgp_bench.core.errors import UserError, positive_int
from rgp_bench.data.dataset import DataBundle
from rgp_bench.data.registry import DataShape, register_dataset

if TYPE_CHECKING:
    from PIL import Image

# torchvision and PIL are imported where they are used: they add seconds to the start-up of every run, and only
# ImageNet runs need them.
from rgp_bench.data.splits import VAL_STREAM, check_fraction, check_seed, stratified_split

FOLDER = "imagenet"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# Evaluation resizes the short side to size * 256/224 (256 for the standard 224 crop), then centre-crops.
RESIZE_RATIO = 256 / 224


class FolderImages(Dataset):
    """A subset (`indices`) of the image files under `root`, decoded with PIL on access.

    `files` (relative paths as a numpy byte array) and `targets` are shared, not copied, between the
    splits carved from one folder. Items are `(float32 3×S×S tensor, int label)`.
    """

    def __init__(
        self,
        root: str,
        files: np.ndarray,
        targets: torch.Tensor,
        indices: np.ndarray | torch.Tensor | Sequence[int],
        transform: Callable[[Image.Image], torch.Tensor],
    ) -> None:
        self.root = root
        self.files = files
        self.all_labels = targets.to(torch.long)
        self.indices = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        self.transform = transform

    def __len__(self) -> int:
        return int(self.indices.numel())

    @property
    def labels(self) -> torch.Tensor:
        """The labels of this subset, in item order."""
        return self.all_labels[self.indices]

    def path(self, i: int) -> str:
        """Absolute path of item `i`."""
        return os.path.join(self.root, os.fsdecode(self.files[int(self.indices[i])]))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        """Decode item `i`; an unreadable or corrupt file is a UserError naming it."""
        from PIL import Image  # deferred: see the imports

        path = self.path(i)
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB")  # decodes the whole file: truncation shows up here
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:  # PIL's error types
            detail = " ".join(str(exc).split())
            raise UserError(f"cannot read image {path}: {detail}") from exc
        return self.transform(rgb), int(self.all_labels[int(self.indices[i])])


def train_transform(size: int, augment: bool) -> Callable[[Image.Image], torch.Tensor]:
    """RandomResizedCrop(size) + horizontal flip + normalise; the eval transform when not augmenting."""
    from torchvision import transforms  # deferred: see the imports

    if not augment:
        return eval_transform(size)
    return transforms.Compose([
        transforms.RandomResizedCrop(size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def eval_transform(size: int) -> Callable[[Image.Image], torch.Tensor]:
    """Resize(int(size * 256/224)) + CenterCrop(size) + normalise."""
    from torchvision import transforms  # deferred: see the imports

    return transforms.Compose([
        transforms.Resize(int(size * RESIZE_RATIO)),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def _not_found(folder: Path, missing: str) -> UserError:
    return UserError(
        f"ImageNet not found at {folder} (expected train/ and val/ class folders, e.g. train/n01440764/*.JPEG; "
        f"missing: {missing}); ImageNet cannot be downloaded automatically (dataset.download has no effect): "
        f"get ILSVRC2012 from https://image-net.org, extract train/ and val/ (val/ sorted into one folder per "
        f"class) into {folder}, or point dataset.root (or $RGP_BENCH_DATA) at the folder that holds {FOLDER}/"
    )


def _unreadable(path: str | os.PathLike, exc: OSError) -> UserError:
    return UserError(f"cannot read ImageNet folder {os.fspath(path)}: {exc.strerror or exc}")


def _class_dirs(split_dir: Path) -> list[str]:
    try:
        if not split_dir.is_dir():
            return []
        with os.scandir(split_dir) as entries:
            return sorted(e.name for e in entries if e.is_dir())
    except OSError as exc:  # e.g. PermissionError
        raise _unreadable(exc.filename or split_dir, exc) from None


def _check_listable(split_dir: Path, names: Sequence[str]) -> None:
    """Raise a UserError for a class folder that exists but cannot be listed.

    `make_dataset` walks with `os.walk`, which silently skips folders it cannot read: such a class would
    look empty (train/) or quietly vanish from the test split (val/).
    """
    for name in names:
        folder = split_dir / name
        try:
            with os.scandir(folder):
                pass
        except (FileNotFoundError, NotADirectoryError):  # absent: allowed in val/, reported elsewhere for train/
            continue
        except OSError as exc:
            raise _unreadable(folder, exc) from None


def _scan(split_dir: Path, class_to_idx: dict[str, int], allow_empty: bool) -> tuple[np.ndarray, torch.Tensor]:
    """Relative paths (numpy bytes) and labels of the images under `split_dir`, in sorted order."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset  # deferred: see the imports

    try:
        samples = make_dataset(str(split_dir), class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=allow_empty)
    except FileNotFoundError as exc:  # class folders without any image file (or unreadable ones)
        _check_listable(split_dir, sorted(class_to_idx))
        detail = " ".join(str(exc).split())
        raise UserError(
            f"ImageNet folder {split_dir} is incomplete: {detail} (image extensions: {', '.join(IMG_EXTENSIONS)})"
        ) from None
    except OSError as exc:
        raise _unreadable(exc.filename or split_dir, exc) from None
    found = {t for _, t in samples}
    _check_listable(split_dir, sorted(name for name, idx in class_to_idx.items() if idx not in found))
    prefix = str(split_dir) + os.sep
    rel = [p[len(prefix):] if p.startswith(prefix) else os.path.relpath(p, split_dir) for p, _ in samples]
    files = np.array([os.fsencode(r) for r in rel], dtype=np.bytes_)
    labels = torch.tensor([t for _, t in samples], dtype=torch.long)
    return files, labels


@register_dataset("imagenet", shape=lambda cfg: DataShape(3, int(cfg.image_size), 1000))
def build_imagenet(cfg: Any, cache_dir: Path | None = None) -> DataBundle:
    """Load ImageNet from `<cfg.root>/imagenet/{train,val}` (lazily) and split it as `cfg` says."""
    from torchvision.datasets.folder import IMG_EXTENSIONS  # deferred: see the imports

    size = positive_int("dataset.image_size", cfg.image_size)
    val_fraction = check_fraction("val_fraction", cfg.val_fraction)
    seed = check_seed(cfg.split_seed)
    folder = Path(str(cfg.root)).expanduser().resolve() / FOLDER
    train_dir, test_dir = folder / "train", folder / "val"

    classes = _class_dirs(train_dir)
    test_classes = _class_dirs(test_dir)
    missing = [f"class folders in {name}/" if d.is_dir() else f"{name}/"
               for name, d, found in (("train", train_dir, classes), ("val", test_dir, test_classes)) if not found]
    if missing:
        raise _not_found(folder, ", ".join(missing))
    class_to_idx = {name: i for i, name in enumerate(classes)}  # as ImageFolder's find_classes: sorted
    if unknown := sorted(set(test_classes) - set(classes)):
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise UserError(
            f"ImageNet val/ at {test_dir} has {len(unknown)} class folder(s) not in train/: {shown}; "
            f"val/ must use the same class folders (wnids) as train/"
        )

    train_files, train_labels = _scan(train_dir, class_to_idx, allow_empty=False)
    # val/ may lack a class (a subset); its labels still follow train/'s class indices.
    test_files, test_labels = _scan(test_dir, class_to_idx, allow_empty=True)
    if len(test_files) == 0:
        raise UserError(f"ImageNet val/ at {test_dir} has class folders but no images "
                        f"(image extensions: {', '.join(IMG_EXTENSIONS)})")
    train_idx, val_idx = stratified_split(train_labels.numpy(), val_fraction, seed, VAL_STREAM, "val_fraction")

    evaluate = eval_transform(size)
    return DataBundle(
        name="imagenet",
        train=FolderImages(str(train_dir), train_files, train_labels, train_idx,
                           train_transform(size, bool(cfg.augment))),
        val=FolderImages(str(train_dir), train_files, train_labels, val_idx, evaluate),
        test=FolderImages(str(test_dir), test_files, test_labels, np.arange(len(test_labels)), evaluate),
        in_channels=3,
        image_size=size,
        num_classes=len(classes),
        classes=tuple(classes),
    )
