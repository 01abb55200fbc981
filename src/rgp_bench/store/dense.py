"""Dense checkpoint cache for the finetune regime: each dense model is trained once and shared.

The key covers everything that shapes the dense weights: the data (minus paths), the model, the seed,
the pretraining epochs, every training setting except a short named list, and the numerics. So every
method and ratio of a sweep reuses the same checkpoint, and a new training setting can never silently
reuse a stale one. Concurrent jobs serialise on a lock file; the checkpoint is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf
from torch import nn

from rgp_bench.config.facts import group_keys_without
from rgp_bench.config.fields import Effect
from rgp_bench.core.fileio import TEMP_GLOB, file_lock, try_file_lock
from rgp_bench.core.hardware import device_type, resolved_threads
from rgp_bench.train.checkpoint import load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)
CACHE_VERSION = 2
# Training settings that cannot change the dense weights: which regime runs, the pruned phase's own epochs
# and learning rate (the pretraining epochs are hashed separately), evaluation batching, progress bars.
NOT_PRETRAINING = group_keys_without("train", Effect.DENSE)
_DATA_PATHS = ("root", "download")
_NUMERICS = ("precision", "deterministic", "workers")


def _container(node: DictConfig) -> dict[str, Any]:
    data = cast("dict[str, Any]", OmegaConf.to_container(node, resolve=True, enum_to_str=True))  # str keys
    assert isinstance(data, dict)
    return data


def dense_key(cfg: DictConfig, epochs: int) -> str:
    """Hash of what determines the pretrained dense weights."""
    dataset = {k: v for k, v in _container(cfg.dataset).items() if k not in _DATA_PATHS}
    train = {k: v for k, v in _container(cfg.train).items() if k not in NOT_PRETRAINING}
    payload = {
        "version": CACHE_VERSION, "dataset": dataset, "model": _container(cfg.model),
        "seed": cfg.seed, "epochs": epochs, "train": train,
        "numerics": {"device": device_type(cfg.hardware), "threads": resolved_threads(cfg.hardware),
                     **{k: v for k, v in _container(cfg.hardware).items() if k in _NUMERICS}},
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
        if isinstance(saved, dict) and saved.get("key") == key and {"model", "meta"} <= set(saved):
            try:
                model.load_state_dict(saved["model"])
                return saved["meta"], True
            except (RuntimeError, TypeError, KeyError) as exc:
                log.warning("dense checkpoint %s does not fit this model (%s); training it again", path, exc)
        elif saved is not None:
            log.warning("dense checkpoint %s is not one of this cache's entries; training it again", path)
        partial = cache_dir / f"{key}.partial.pt"
        meta = train(partial)
        save_checkpoint(path, {"key": key, "model": model.state_dict(), "meta": meta})
        partial.unlink(missing_ok=True)
        return meta, False


def remove_stale_dense_temps(cache_dir: Path, started: float) -> list[Path]:
    """Remove the temp files a killed job left in the dense cache: written before `started` (a Unix time), for a key
    whose lock no job holds. Returns those removed."""
    removed = []
    for tmp in sorted(cache_dir.glob(TEMP_GLOB)) if cache_dir.is_dir() else []:
        key = tmp.name[1:].split(".", 1)[0]  # .<key>.pt.<random>.tmp or .<key>.partial.pt.<random>.tmp
        with try_file_lock(cache_dir / f"{key}.lock") as held:
            try:
                if held and tmp.stat().st_mtime < started:
                    tmp.unlink()
                    removed.append(tmp)
            except OSError:  # gone meanwhile
                continue
    return removed
