"""Datasets: splits, determinism, the real CIFAR pickle format (fabricated files), errors."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from rgp_bench.config.schema import DatasetCfg
from rgp_bench.core.errors import UserError
from rgp_bench.data import DATASETS, DataBundle, DataShape, build_data, dataset_shape, register_dataset
from rgp_bench.data.splits import check_seed

PER_FILE = 20
CIFAR10_MEAN, CIFAR10_STD = (0.491, 0.482, 0.447), (0.247, 0.243, 0.262)


def cfg(name: str, **kw):
    return OmegaConf.structured(DatasetCfg(name=name, **kw))


def all_items(ds) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*(ds[i] for i in range(len(ds))), strict=True)
    return torch.stack(xs), torch.tensor(ys)


def fake_images(n: int, rng: np.random.Generator, marker: int) -> np.ndarray:
    """N×3072 uint8 in CIFAR's row layout (R plane, G plane, B plane); pixel 0 of R = `marker`."""
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    data[:, 0] = marker
    return data


def write_cifar10(root: Path) -> dict[str, np.ndarray]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    out: dict[str, np.ndarray] = {}
    for i in range(1, 6):
        data = fake_images(PER_FILE, rng, marker=0)
        labels = [int(v) for v in rng.integers(0, 10, PER_FILE)]
        entry = {b"batch_label": f"training batch {i} of 5".encode(), b"labels": labels, b"data": data}
        entry[b"filenames"] = [f"img_{i}_{j}.png".encode() for j in range(PER_FILE)]
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(entry, protocol=2))
        out[f"data_batch_{i}"] = data
    test = fake_images(PER_FILE, rng, marker=255)
    entry = {b"batch_label": b"testing batch 1 of 1", b"labels": list(range(10)) * 2, b"data": test}
    (folder / "test_batch").write_bytes(pickle.dumps(entry, protocol=2))
    out["test_batch"] = test
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer"]
    names += [b"dog", b"frog", b"horse", b"ship", b"truck"]
    meta = {b"num_cases_per_batch": PER_FILE, b"label_names": names, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return out


def write_cifar100(root: Path) -> None:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for split, n in (("train", 200), ("test", 30)):
        entry = {
            b"batch_label": f"{split} batch".encode(),
            b"data": fake_images(n, rng, marker=0),
            b"fine_labels": [i % 100 for i in range(n)],
            b"coarse_labels": [i % 20 for i in range(n)],
            b"filenames": [f"{split}_{i}.png".encode() for i in range(n)],
        }
        (folder / split).write_bytes(pickle.dumps(entry, protocol=2))
    meta = {b"fine_label_names": [f"class{i}".encode() for i in range(100)]}
    meta[b"coarse_label_names"] = [f"super{i}".encode() for i in range(20)]
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))


