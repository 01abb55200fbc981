"""What a pruning method is: a config schema plus a pure function from layers to masks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from rgp_bench.config.schema import MethodCfg
from rgp_bench.pruning.layers import PrunableLayer


@dataclass(frozen=True)
class MaskContext:
    """Run-level inputs a mask function may use besides the layers themselves."""

    seed: int
    cache_dir: Path | None = None
    progress: bool = False


@dataclass
class MaskResult:
    """Boolean keep-masks per layer name, plus method facts for the run record."""

    masks: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)
    # Multiply each layer's initial weights by this factor (only meaningful before training from scratch).
    init_scale: dict[str, float] = field(default_factory=dict)


MaskFn = Callable[[DictConfig, Sequence[PrunableLayer], float, MaskContext], MaskResult]


@dataclass(frozen=True)
class Method:
    """A registered pruning method."""

    name: str
    schema: type[MethodCfg]
    compute_masks: MaskFn
    description: str
