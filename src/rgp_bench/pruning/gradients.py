"""Loss gradients of the prunable weights on training batches: what SNIP's and GraSP's scores are made of.

Both work on a model copy (the method's `ctx.model`), in whatever mode the caller put it in, since the references
differ: SNIP scores with BatchNorm in inference mode (snip-public's pruning pass feeds `is_train: False`; the
Synaptic-Flow port's `prune_loop` calls `model.eval()`), GraSP in training mode, BN normalising each batch with its
own statistics (the authors' freshly built net). The prunable weights are found in the copy by layer name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from rgp_bench.core.layer_types import layer_at
from rgp_bench.pruning.layers import PrunableLayer

Batch = tuple[torch.Tensor, torch.Tensor]


def weights_of(model: nn.Module, layers: Sequence[PrunableLayer]) -> list[torch.Tensor]:
    """The weight parameter of each prunable layer, looked up by name in `model` (e.g. a private copy)."""
    return [layer_at(model, layer.name).weight for layer in layers]


def batch_loss(model: nn.Module, batch: Batch, temperature: float = 1.0) -> torch.Tensor:
    """Mean cross-entropy of `model` on one batch, logits divided by `temperature`."""
    x, y = batch
    return F.cross_entropy(model(x) / temperature, y)


def summed_gradients(model: nn.Module, weights: Sequence[torch.Tensor], batches: Iterable[Batch],
                     temperature: float = 1.0) -> list[torch.Tensor]:
    """Σ over `batches` of ∂(batch loss)/∂w for every tensor in `weights` (no graph kept), in `model`'s mode."""
    total = [torch.zeros_like(w) for w in weights]
    for batch in batches:
        grads = torch.autograd.grad(batch_loss(model, batch, temperature), list(weights))
        for acc, g in zip(total, grads, strict=True):
            acc.add_(g)
    return total


def hessian_gradient_product(model: nn.Module, weights: Sequence[torch.Tensor], batches: Iterable[Batch],
                             vector: Sequence[torch.Tensor], temperature: float = 1.0) -> list[torch.Tensor]:
    """Σ over `batches` of H·v, H the Hessian of the batch loss w.r.t. `weights`, by double backprop.

    Per batch: g = ∂L/∂w with its graph kept, then ∂(g·v)/∂w = H v (v held constant). In `model`'s mode.
    """
    total = [torch.zeros_like(w) for w in weights]
    for batch in batches:
        grads = torch.autograd.grad(batch_loss(model, batch, temperature), list(weights), create_graph=True)
        # A tensor, not the start value 0: there is at least one weight.
        dot = cast(torch.Tensor, sum((g * v.detach()).sum() for g, v in zip(grads, vector, strict=True)))
        products = torch.autograd.grad(dot, list(weights))
        for acc, hv in zip(total, products, strict=True):
            acc.add_(hv)
    return total
