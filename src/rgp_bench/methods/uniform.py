"""Uniform channel pruning: the same keep fraction in every prunable channel group, largest L2 filter norms kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rgp_bench.config.choices import Budget, Regime
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle, Need
from rgp_bench.methods.channel import channel_problem, channel_result, check_budget, prune_to_budget
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer


@dataclass
class UniformCfg(MethodCfg):
    name: str = "uniform"


@register_method(UniformCfg, canonical_regime=Regime.finetune, style=MethodStyle("#e69f00", "^"),
                 budget=Budget.macs, needs=(Need.model,),
                 check=check_budget)
def uniform_masks(cfg: UniformCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Remove `ratio` of the MACs with one keep fraction shared by every group (L2 filter norm decides which)."""
    from rgp_bench.pruning.channels import filter_scores

    problem = channel_problem(layers, ctx)
    budget = prune_to_budget(problem, filter_scores(problem.model, problem.groups, norm=2), ratio, "uniform")
    return channel_result(problem, layers, budget, {"norm": 2, "ranking": "uniform"})
