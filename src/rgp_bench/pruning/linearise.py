"""A non-negative, double-precision copy of a model, for data-free path computations (SynFlow, layer collapse).

With non-negative weights and an all-ones input every activation is non-negative, so each ReLU is the identity
and the network computes a sum over its input-output paths of products of weights. BatchNorm becomes the
identity (the Synaptic-Flow reference runs BN in eval mode, which at initialisation, running mean 0 and
variance 1 with γ = 1, β = 0, is the identity up to 1/sqrt(1 + eps)), and so does ReLU6, which would otherwise
clip large path sums and zero their gradients.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import prune

_TO_IDENTITY = (_BatchNorm, nn.ReLU6)


def _pruned_tensors(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, tensor name) of every tensor masked through torch.nn.utils.prune."""
    return [(module, hook._tensor_name) for module in model.modules()
            for hook in module._forward_pre_hooks.values() if isinstance(hook, prune.BasePruningMethod)]


def _deepcopy(model: nn.Module) -> nn.Module:
    # A pruned tensor (weight = weight_orig * mask) is not a graph leaf, which deepcopy refuses: copy it detached.
    memo = {id(t): t.detach().clone() for t in (getattr(m, name) for m, name in _pruned_tensors(model))
            if not t.is_leaf}
    return copy.deepcopy(model, memo)


def _remove_reparametrisation(model: nn.Module) -> None:
    """Fold torch.nn.utils.prune masks into the parameters (weight = weight_orig * mask)."""
    for module, name in _pruned_tensors(model):
        prune.remove(module, name)


def _replace_with_identity(model: nn.Module) -> None:
    for name, module in list(model.named_modules()):
        if name and isinstance(module, _TO_IDENTITY):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, nn.Identity())


def path_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode and float64, prune masks folded in, BatchNorm and ReLU6 replaced by the identity.

    Its parameters are still the model's (signed) values; callers set them (|w|, or a 0/1 mask).
    """
    out = _deepcopy(model)
    _remove_reparametrisation(out)
    _replace_with_identity(out)
    return out.eval().double()


def ones_input(example: torch.Tensor) -> torch.Tensor:
    """An all-ones float64 batch of one, shaped like one input of `example` (which has a batch dimension)."""
    return torch.ones((1, *example.shape[1:]), dtype=torch.float64, device=example.device)
