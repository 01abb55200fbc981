"""L1-magnitude unstructured pruning of a trained model, global or layer-wise (torch.nn.utils.prune.L1Unstructured)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rgp_bench.config.choices import Regime, Scope
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.selection import keep_top


@dataclass
class MagnitudeCfg(MethodCfg):
    name: str = "magnitude"
    scope: Scope = Scope["global"]


@register_method(MagnitudeCfg, canonical_regime=Regime.finetune, style=MethodStyle("#0072b2", "s"), scored=True,
                 description="L1-magnitude unstructured pruning")
def magnitude_masks(cfg: MagnitudeCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Keep the largest-|w| weights: over all prunable layers at once (`global`) or within each layer."""
    scores = {layer.name: layer.module.weight.detach().abs().float().cpu() for layer in layers}
    kept = keep_top(list(scores.values()), ratio, cfg.scope)
    return MaskResult(dict(zip(scores, kept, strict=True)), {"scope": str(cfg.scope)}, scores=scores)
