"""Random unstructured pruning: the sanity baseline every method must beat (`scope: layer` is the uniform one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rgp_bench.config.choices import Regime, Scope
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.selection import keep_random


@dataclass
class RandomCfg(MethodCfg):
    name: str = "random"
    # layer: the same density in every layer (the uniform baseline); global: one draw over all layers.
    scope: Scope = Scope.layer


@register_method(RandomCfg, canonical_regime=Regime.scratch, style=MethodStyle("#777777", "v"),
                 description="uniform random unstructured pruning")
def random_masks(cfg: RandomCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Remove `ratio` of the weights uniformly at random: per layer (`scope=layer`) or over all layers."""
    generator = torch.Generator().manual_seed(ctx.seed)
    sizes = [layer.module.weight.numel() for layer in layers]
    if cfg.scope == Scope.layer:
        flat = [keep_random(n, round(n * (1.0 - ratio)), generator) for n in sizes]
    else:
        total = sum(sizes)
        pooled = keep_random(total, round(total * (1.0 - ratio)), generator)
        flat = list(torch.split(pooled, sizes))
    masks = {layer.name: m.view(layer.weight_shape) for layer, m in zip(layers, flat, strict=True)}
    return MaskResult(masks, {"scope": str(cfg.scope)})
