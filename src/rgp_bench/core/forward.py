"""One forward pass with temporary hooks: how the code reads execution order, shapes and per-layer inputs."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


def forward_once(model: nn.Module, example: torch.Tensor, handles: Iterable[RemovableHandle]) -> None:
    """Run `model` on `example` in eval mode without autograd, then remove `handles` and restore the mode."""
    handles = list(handles)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