def normalised(raw_row: np.ndarray, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    x = torch.from_numpy(raw_row.reshape(3, 32, 32).astype(np.float32) / 255.0)
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


# ---------------------------------------------------------------- digits


def test_digits_splits_partition_the_data_and_are_stratified() -> None:
    b = build_data(cfg("digits", test_fraction=0.2, val_fraction=0.1, split_seed=3))
    assert (b.in_channels, b.image_size, b.num_classes) == (1, 8, 10)
    tr, va, te = (set(d.indices.tolist()) for d in (b.train, b.val, b.test))
    assert len(tr) + len(va) + len(te) == 1797
    assert tr | va | te == set(range(1797))
    assert not (tr & va or tr & te or va & te)
    assert len(b.test) == round(0.2 * 1797)
    assert len(b.val) == round(0.1 * (1797 - len(b.test)))
    all_labels = b.train.all_labels
    for d in (b.test, b.val):
        share = torch.bincount(d.labels, minlength=10).float()
        expected = torch.bincount(all_labels, minlength=10).float() * len(d) / 1797
        assert (share - expected).abs().max() <= 1.5  # stratified: every class in proportion
    x, y = b.train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and isinstance(y, int)


def test_digits_is_deterministic_and_standardised_on_train() -> None:
    a = build_data(cfg("digits", split_seed=7))
    b = build_data(cfg("digits", split_seed=7))
    for sa, sb in ((a.train, b.train), (a.val, b.val), (a.test, b.test)):
        assert torch.equal(sa.indices, sb.indices)
        xa, ya = all_items(sa)
        xb, yb = all_items(sb)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    xtr, _ = all_items(a.train)
    assert abs(xtr.mean().item()) < 1e-4 and xtr.std().item() == pytest.approx(1.0, abs=1e-3)
    other = build_data(cfg("digits", split_seed=8))
    assert not torch.equal(a.test.indices, other.test.indices)


def test_digits_matches_sklearn_and_ignores_augment() -> None:
    from sklearn.datasets import load_digits

    raw = load_digits()
    b = build_data(cfg("digits", augment=True))
    i = 5
    x, y = b.val[i]
    src = int(b.val.indices[i])
    expected = (torch.from_numpy(raw.images[src] / 16.0).float() - b.val.mean[0]) / b.val.std[0]
    assert torch.allclose(x[0], expected, atol=1e-5) and y == raw.target[src]
    # Val is carved from the training pool: same source array as train, no overlap with test.
    assert b.val.images is b.train.images
    assert set(b.val.indices.tolist()).isdisjoint(b.test.indices.tolist())
    assert not b.train.augment and torch.equal(b.train[0][0], b.train[0][0])  # no augmentation for digits


# ---------------------------------------------------------------- CIFAR


def test_cifar10_loads_real_format(tmp_path: Path) -> None:
    raw = write_cifar10(tmp_path)
    b = build_data(cfg("cifar10", root=str(tmp_path), val_fraction=0.1, augment=False))
    assert isinstance(b, DataBundle)
    assert (b.in_channels, b.image_size, b.num_classes) == (3, 32, 10)
    assert (len(b.train), len(b.val), len(b.test)) == (90, 10, 20)
    assert b.classes[0] == "airplane" and len(b.classes) == 10
    train_raw = np.concatenate([raw[f"data_batch_{i}"] for i in range(1, 6)])
    train_labels = np.concatenate(
        [pickle.loads((tmp_path / f"cifar-10-batches-py/data_batch_{i}").read_bytes())[b"labels"] for i in range(1, 6)]
    )
    for ds in (b.train, b.val):
        for i in (0, len(ds) - 1):
            x, y = ds[i]
            src = int(ds.indices[i])
            assert x.shape == (3, 32, 32) and x.dtype == torch.float32
            assert torch.allclose(x, normalised(train_raw[src]), atol=1e-6)
            assert y == train_labels[src]
    x, y = b.test[3]
    assert torch.allclose(x, normalised(raw["test_batch"][3]), atol=1e-6) and y == 3
    # Val comes from the training files: the red marker pixel is 0 there and 255 in the test batch.
    xv, _ = all_items(b.val)
    marker = xv[:, 0, 0, 0] * CIFAR10_STD[0] + CIFAR10_MEAN[0]
    assert torch.allclose(marker, torch.zeros(len(b.val)), atol=1e-5)
    assert set(b.val.indices.tolist()).isdisjoint(b.train.indices.tolist())
    again = build_data(cfg("cifar10", root=str(tmp_path), val_fraction=0.1, augment=False))
    assert torch.equal(again.val.indices, b.val.indices)


def test_cifar_augmentation_only_on_train(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    b = build_data(cfg("cifar10", root=str(tmp_path), augment=True))
    assert b.train.augment and not b.val.augment and not b.test.augment
    torch.manual_seed(0)
    raw = b.train.images[int(b.train.indices[0])].float() / 255.0
    padded = torch.nn.functional.pad(raw, (4, 4, 4, 4))
    mean, std = torch.tensor(CIFAR10_MEAN).view(3, 1, 1), torch.tensor(CIFAR10_STD).view(3, 1, 1)
    candidates = []
    for top in range(9):
        for left in range(9):
            crop = padded[:, top : top + 32, left : left + 32]
            candidates += [(crop - mean) / std, (crop.flip(-1) - mean) / std]
    seen = {tuple(b.train[0][0].flatten()[:64].tolist()) for _ in range(12)}
    assert len(seen) > 1  # random
    for _ in range(12):
        x, _ = b.train[0]
        assert any(torch.allclose(x, c, atol=1e-6) for c in candidates)  # a padded crop, maybe flipped
    for ds in (b.val, b.test):
        assert torch.equal(ds[0][0], ds[0][0])


def test_cifar100_loads_real_format(tmp_path: Path) -> None:
    write_cifar100(tmp_path)
    b = build_data(cfg("cifar100", root=str(tmp_path), val_fraction=0.5, augment=False))
    assert (b.in_channels, b.image_size, b.num_classes) == (3, 32, 100)
    assert (len(b.train), len(b.val), len(b.test)) == (100, 100, 30)
    assert b.classes[99] == "class99"
    # 2 samples per class, val_fraction 0.5: stratification puts exactly one of each class in val.
    assert torch.equal(torch.bincount(b.val.labels, minlength=100), torch.ones(100, dtype=torch.long))
    x, y = b.test[7]
    assert y == 7
    raw = pickle.loads((tmp_path / "cifar-100-python/test").read_bytes())[b"data"][7]
    assert torch.allclose(x, normalised(raw, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)), atol=1e-6)


@pytest.mark.parametrize(("name", "folder"), [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python")])
def test_missing_cifar_without_download(tmp_path: Path, name: str, folder: str) -> None:
    with pytest.raises(UserError) as info:
        build_data(cfg(name, root=str(tmp_path / "nowhere"), download=False))
    msg = str(info.value)
    assert str((tmp_path / "nowhere" / folder).resolve()) in msg
    assert "dataset.download=true" in msg and "\n" not in msg


def test_malformed_cifar_file(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="data_batch_3"):
        build_data(cfg("cifar10", root=str(tmp_path)))


# ---------------------------------------------------------------- synthetic and errors


def test_each_dataset_declares_the_shape_its_builder_gives(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    write_cifar100(tmp_path)
    for c in (cfg("digits"), cfg("synthetic", channels=2, image_size=12, num_classes=4, num_samples=200),
              cfg("cifar10", root=str(tmp_path)), cfg("cifar100", root=str(tmp_path))):
        b = build_data(c)
        assert dataset_shape(c) == DataShape(b.in_channels, b.image_size, b.num_classes, b.spatial_dims), c.name


def test_a_dataset_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="'digits' is registered twice"):
        register_dataset("digits", shape=lambda c: DataShape(1, 8, 10))(lambda c, cache_dir: build_data(c))


def test_synthetic_follows_cfg_and_is_learnable() -> None:
    c = cfg("synthetic", channels=2, image_size=12, num_classes=4, num_samples=200, split_seed=5)
    b = build_data(c)
    assert (b.in_channels, b.image_size, b.num_classes) == (2, 12, 4)
    assert len(b.train) + len(b.val) + len(b.test) == 200 and len(b.test) == 40
    x, y = b.train[0]
    assert x.shape == (2, 12, 12) and 0 <= y < 4
    xtr, ytr = all_items(b.train)
    xte, yte = all_items(b.test)
    again = build_data(c)
    assert torch.equal(all_items(again.test)[0], xte)
    # Nearest class mean from the training split beats chance (25%) by far.
    means = torch.stack([xtr[ytr == k].mean(0) for k in range(4)])
    pred = torch.cdist(xte.flatten(1), means.flatten(1)).argmin(1)
    assert (pred == yte).float().mean().item() > 0.8


@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"test_fraction": -0.1}, "test_fraction"),
        ({"test_fraction": 1.5}, "test_fraction"),
    ],
)
@pytest.mark.parametrize("name", ["digits", "synthetic"])
def test_bad_fractions(name: str, kw: dict, key: str) -> None:
    with pytest.raises(UserError, match=re.escape(f"dataset.{key}")):
        build_data(cfg(name, **kw))


