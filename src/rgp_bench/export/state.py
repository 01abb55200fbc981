"""A run's pruned model state in its run directory (`model.pt`), and rebuilding the model from it.

The file holds the state dict with every mask in force (`*_orig`/`*_mask` pairs from torch.nn.utils.prune
and channel gates), plus what is needed to rebuild the architecture: the resolved config and the input
shape. It loads with `torch.load(..., weights_only=True)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn
from torch.nn.utils import prune

from rgp_bench.core.errors import UserError
from rgp_bench.core.fileio import atomic_path
from rgp_bench.models import build_model
from rgp_bench.pruning import apply_channel_gates
from rgp_bench.pruning.masks import GATE_BUFFER

MODEL_FILE = "model.pt"
FORMAT = 1


def save_model_state(out_dir: Path, model: nn.Module, *, input_shape: tuple[int, ...], num_classes: int,
                     config: dict[str, Any]) -> Path:
    """Write `out_dir/model.pt` atomically (weights, masks, gates, config, input shape)."""
    path = out_dir / MODEL_FILE
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "state_dict": state, "input_shape": list(input_shape),
                    "num_classes": num_classes, "config": config}, tmp)
    return path


def read_model_file(path: Path) -> dict[str, Any]:
    """The saved state; UserError (one line) when it is missing or not a model file of this format."""
    if not path.is_file():
        raise UserError(f"no saved model at {path}; runs write {MODEL_FILE} when they complete")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a torn or foreign file
        raise UserError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT or "state_dict" not in saved:
        raise UserError(f"{path} is not an rgp-bench model file (format {FORMAT})")
    return saved


def load_model(run_dir: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a run's model with its masks and gates in force, in eval mode; returns (model, saved file)."""
    saved = read_model_file(run_dir / MODEL_FILE)
    cfg = OmegaConf.create(saved["config"])
    channels, size = saved["input_shape"][0], saved["input_shape"][-1]
    model = build_model(cfg.model, channels, size, saved["num_classes"], len(saved["input_shape"]) - 1)
    state = saved["state_dict"]
    for key in state:
        module_name, _, attr = key.rpartition(".")
        if attr.endswith("_orig"):
            prune.identity(model.get_submodule(module_name), attr.removesuffix("_orig"))
        elif attr == GATE_BUFFER:
            apply_channel_gates(model, {module_name: torch.ones(state[key].numel(), dtype=torch.bool)})
    model.load_state_dict(state)
    return model.eval(), saved
