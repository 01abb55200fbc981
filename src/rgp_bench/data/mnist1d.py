"""MNIST-1D (Greydanus & Kobak, "Scaling Down Deep Learning with MNIST-1D", ICML 2024; arXiv 2011.14439).

Generated offline and deterministically from the package's digit templates with
`mnist1d.data.make_dataset(args)`; the package's download path is never used. The defaults are the published
dataset: 5,000 signals of length 40, the first 80 % for training and the rest as the test split (4,000 /
1,000). Validation is carved from the training part (stratified, seeded by `split_seed`). The generator's
own arguments can be changed through `dataset.generator` (e.g. `+dataset.generator.shuffle_seq=true`).
The generated arrays are cached under `cache_dir/data/mnist1d/`, keyed by the generator arguments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from rgp_bench.config.fields import KeysFrom
from rgp_bench.config.schema import MIN_SAMPLES, mnist1d_generator_options
from rgp_bench.core.errors import UserError
from rgp_bench.core.fileio import atomic_path
from rgp_bench.data.dataset import DataBundle, ImageDataset
from rgp_bench.data.registry import DataShape, register_dataset
from rgp_bench.data.splits import check_fraction, check_seed, stratified_split

log = logging.getLogger(__name__)
NUM_CLASSES = 10
CACHE_VERSION = 1
_VAL_STREAM = 1


def generator_args(cfg: Any) -> dict[str, Any]:
    """The arguments for `mnist1d.data.make_dataset`: the package defaults with this config's changes.

    Raises UserError (one line) for an unknown generator option or too few samples.
    """
    from mnist1d.data import get_dataset_args

    defaults = get_dataset_args(as_dict=True)
    given = cfg.get("generator") or {}
    # A DictConfig mapping converts to a dict (the stubs allow any container).
    extra = cast("dict[str, Any]", OmegaConf.to_container(given)) if isinstance(given, DictConfig) else dict(given)
    KeysFrom(mnist1d_generator_options)("dataset.generator", extra)
    MIN_SAMPLES("dataset.num_samples", cfg.num_samples)
    num_samples = cfg.num_samples
    seed = check_seed(cfg.generator_seed)
    args = {**defaults, **extra, "num_samples": int(num_samples), "seed": seed}
    args.pop("url")
    return args


def _cache_key(args: dict[str, Any]) -> str:
    from importlib.metadata import version

    payload = {"version": CACHE_VERSION, "mnist1d": version("mnist1d"), "numpy": np.__version__, "args": args}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def generate(args: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run the package's generator; the global random/numpy state it reseeds is restored afterwards."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(ObjectView({**args, "url": None}))
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}


def load_arrays(args: dict[str, Any], cache_dir: Path | None) -> dict[str, np.ndarray]:
    """The generated arrays, from the cache when present (a damaged cache entry is regenerated)."""
    path = None if cache_dir is None else cache_dir / "mnist1d" / f"{_cache_key(args)}.npz"
    if path is not None and path.is_file():
        try:
            with np.load(path) as cached:
                return {k: cached[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError) as exc:
            log.warning("MNIST-1D cache entry %s is unreadable (%s); generating it again", path, exc)
    arrays = generate(args)
    if path is not None:
        try:
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                # mypy matches **arrays against savez's `allow_pickle: bool` keyword; the keys are array names.
                np.savez(fh, **arrays)  # type: ignore[arg-type]
        except OSError as exc:  # a read-only or full cache only costs the generation next time
            log.warning("MNIST-1D arrays not cached at %s: %s", path, exc)
    return arrays


def mnist1d_shape(cfg: Any) -> DataShape:
    """One channel of `generator.final_seq_length` samples (40 by default), 10 classes."""
    length = (cfg.get("generator") or {}).get("final_seq_length", 40)
    return DataShape(1, int(length), 10, spatial_dims=1)


@register_dataset("mnist1d", shape=mnist1d_shape)
def build_mnist1d(cfg: Any, cache_dir: Path | None = None) -> DataBundle:
    """Generate (or load) MNIST-1D and split it: the generator's train part -> train/val, its test part -> test."""
    args = generator_args(cfg)
    val_fraction = check_fraction("val_fraction", cfg.val_fraction)
    seed = check_seed(cfg.split_seed)
    arrays = load_arrays(args, cache_dir)
    x = np.concatenate([arrays["x"], arrays["x_test"]]).astype(np.float32)
    y = np.concatenate([arrays["y"], arrays["y_test"]]).astype(np.int64)
    n_train = len(arrays["y"])
    if n_train == 0 or n_train == len(y):
        raise UserError(f"dataset.generator.train_split={args['train_split']} leaves an empty split; "
                        "valid: a fraction in (0, 1)")
    signals = torch.from_numpy(x).unsqueeze(1)  # N x 1 x L
    labels = torch.from_numpy(y)
    train_idx, val_idx = stratified_split(y[:n_train], val_fraction, seed, _VAL_STREAM, "val_fraction")
    test_idx = np.arange(n_train, len(y))

    def subset(idx: np.ndarray) -> ImageDataset:
        # make_dataset already centres and scales the signals to unit variance.
        return ImageDataset(signals, labels, idx, [0.0], [1.0], augment=False)

    return DataBundle(name="mnist1d", train=subset(train_idx), val=subset(val_idx), test=subset(test_idx),
                      in_channels=1, image_size=int(x.shape[-1]), num_classes=NUM_CLASSES,
                      classes=tuple(str(d) for d in range(NUM_CLASSES)), spatial_dims=1)