def test_bad_synthetic_values_and_empty_splits() -> None:
    for key in ("channels", "image_size", "num_classes", "num_samples"):
        with pytest.raises(UserError, match=re.escape(f"dataset.{key}")):
            build_data(cfg("synthetic", **{key: 0}))
    with pytest.raises(UserError, match="empty split"):
        build_data(cfg("synthetic", num_samples=3, test_fraction=0.1))
    with pytest.raises(UserError, match="val_fraction"):
        build_data(cfg("synthetic", num_samples=4, test_fraction=0.5, val_fraction=0.1))


@pytest.mark.parametrize("seed", ["abc", 1.7, 2.0, True, None, -1, "3"])
def test_bad_split_seed_is_a_one_line_error(seed) -> None:
    with pytest.raises(UserError, match=re.escape("dataset.split_seed")) as info:
        check_seed(seed)
    assert repr(seed) in str(info.value) and "\n" not in str(info.value)


def test_split_seed_accepts_integers() -> None:
    assert check_seed(0) == 0 and check_seed(7) == 7
    assert check_seed(np.int64(5)) == 5 and type(check_seed(np.int64(5))) is int


def test_unknown_dataset() -> None:
    with pytest.raises(UserError, match="'mnist'") as info:
        build_data(cfg("mnist"))
    assert all(name in str(info.value) for name in DATASETS)


def test_the_readme_lists_the_cifar_files_the_error_message_names() -> None:
    from rgp_bench.data.cifar import SPECS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for spec in SPECS.values():
        assert f"`data/{spec.folder}/` with {spec.expected}" in " ".join(readme.split())
