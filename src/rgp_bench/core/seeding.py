"""Every random stream of a run, derived from the run's `seed` in one place.

Each stream has a `Purpose`. The run seed itself seeds the global generators (model init, dropout) and is what a
method receives (`MaskContext.seed`: its masks, a search's agent and noise); every other stream is
`seed * STRIDE + offset + index` (mod 2**63), with the purpose's offset and, for a stream drawn anew each epoch
or pass, the epoch or pass as `index`. Runs of different seeds never share a derived stream as long as
offsets and indices stay below STRIDE.

The offsets are the historical ones, so every derived seed, and every result, is what it was before they were
gathered here. The dataset's splits have their own seed (`dataset.split_seed`, rgp_bench.data.splits).
"""

from __future__ import annotations

import os
import random
import sys
from enum import Enum

import numpy as np
import torch

STRIDE = 1_000_003  # a prime: the derived streams of run seeds s and s + 1 are this far apart
_EPOCH_STREAM = 10_007  # a prime: the spacing of the per-epoch streams, so epochs of two phases never meet


class Purpose(Enum):
    """What a random stream is for, with its offset from `seed * STRIDE` (None: the run seed itself)."""

    init = ("init", None)  # the global generators (Python, numpy, torch) as a run starts: the initial weights
    masks = ("masks", None)  # MaskContext.seed: a method's own draws (random masks, a search's agent and noise)
    pretrain_data = ("pretrain_data", 1 * _EPOCH_STREAM)  # per epoch: dense pretraining's order and augmentation
    train_data = ("train_data", 2 * _EPOCH_STREAM)  # per epoch: the pruned (or continued) phase's
    prune_batches = ("prune_batches", 3 * _EPOCH_STREAM)  # per pass: the training batches a method draws
    sanity_shuffle = ("sanity_shuffle", 0x5A1F)  # sanity=shuffle's permutation of each mask
    sanity_reinit = ("sanity_reinit", 0x4E17)  # sanity=reinit's new weights

    def __init__(self, label: str, offset: int | None) -> None:
        self.label = label
        self.offset = offset

    @classmethod
    def for_phase(cls, phase: str) -> Purpose:
        """The data stream of a training phase ("pretrain" or "train")."""
        return {"pretrain": cls.pretrain_data, "train": cls.train_data}[phase]


def derive_seed(seed: int, purpose: Purpose, index: int = 0) -> int:
    """The seed of `purpose`'s stream (its `index`-th draw: an epoch, a pass) for run seed `seed`."""
    if purpose.offset is None:
        if index:
            raise ValueError(f"the {purpose.label} stream is the run seed itself; it has no index {index}")
        return seed
    return (seed * STRIDE + purpose.offset + index) % 2**63


def seeded_generator(seed: int, purpose: Purpose, index: int = 0) -> torch.Generator:
    """A private torch generator for `purpose`'s stream (the global generators are left alone)."""
    return torch.Generator().manual_seed(derive_seed(seed, purpose, index))


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, numpy and torch with the run's `init` stream, and switch deterministic kernels on or off.

    Both branches set the switches, so jobs sharing a process (basic launcher) never inherit them.
    """
    seed = derive_seed(seed, Purpose.init)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    set_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic


def set_deterministic_algorithms(mode: bool) -> None:
    """`torch.use_deterministic_algorithms(mode, warn_only=True)`, without importing TorchInductor when it is not
    loaded yet: torch's function imports it (about 1.5 s, in every run and every sweep job) only to set its
    `deterministic` flag, which inductor reads from TORCHINDUCTOR_DETERMINISTIC when it is first imported."""
    if "torch._inductor.config" in sys.modules or not hasattr(torch._C, "_set_deterministic_algorithms"):
        torch.use_deterministic_algorithms(mode, warn_only=True)
        return
    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1" if mode else "0"
    torch._C._set_deterministic_algorithms(mode, warn_only=True)
