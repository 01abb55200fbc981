"""The fast forms a masked layer can be replaced by, by name; "masked" (the layer as is) is the baseline."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import torch
from torch import nn
from torch.nn.utils import prune

from rgp_bench.speedup.direct import BlockSparseConv
from rgp_bench.speedup.grouped import GatherBmmLinear, GatherGroupedConv
from rgp_bench.speedup.linear import BlockSparseLinear
from rgp_bench.speedup.packing import Packing
from rgp_bench.speedup.tapsum import TapSumConv

MASKED = "masked"
LAYER_TYPES: Final = (nn.Conv1d, nn.Conv2d, nn.Linear)
_CONVS = (nn.Conv1d, nn.Conv2d)


@dataclass(frozen=True)
class Form:
    """A way to compute a block-masked layer; ``build`` raises FormUnavailable when it does not apply."""

    name: str
    layer_types: tuple[type[nn.Module], ...]
    build: Callable[[Any, Packing], nn.Module]  # takes a layer of one of layer_types (each form's own type)
    description: str


FORMS: dict[str, Form] = {
    form.name: form
    for form in (
        Form("grouped", _CONVS, GatherGroupedConv, "index_select of the read channels + one conv with groups=chunks"),
        Form("bmm", (nn.Linear,), GatherBmmLinear, "index_select of the read features + one batched matmul"),
        Form("tapsum", _CONVS, TapSumConv, "sum over slots x kernel taps, fused by torch.compile (freezing)"),
        Form("direct", LAYER_TYPES, lambda m, p: BlockSparseConv(m, p, shift_loads=False),
             "C++ register-tiled block-sparse direct convolution, one load per tap"),
        Form("direct_shift", LAYER_TYPES, lambda m, p: BlockSparseConv(m, p, shift_loads=True),
             "the same kernel, one load per kernel row, taps shifted in registers"),
        Form("gemm", (nn.Linear,), BlockSparseLinear,
             "C++ register-tiled block-sparse matrix product (inputs read in place, outputs vectorised)"),
    )
}
DEFAULT_FORMS: tuple[str, ...] = tuple(FORMS)
# Every form but the tap-sum, a module torch.compile compiles per layer (about 30 s a layer on this project's CPU;
# not exportable either): what a run's latency phase tries and what an export may contain.
UNCOMPILED_FORMS: tuple[str, ...] = tuple(name for name in FORMS if name != "tapsum")


def applicable_forms(module: nn.Module, names: Sequence[str]) -> list[Form]:
    """The named forms that handle this layer type, in the given order (unknown names raise ValueError)."""
    unknown = [name for name in names if name not in FORMS]
    if unknown:
        raise ValueError(f"unknown form {unknown[0]!r}; valid forms: {', '.join(FORMS)}")
    return [FORMS[name] for name in names if isinstance(module, FORMS[name].layer_types)]


def copy_module(module: nn.Module) -> nn.Module:
    """``copy.deepcopy`` that also copies pruned modules whose computed ``weight`` still carries autograd history.

    deepcopy refuses non-leaf tensors; such attributes (recomputed by the prune hook on every forward) are copied
    detached instead, and the original module is left untouched.
    """
    memo: dict[int, object] = {}
    for m in module.modules():
        for value in vars(m).values():
            if isinstance(value, torch.Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()
    return copy.deepcopy(module, memo)


def bake_mask(module: nn.Module) -> nn.Module:
    """A copy of a pruned layer with weight = weight_orig * weight_mask stored as a plain parameter (no hook)."""
    baked = copy_module(module)
    if prune.is_pruned(baked):
        for hook in list(baked._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(baked, hook._tensor_name)
    return baked
