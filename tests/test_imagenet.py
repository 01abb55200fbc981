"""ImageNet in ImageFolder layout (fabricated tiny JPEG trees): splits, labels, transforms, laziness, errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from tests.conftest import make_cfg, run_cli
from torch.utils.data import DataLoader
from torchvision.transforms import functional as TF

from rgp_bench.config.schema import DatasetCfg
from rgp_bench.core.errors import UserError
from rgp_bench.data import DATASETS, build_data
from rgp_bench.data.imagenet import MEAN, STD, eval_transform

WNIDS = ("n01440764", "n01443537", "n01484850")  # written in reverse order below: loading must sort them
SIZES = ((48, 40), (40, 56), (64, 64))  # (width, height): non-square, so Resize/CenterCrop matter


def class_image(label: int, variant: int) -> Image.Image:
    """An RGB image whose brightest channel is `label` (0..2), with a left-to-right ramp so crops and flips
    change its pixels."""
    w, h = SIZES[variant % len(SIZES)]
    rgb = np.full((h, w, 3), 30, dtype=np.int64)
    rgb[:, :, label % 3] = 170
    rgb += np.linspace(0, 60, w, dtype=np.int64)[None, :, None] + 3 * variant
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8), "RGB")


def write_imagenet(root: Path, classes: int = 3, train_per_class: int = 6, val_per_class: int = 2) -> Path:
    """A tiny ImageNet tree at `root/imagenet/{train,val}/<wnid>/*.JPEG`; returns the `imagenet` folder."""
    folder = root / "imagenet"
    for split, count in (("val", val_per_class), ("train", train_per_class)):
        for label in reversed(range(classes)):
            wnid = WNIDS[label] if label < len(WNIDS) else f"n{label:08d}"
            class_dir = folder / split / wnid
            class_dir.mkdir(parents=True)
            for i in reversed(range(count)):
                class_image(label, i).save(class_dir / f"{wnid}_{i:05d}.JPEG", "JPEG", quality=95)
    return folder


def cfg(root: Path, **kw):
    return OmegaConf.structured(DatasetCfg(name="imagenet", root=str(root), **kw))


def dominant(x: torch.Tensor) -> int:
    """The class encoded in an item: its brightest channel after undoing the normalisation."""
    raw = x * torch.tensor(STD).view(3, 1, 1) + torch.tensor(MEAN).view(3, 1, 1)
    return int(raw.mean(dim=(1, 2)).argmax())


def reference_eval(path: str, size: int) -> torch.Tensor:
    with Image.open(path) as img:
        img = img.convert("RGB")
    img = TF.center_crop(TF.resize(img, int(size * 256 / 224)), [size, size])
    return TF.normalize(TF.to_tensor(img), list(MEAN), list(STD))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write_imagenet(tmp_path / "data")
    return tmp_path / "data"


def test_registered_and_config_composes() -> None:
    assert "imagenet" in DATASETS
    c = make_cfg("dataset=imagenet")
    assert (c.dataset.name, c.dataset.image_size, c.dataset.download) == ("imagenet", 224, False)
    assert c.dataset.val_fraction == pytest.approx(0.0078)
    assert round(c.dataset.val_fraction * 1_281_167) == 9993  # about 10 validation images per class
    t = eval_transform(224).transforms
    assert (t[0].size, t[1].size) == (256, (224, 224))  # Resize(256) + CenterCrop(224)


def test_layout_splits_and_labels(tree: Path) -> None:
    b = build_data(cfg(tree, image_size=32, val_fraction=1 / 3, augment=False))
    assert (b.name, b.in_channels, b.image_size, b.num_classes) == ("imagenet", 3, 32, 3)
    assert b.classes == WNIDS
    assert (len(b.train), len(b.val), len(b.test)) == (12, 6, 6)
    tr, va = set(b.train.indices.tolist()), set(b.val.indices.tolist())
    assert tr | va == set(range(18)) and not tr & va
    assert b.val.files is b.train.files  # val is carved from train/, sharing the file list
    assert torch.equal(torch.bincount(b.val.labels, minlength=3), torch.tensor([2, 2, 2]))  # stratified
    assert torch.equal(torch.bincount(b.test.labels, minlength=3), torch.tensor([2, 2, 2]))
    for split in (b.train, b.val, b.test):
        for i in range(len(split)):
            x, y = split[i]
            assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and isinstance(y, int)
            assert dominant(x) == y == int(split.labels[i])
            assert Path(split.path(i)).parent.name == WNIDS[y]
    assert all("/val/" in b.test.path(i) for i in range(len(b.test)))  # test = the official val/ folder
    xb, yb = next(iter(DataLoader(b.train, batch_size=4)))
    assert xb.shape == (4, 3, 32, 32) and yb.shape == (4,)


def test_eval_transform_and_no_augment_match_reference(tree: Path) -> None:
    b = build_data(cfg(tree, image_size=24, val_fraction=1 / 3, augment=False))
    for split in (b.val, b.test, b.train):  # train without augment uses the eval transform
        assert torch.allclose(split[0][0], reference_eval(split.path(0), 24), atol=1e-6)


def test_splits_are_deterministic_and_seeded(tree: Path) -> None:
    a = build_data(cfg(tree, val_fraction=1 / 3, split_seed=4))
    b = build_data(cfg(tree, val_fraction=1 / 3, split_seed=4))
    for sa, sb in ((a.train, b.train), (a.val, b.val), (a.test, b.test)):
        assert torch.equal(sa.indices, sb.indices) and np.array_equal(sa.files, sb.files)
        assert torch.equal(sa.all_labels, sb.all_labels)
    names = [f.decode() for f in a.train.files]
    assert names == sorted(names)  # sorted scan, independent of creation/listing order
    others = [build_data(cfg(tree, val_fraction=1 / 3, split_seed=s)).val.indices for s in (5, 6, 7)]
    assert any(not torch.equal(a.val.indices, o) for o in others)


def test_train_augmentation_is_random_and_seeded(tree: Path) -> None:
    b = build_data(cfg(tree, image_size=32, val_fraction=1 / 3, augment=True))
    torch.manual_seed(0)
    first = [b.train[0][0] for _ in range(4)]
    torch.manual_seed(0)
    again = [b.train[0][0] for _ in range(4)]
    assert all(torch.equal(p, q) for p, q in zip(first, again, strict=True))
    assert any(not torch.equal(first[0], x) for x in first[1:])  # RandomResizedCrop + flip vary
    assert first[0].shape == (3, 32, 32) and dominant(first[0]) == b.train[0][1]
    assert torch.equal(b.val[0][0], b.val[0][0])  # evaluation is not augmented


def test_images_are_read_lazily(tree: Path) -> None:
    b = build_data(cfg(tree, image_size=16, val_fraction=1 / 3))
    path = b.test.path(0)
    assert b.test[0][1] == 0 and dominant(b.test[0][0]) == 0
    class_image(2, 0).save(path, "JPEG", quality=95)  # replaced on disk after the build
    x, y = b.test[0]
    assert y == 0 and dominant(x) == 2  # the new pixels were read; the label comes from the folder


def test_val_may_lack_a_class_but_not_add_one(tree: Path) -> None:
    shutil.rmtree(tree / "imagenet" / "val" / WNIDS[0])
    b = build_data(cfg(tree, image_size=16, val_fraction=1 / 3))
    assert b.num_classes == 3 and sorted(set(b.test.labels.tolist())) == [1, 2]  # train/'s class indices
    assert all(dominant(b.test[i][0]) == b.test[i][1] for i in range(len(b.test)))
    extra = tree / "imagenet" / "val" / "n99999999"
    extra.mkdir()
    class_image(0, 0).save(extra / "x.JPEG", "JPEG")
    with pytest.raises(UserError, match="n99999999") as info:
        build_data(cfg(tree))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("download", [False, True])
def test_missing_imagenet_names_the_absolute_path(tmp_path: Path, monkeypatch, download: bool) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as info:
        build_data(cfg(Path("nowhere"), download=download))  # a relative root is reported resolved
    msg = str(info.value)
    assert msg.startswith(f"ImageNet not found at {(tmp_path / 'nowhere' / 'imagenet').resolve()} ")
    assert "expected train/ and val/ class folders" in msg and "cannot be downloaded automatically" in msg
    assert "missing: train/, val/" in msg and "\n" not in msg


def test_missing_or_flat_val_folder(tree: Path) -> None:
    val = tree / "imagenet" / "val"
    shutil.rmtree(val)
    with pytest.raises(UserError, match=r"missing: val/\)"):
        build_data(cfg(tree))
    val.mkdir()
    class_image(0, 0).save(val / "ILSVRC2012_val_00000001.JPEG", "JPEG")  # official flat layout, unsorted
    with pytest.raises(UserError, match=r"missing: class folders in val/\)"):
        build_data(cfg(tree))


def test_empty_class_folder_and_bad_values(tree: Path) -> None:
    with pytest.raises(UserError, match=r"dataset\.image_size"):
        build_data(cfg(tree, image_size=0))
    with pytest.raises(UserError, match="empty split"):
        build_data(cfg(tree, val_fraction=0.01))
    for f in (tree / "imagenet" / "train" / WNIDS[1]).iterdir():
        f.unlink()
    with pytest.raises(UserError, match=WNIDS[1]) as info:
        build_data(cfg(tree))
    assert "\n" not in str(info.value)


def test_cli_missing_imagenet_is_one_line_and_no_record(tmp_path: Path) -> None:
    proc = run_cli(["dataset=imagenet", f"dataset.root={tmp_path / 'none'}", "hardware=cpu"], tmp_path)
    assert proc.returncode == 2, proc.stderr  # UserError
    assert not (tmp_path / "run" / "results.json").exists()
    assert f"ImageNet not found at {tmp_path / 'none' / 'imagenet'}" in proc.stderr + proc.stdout


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_image_names_the_file(tree: Path, damage: str) -> None:
    b = build_data(cfg(tree, image_size=16, val_fraction=1 / 3))
    path = Path(b.test.path(1))
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not a JPEG at all", "truncated": data[: len(data) // 2], "empty": b""}[damage])
    with pytest.raises(UserError) as info:
        b.test[1]
    msg = str(info.value)
    assert msg.startswith(f"cannot read image {path}: ") and "\n" not in msg
    assert dominant(b.test[0][0]) == b.test[0][1]  # the other images still load


def test_missing_image_names_the_file(tree: Path) -> None:
    b = build_data(cfg(tree, image_size=16, val_fraction=1 / 3))
    path = Path(b.test.path(0))
    path.unlink()
    with pytest.raises(UserError, match=f"cannot read image {path}: "):
        b.test[0]


def _deny(monkeypatch, denied: Path) -> None:
    """Make `os.scandir(denied)` fail as an unreadable folder does (also inside os.walk)."""
    real = os.scandir

    def scandir(path="."):
        if os.path.abspath(os.fspath(path)) == str(denied):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


@pytest.mark.parametrize("where", ["train", "val", "train_class", "val_class"])
def test_unreadable_folder_is_a_one_line_error(tree: Path, monkeypatch, where: str) -> None:
    split, _, cls = where.partition("_")
    denied = tree.resolve() / "imagenet" / split / (WNIDS[1] if cls else "")
    denied = Path(str(denied).rstrip(os.sep))
    _deny(monkeypatch, denied)
    with pytest.raises(UserError) as info:
        build_data(cfg(tree, image_size=16, val_fraction=1 / 3))
    msg = str(info.value)
    assert msg == f"cannot read ImageNet folder {denied}: Permission denied"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions and a non-root user")
def test_unreadable_class_folder_on_disk(tree: Path) -> None:
    denied = tree.resolve() / "imagenet" / "val" / WNIDS[2]
    denied.chmod(0)
    try:
        with pytest.raises(UserError) as info:  # not silently dropped from the test split
            build_data(cfg(tree, image_size=16, val_fraction=1 / 3))
    finally:
        denied.chmod(0o755)
    assert str(info.value) == f"cannot read ImageNet folder {denied}: Permission denied"
