"""What every channel (filter) method shares: the run's coupled channel groups, an exact MAC budget, and the
masks a keep set gives. Not a method itself; `uniform`, `filter_norm`, `random_channel` and the search
methods build on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from rgp_bench.methods.base import MaskContext, MaskResult
from rgp_bench.pruning.layers import PrunableLayer

if TYPE_CHECKING:  # torch-pruning is imported only when a channel method runs (it slows every start-up)
    from rgp_bench.pruning.channels import MacBudget
    from rgp_bench.pruning.channels.problem import ChannelProblem
    from rgp_bench.pruning.channels.selection import Ranking


def channel_problem(layers: Sequence[PrunableLayer], ctx: MaskContext) -> ChannelProblem:
    """The coupled channel groups of `ctx.model` over the prunable layers, and a MAC counter for them."""
    from rgp_bench.pruning.channels.problem import ChannelProblem

    assert ctx.model is not None and ctx.example is not None
    return ChannelProblem.of(ctx.model, ctx.example, [layer.name for layer in layers])


def check_budget(cfg: Any, layers: Sequence[PrunableLayer], ratio: float, model: nn.Module,
                 example: torch.Tensor) -> None:
    """Pre-flight for channel methods: `ratio` of the MACs can be removed from this model's prunable groups."""
    from rgp_bench.pruning.channels import filter_scores

    problem = channel_problem(layers, MaskContext(seed=0, model=model, example=example))
    prune_to_budget(problem, filter_scores(model, problem.groups), ratio, "uniform")


def prune_to_budget(problem: ChannelProblem, scores: Mapping[str, torch.Tensor], ratio: float,
                    ranking: Ranking) -> MacBudget:
    """Keep sets removing `ratio` of the model's MACs (exact to one channel), in `ranking`'s order of `scores`."""
    from rgp_bench.pruning.channels import keep_for_mac_reduction

    return keep_for_mac_reduction(problem.macs, scores, ratio, ranking)


def channel_result(problem: ChannelProblem, layers: Sequence[PrunableLayer], budget: MacBudget,
                   info: dict[str, Any]) -> MaskResult:
    """The masks of `budget.keep`: prunable weights in `masks`, everything else in `param_masks` and gates."""
    from rgp_bench.pruning.channels import channel_gates, channel_param_masks

    param_masks = channel_param_masks(problem.model, problem.groups, budget.keep)
    masks = {layer.name: param_masks.pop(f"{layer.name}.weight", torch.ones(layer.weight_shape, dtype=torch.bool))
             for layer in layers}
    kept = {g.id: round(float(budget.keep[g.id].float().mean()), 6) for g in problem.prunable}
    facts = {"mac_budget": {"requested": budget.target, "achieved": budget.reduction, "macs": budget.macs},
             "removed_channels": budget.removed_channels, "groups": len(problem.prunable),
             "prunable_groups": [g.id for g in problem.prunable], "keep_fraction": kept, **info}
    return MaskResult(masks, facts, param_masks=param_masks, input_gates=channel_gates(problem.groups, budget.keep))
