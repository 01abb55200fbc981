"""Random channel pruning: uniformly random channels in every group at the uniform keep fraction (a sanity baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rgp_bench.config.choices import Budget, Regime
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle, Need
from rgp_bench.methods.channel import channel_problem, channel_result, check_budget, prune_to_budget
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer


@dataclass
class RandomChannelCfg(MethodCfg):
    name: str = "random_channel"


@register_method(RandomChannelCfg, canonical_regime=Regime.finetune, style=MethodStyle("#56b4e9", "<"),
                 budget=Budget.macs, needs=(Need.model,),
                 check=check_budget)
def random_channel_masks(cfg: RandomChannelCfg, layers: Sequence[PrunableLayer], ratio: float,
                         ctx: MaskContext) -> MaskResult:
    """Remove `ratio` of the MACs with one keep fraction shared by every group; which channels is seeded random."""
    problem = channel_problem(layers, ctx)
    generator = torch.Generator().manual_seed(ctx.seed)
    scores = {g.id: torch.rand(g.channels, generator=generator, dtype=torch.float64) for g in problem.groups}
    budget = prune_to_budget(problem, scores, ratio, "uniform")
    return channel_result(problem, layers, budget, {"ranking": "uniform"})
