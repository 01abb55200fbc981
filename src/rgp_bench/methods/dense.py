"""The dense reference: the unpruned model, trained for the same epochs as the pruned runs beside it.

It keeps every weight (budget `none`), so `ratio` cannot change it: its run identity leaves `ratio` out and one
dense run serves every ratio of a sweep. `train.regime=auto` gives `match`: `scratch` trains `train.epochs` from
initialisation (beside rgp, random, snip, ...); `finetune` takes the dense model from the dense cache (exactly as
a finetune run gets it, `train.pretrain_epochs`) and trains it on, unmasked, for `train.epochs` with the fine-tuning
recipe (`train.finetune_lr`): pretrain + train epochs in all, as magnitude, gnnrl, ... spend.
`conf/method/dense_finetune.yaml` is `match: finetune`, so one sweep gets a dense row for both regimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rgp_bench.config.choices import Budget, Choice, Regime
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer


class Match(Choice):
    scratch = "scratch"
    finetune = "finetune"



@dataclass
class DenseCfg(MethodCfg):
    name: str = "dense"
    # The regime `train.regime=auto` runs: the pruned runs this dense run is the reference of.
    match: Match = Match.scratch


def _matched_regime(cfg: DenseCfg) -> Regime:
    return Regime(str(cfg.match))


@register_method(DenseCfg, canonical_regime=Regime.scratch, style=MethodStyle("#000000", "H"),
                 budget=Budget.none, auto_regime=_matched_regime,
                 description="the unpruned model, trained for the same epochs as the pruned runs (the reference)")
def dense_masks(cfg: DenseCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Keep every weight: the runner applies no mask, and `ratio` is ignored."""
    masks = {layer.name: torch.ones(layer.weight_shape, dtype=torch.bool) for layer in layers}
    return MaskResult(masks)
