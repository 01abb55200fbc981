"""Record the input each named layer receives in one forward pass, for timing layers at the run's shapes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rgp_bench.core.forward import forward_once


def capture_inputs(model: nn.Module, names: Sequence[str], example: torch.Tensor) -> dict[str, torch.Tensor]:
    """Inputs of the named submodules during ``model(example)`` under inference mode (the model's own mode)."""
    modules = dict(model.named_modules())
    captured: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def record(_module: nn.Module, args: tuple) -> None:
            captured.setdefault(name, args[0].detach().clone())

        return record

    forward_once(model, example, [modules[name].register_forward_pre_hook(hook(name)) for name in names])
    missing = [name for name in names if name not in captured]
    if missing:
        raise ValueError(f"layer {missing[0]!r} did not run in the forward pass")
    return captured


def set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule at dotted path ``name``."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)
