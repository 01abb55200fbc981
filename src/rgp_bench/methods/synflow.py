"""SynFlow (Tanaka et al., NeurIPS 2020): iterative, data-free pruning by synaptic flow.

Each round scores every weight by |w ⊙ ∂R/∂w|, R the sum of the outputs of the linearised network on an all-ones
input (`rgp_bench.pruning.linearise.synflow_copy`: |.| of every parameter and BN buffer, BN in eval mode, float64),
pruned weights scoring 0, then prunes on the exponential density schedule d_t = d^(t/T), t = 1..T, as the
Synaptic-Flow reference's `prune_loop` does (ganguli-lab/Synaptic-Flow `prune.py`, `Pruners/pruners.py`): in round
t < T, k_t = int((1 − d_t)·n) and every weight scoring at or below the k_t-th smallest score of all n weights is
pruned (ties included). The last round removes the lowest-scoring survivors until exactly round(ratio·n) weights
are pruned (the reference's int() count may be one lower), so the ratio is met exactly as by every method; for the
same reason a round never prunes past that final count (ties at a zero threshold could, in a collapsing network).
Pruned weights stay pruned. n counts all prunable weights (`scope: global`) or each layer's (`layer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rgp_bench.config.choices import Regime, Scope
from rgp_bench.config.fields import Number, setting
from rgp_bench.core.layer_types import layer_at
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle, Need
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.linearise import ones_input, synflow_copy


@dataclass
class SynflowCfg(MethodCfg):
    name: str = "synflow"
    # global: one ranking over all prunable weights (the paper); layer: the same ratio in every layer.
    scope: Scope = Scope["global"]
    # Score-and-prune rounds on the exponential density schedule (the paper uses 100).
    iterations: int = setting(100, check=Number(lo=1, integer=True))


def linearised(model: nn.Module) -> nn.Module:
    """The reference's linearised copy of `model` (`synflow_copy`): |parameters| and |BN buffers|, float64, eval."""
    return synflow_copy(model)


def synflow_scores(model: nn.Module, names: Sequence[str], example: torch.Tensor,
                   masks: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """|w ⊙ ∂R/∂w| (float64, on the CPU) for the weights of the modules `names` of a linearised model.

    `model` must come from `linearised`; `masks` (keep = True) zero the pruned weights first, in place.
    """
    weights = [layer_at(model, name).weight for name in names]
    if masks is not None:
        with torch.no_grad():
            for name, w in zip(names, weights, strict=True):
                w.mul_(masks[name].to(w.device, w.dtype))
    flow = model(ones_input(example)).sum()
    grads = torch.autograd.grad(flow, weights)
    return {name: (g * w).detach().abs().cpu() for name, w, g in zip(names, weights, grads, strict=True)}


def _per_layer(flat: torch.Tensor, layers: Sequence[PrunableLayer]) -> dict[str, torch.Tensor]:
    """Split a vector over all prunable weights back into one tensor per layer, shaped like its weight."""
    chunks = torch.split(flat, [layer.module.weight.numel() for layer in layers])
    return {layer.name: c.view(layer.weight_shape) for layer, c in zip(layers, chunks, strict=True)}


def survival_ranks(removed_at: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """Distinct float64 ranks ordered by (iteration a weight was removed at, its score then): higher = kept longer."""
    order = torch.sort(score, stable=True).indices
    order = order[torch.sort(removed_at[order], stable=True).indices]
    ranks = torch.empty_like(score, dtype=torch.float64)
    ranks[order] = torch.arange(score.numel(), dtype=torch.float64)
    return ranks


def _lowest(candidates: torch.Tensor, scores: torch.Tensor, count: int) -> torch.Tensor:
    """The `count` entries of `candidates` (indices into `scores`) with the lowest scores."""
    if count <= 0:
        return candidates[:0]
    return candidates[torch.topk(scores[candidates], k=count, largest=False).indices]


def round_removals(scores: torch.Tensor, alive: torch.Tensor, density_t: float | None, final: int) -> torch.Tensor:
    """Indices (into one scope's weights) to prune this round; `density_t` None = the last round.

    Before the last round: the reference's rule, every weight scoring at or below the k-th smallest of all scores,
    k = int((1 − density_t)·n), capped so the pruned total never exceeds `final`. Last round: the lowest-scoring
    survivors, until exactly `final` are pruned.
    """
    budget = final - int((~alive).sum())
    if density_t is None:
        return _lowest(torch.nonzero(alive).reshape(-1), scores, budget)
    k = int((1.0 - density_t) * scores.numel())
    if k < 1:
        return torch.zeros(0, dtype=torch.int64)
    threshold = torch.kthvalue(scores, k).values
    gone = torch.nonzero(alive & (scores <= threshold)).reshape(-1)
    return gone if gone.numel() <= budget else _lowest(gone, scores, budget)


@register_method(SynflowCfg, canonical_regime=Regime.scratch, style=MethodStyle("#117733", "*"),
                 needs=(Need.model,), scored=True,
                 description="SynFlow iterative synaptic-flow pruning (Tanaka et al., NeurIPS 2020)")
def synflow_masks(cfg: SynflowCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Prune to `ratio` in `cfg.iterations` rounds of synaptic-flow scoring, density (1 − ratio)^(t/T) after round t.

    `scores` are the survival ranks (`survival_ranks`): keep_top of them with the method's scope gives exactly
    these masks, and their inversion keeps the weights SynFlow removed first.
    """
    if ctx.example is None:
        raise ValueError("synflow needs ctx.example (the shape of one input)")
    assert ctx.model is not None, "needs=(Need.model,): the pipeline supplies the model"
    model = linearised(ctx.model)
    names = [layer.name for layer in layers]
    sizes = [layer.module.weight.numel() for layer in layers]
    total = sum(sizes)
    # The weights one count applies to: all prunable weights at once, or each layer.
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    bounds = [(0, total)] if cfg.scope == Scope["global"] else list(zip(offsets, sizes, strict=True))
    density, rounds = 1.0 - ratio, cfg.iterations
    alive = torch.ones(total, dtype=torch.bool)
    removed_at = torch.full((total,), rounds, dtype=torch.int64)
    last_score = torch.zeros(total, dtype=torch.float64)
    for t in range(1, rounds + 1):
        scores = synflow_scores(model, names, ctx.example, _per_layer(alive, layers))
        flat = torch.cat([scores[n].reshape(-1) for n in names])
        density_t = None if t == rounds else density ** (t / rounds)
        for offset, size in bounds:
            gone = offset + round_removals(flat[offset:offset + size], alive[offset:offset + size], density_t,
                                           round(ratio * size))
            alive[gone] = False
            removed_at[gone] = t - 1
            last_score[gone] = flat[gone]
    last_score[alive] = flat[alive]  # the survivors, by their final scores
    info = {"scope": str(cfg.scope), "iterations": rounds, "schedule": "exponential",
            "count": "reference kthvalue (ties pruned) before the last round; exact round(ratio*n) in it"}
    ranks = survival_ranks(removed_at, last_score)
    return MaskResult(_per_layer(alive, layers), info, scores=_per_layer(ranks, layers))
