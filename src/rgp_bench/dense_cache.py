"""Dense checkpoint cache for the finetune regime: each dense model is trained once and shared.

The key covers everything that shapes the dense weights (data, model, seed, pretraining recipe,
numerics), so every method and ratio of a sweep reuses the same checkpoint. Concurrent jobs serialise
on a lock file; the checkpoint itself is written atomically, so readers never see a torn file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import nn

from rgp_bench.fileio import file_lock
from rgp_bench.hardware import device_type
from rgp_bench.train.checkpoint import load_checkpoint, save_checkpoint

CACHE_VERSION = 2
_PRETRAIN_KEYS = ("batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay", "schedule",
                  "step_size", "gamma", "label_smoothing", "limit_batches")


def dense_key(cfg: DictConfig, epochs: int) -> str:
    """Hash of what determines the pretrained dense weights."""
    dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
    assert isinstance(dataset, dict)
    for volatile in ("root", "download"):
        dataset.pop(volatile, None)
    payload = {
        "version": CACHE_VERSION, "dataset": dataset, "model": OmegaConf.to_container(cfg.model, resolve=True),
        "seed": cfg.seed, "epochs": epochs, "train": {k: cfg.train[k] for k in _PRETRAIN_KEYS},
        "numerics": {"device": device_type(cfg.hardware),
                     **{k: cfg.hardware[k] for k in ("precision", "deterministic", "workers")}},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def pretrained_dense(model: nn.Module, cache_dir: Path, key: str,
                     train: Callable[[Path], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """Load the dense weights for `key` into `model`, training them with `train(checkpoint)` on a miss.

    `train(checkpoint)` trains `model` in place, keeping an epoch checkpoint at the given path (so a killed
    job resumes its pretraining), and returns JSON-able metadata (history, dense test scores), stored
    beside the weights. Returns (metadata, cache_hit).
    """
    path = cache_dir / f"{key}.pt"
    with file_lock(cache_dir / f"{key}.lock"):
        saved = load_checkpoint(path)
        if saved is not None and saved.get("key") == key:
            model.load_state_dict(saved["model"])
            return saved["meta"], True
        partial = cache_dir / f"{key}.partial.pt"
        meta = train(partial)
        save_checkpoint(path, {"key": key, "model": model.state_dict(), "meta": meta})
        partial.unlink(missing_ok=True)
        return meta, False
