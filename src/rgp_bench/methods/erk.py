"""Random masks with Erdős–Rényi layer densities: `erk` (Evci et al., ICML 2020, kernel included) and `er`.

Positions inside a layer are uniformly random; the densities are rigl's (`rgp_bench.pruning.densities`), rounded to
integer counts so the total kept is exactly n − round(ratio · n) of the n prunable weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rgp_bench.config.choices import Regime
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.densities import erdos_renyi_densities, exact_counts
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.selection import keep_random


@dataclass
class ErkCfg(MethodCfg):
    name: str = "erk"


@dataclass
class ErCfg(MethodCfg):
    name: str = "er"


def erdos_renyi_masks(layers: Sequence[PrunableLayer], ratio: float, seed: int, kernel: bool) -> MaskResult:
    """Random masks with ER(K) layer densities and exactly the requested total count."""
    sizes = [layer.module.weight.numel() for layer in layers]
    total = sum(sizes)
    keep = total - round(ratio * total)
    densities, epsilon = erdos_renyi_densities([layer.weight_shape for layer in layers], keep / total, kernel)
    counts = exact_counts([d * n for d, n in zip(densities, sizes, strict=True)], sizes, keep)
    generator = torch.Generator().manual_seed(seed)
    masks = {layer.name: keep_random(n, c, generator).view(layer.weight_shape)
             for layer, n, c in zip(layers, sizes, counts, strict=True)}
    info = {"epsilon": epsilon, "dense_layers": [layer.name for layer, d in zip(layers, densities, strict=True)
                                                 if d >= 1.0],
            "densities": {layer.name: c / n for layer, n, c in zip(layers, sizes, counts, strict=True)}}
    return MaskResult(masks, info)


@register_method(ErkCfg, canonical_regime=Regime.scratch, style=MethodStyle("#999933", ">"),
                 description="random masks with Erdős–Rényi-Kernel layer densities (Evci et al., ICML 2020)")
def erk_masks(cfg: ErkCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Random masks, layer density ∝ (Σ weight dims)/(∏ weight dims), kernel dims included."""
    return erdos_renyi_masks(layers, ratio, ctx.seed, kernel=True)


@register_method(ErCfg, canonical_regime=Regime.scratch, style=MethodStyle("#ddcc77", "d"),
                 description="random masks with Erdős–Rényi layer densities (Mocanu et al., 2018)")
def er_masks(cfg: ErCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Random masks, layer density ∝ (out + in)/(out · in), the kernel left out."""
    return erdos_renyi_masks(layers, ratio, ctx.seed, kernel=False)
