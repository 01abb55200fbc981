"""Double-precision copies of a model for data-free path computations: SynFlow's scoring copy and the 0/1 path
copy of the layer-collapse check.

`synflow_copy` is the Synaptic-Flow reference's `linearize` (ganguli-lab/Synaptic-Flow `Pruners/pruners.py`,
`SynFlow.score`): every entry of the state dict, parameters *and* buffers (BN running mean and variance, γ, β),
replaced by its absolute value, BatchNorm in eval mode. At initialisation (running mean 0, variance 1, γ = 1,
β = 0) BN is then the identity up to 1/sqrt(1 + eps) and the network computes a sum over its input-output paths
of products of |w|; on a trained model BN's |running mean| can make pre-activations negative, which ReLU then
zeroes, exactly as in the reference. Two deliberate differences: float64 (float32 path sums overflow to inf on
ResNet-56/110) and ReLU6 becomes ReLU (a clip at 6 would cut large path sums and zero their gradients).

`path_copy` replaces BatchNorm and ReLU6 by the identity: the path structure alone, for the layer-collapse check.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import prune


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


def _replace(model: nn.Module, kinds: tuple[type[nn.Module], ...], make: type[nn.Module]) -> None:
    """Replace every submodule of one of `kinds` by `make()`."""
    for name, module in list(model.named_modules()):
        if name and isinstance(module, kinds):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, make())


def _plain_copy(model: nn.Module) -> nn.Module:
    """A deep copy with any torch.nn.utils.prune masks folded into the parameters."""
    out = _deepcopy(model)
    _remove_reparametrisation(out)
    return out


def path_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode and float64, prune masks folded in, BatchNorm and ReLU6 replaced by the identity.

    Its parameters are still the model's (signed) values; callers set them (e.g. a 0/1 mask).
    """
    out = _plain_copy(model)
    _replace(out, (_BatchNorm, nn.ReLU6), nn.Identity)
    return out.eval().double()


def synflow_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode and float64, prune masks folded in, ReLU6 replaced by ReLU, and every floating-point
    state entry (parameters and buffers, BN statistics included) replaced by its absolute value."""
    out = _plain_copy(model)
    _replace(out, (nn.ReLU6,), nn.ReLU)
    out = out.eval().double()
    with torch.no_grad():
        for tensor in out.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    return out


def ones_input(example: torch.Tensor) -> torch.Tensor:
    """An all-ones float64 batch of one, shaped like one input of `example` (which has a batch dimension)."""
    return torch.ones((1, *example.shape[1:]), dtype=torch.float64, device=example.device)
