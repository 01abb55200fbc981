"""Dense checkpoint cache for the finetune regime: each dense model is trained once and shared.

The key covers everything that shapes the dense weights (data, model, seed, pretraining recipe,
numerics), so every method and ratio of a sweep reuses the same checkpoint. Concurrent jobs serialise
on a lock file; the checkpoint itself is written atomically, so readers never see a torn file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import nn

from rgp_bench.train.checkpoint import load_checkpoint, save_checkpoint

CACHE_VERSION = 1
_PRETRAIN_KEYS = ("batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay", "schedule",
                  "step_size", "gamma", "label_smoothing")


def dense_key(cfg: DictConfig, epochs: int) -> str:
    """Hash of what determines the pretrained dense weights."""
    dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
    assert isinstance(dataset, dict)
    for volatile in ("root", "download"):
        dataset.pop(volatile, None)
    payload = {
        "version": CACHE_VERSION, "dataset": dataset, "model": OmegaConf.to_container(cfg.model, resolve=True),
        "seed": cfg.seed, "epochs": epochs, "train": {k: cfg.train[k] for k in _PRETRAIN_KEYS},
        "numerics": {k: cfg.hardware[k] for k in ("device", "precision", "deterministic", "workers")},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pretrained_dense(model: nn.Module, cache_dir: Path, key: str,
                     train: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """Load the dense weights for `key` into `model`, training them with `train()` on a cache miss.

    `train()` trains `model` in place and returns JSON-able metadata (history, dense test scores),
    stored beside the weights. Returns (metadata, cache_hit).
    """
    path = cache_dir / f"{key}.pt"
    with _locked(cache_dir / f"{key}.lock"):
        saved = load_checkpoint(path)
        if saved is not None and saved.get("key") == key:
            model.load_state_dict(saved["model"])
            return saved["meta"], True
        meta = train()
        save_checkpoint(path, {"key": key, "model": model.state_dict(), "meta": meta})
        return meta, False
