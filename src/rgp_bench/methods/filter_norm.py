"""Filter-norm channel pruning (Li et al., ICLR 2017): drop the filters with the smallest L1 (or L2) norm.

`scope: layer` keeps the same fraction in every group; `scope: global` ranks all channels together, after
dividing each group's scores by their mean (a group's scores are summed over its producers, so raw sums
would favour residual streams written by many layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rgp_bench.config.choices import Budget, Regime, Scope
from rgp_bench.config.fields import OneOf, setting
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle, Need
from rgp_bench.methods.channel import channel_problem, channel_result, check_budget, prune_to_budget
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer


@dataclass
class FilterNormCfg(MethodCfg):
    name: str = "filter_norm"
    norm: int = setting(1, check=OneOf((1, 2)))
    scope: Scope = Scope["global"]


@register_method(FilterNormCfg, canonical_regime=Regime.finetune, style=MethodStyle("#009e73", "D"),
                 budget=Budget.macs, needs=(Need.model,),
                 check=check_budget)
def filter_norm_masks(cfg: FilterNormCfg, layers: Sequence[PrunableLayer], ratio: float,
                      ctx: MaskContext) -> MaskResult:
    """Remove `ratio` of the MACs, smallest filter norms first (per group, or over all groups normalised)."""
    from rgp_bench.pruning.channels import filter_scores

    problem = channel_problem(layers, ctx)
    scores = filter_scores(problem.model, problem.groups, norm=cfg.norm)
    if cfg.scope == Scope["global"]:
        scores = {gid: s / s.mean().clamp_min(1e-30) for gid, s in scores.items()}
    ranking: Literal["global", "uniform"] = "global" if cfg.scope == Scope["global"] else "uniform"
    budget = prune_to_budget(problem, scores, ratio, ranking)
    return channel_result(problem, layers, budget, {"norm": cfg.norm, "scope": str(cfg.scope)})
