"""SynFlow (Tanaka et al., NeurIPS 2020): iterative, data-free pruning by synaptic flow.

Each iteration scores every surviving weight by |w ⊙ ∂R/∂w|, R = 1ᵀ (∏ |W|) 1 the sum of the outputs of the
linearised network (every parameter replaced by its absolute value, BN and ReLU6 as the identity, float64, see
`rgp_bench.pruning.linearise`) on an all-ones input, then prunes to the next density of an exponential schedule,
d_t = d^(t/T), t = 1..T (the Synaptic-Flow reference's `prune_loop`, eval mode). Pruned weights stay pruned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import nn

from rgp_bench.config.choices import Regime, Scope
from rgp_bench.config.fields import Number, setting
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, Need
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.linearise import ones_input, path_copy


@dataclass
class SynflowCfg(MethodCfg):
    name: str = "synflow"
    # global: one ranking over all prunable weights (the paper); layer: the same ratio in every layer.
    scope: Scope = Scope["global"]
    # Score-and-prune rounds on the exponential density schedule (the paper uses 100).
    iterations: int = setting(100, check=Number(lo=1, integer=True))


def linearised(model: nn.Module) -> nn.Module:
    """`path_copy(model)` with every parameter replaced by its absolute value."""
    out = path_copy(model)
    with torch.no_grad():
        for p in out.parameters():
            p.abs_()
    return out


def synflow_scores(model: nn.Module, names: Sequence[str], example: torch.Tensor,
                   masks: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """|w ⊙ ∂R/∂w| (float64, on the CPU) for the weights of the modules `names` of a linearised model.

    `model` must come from `linearised`; `masks` (keep = True) zero the pruned weights first, in place.
    """
    weights = [model.get_submodule(name).weight for name in names]
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


@register_method(SynflowCfg, canonical_regime=Regime.scratch, needs=(Need.model,), scored=True,
                 description="SynFlow iterative synaptic-flow pruning (Tanaka et al., NeurIPS 2020)")
def synflow_masks(cfg: DictConfig, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Prune to `ratio` in `cfg.iterations` rounds of synaptic-flow scoring, density (1 − ratio)^(t/T) after round t.

    `scores` are the survival ranks (`survival_ranks`): keep_top of them with the method's scope gives exactly
    these masks, and their inversion keeps the weights SynFlow removed first.
    """
    if ctx.example is None:
        raise ValueError("synflow needs ctx.example (the shape of one input)")
    model = linearised(ctx.model)
    names = [layer.name for layer in layers]
    sizes = [layer.module.weight.numel() for layer in layers]
    total = sum(sizes)
    # Where the removal counts round(ratio_t * n) apply: all prunable weights at once, or each layer.
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    bounds = [(0, total)] if cfg.scope == Scope["global"] else list(zip(offsets, sizes, strict=True))
    alive = torch.ones(total, dtype=torch.bool)
    removed_at = torch.full((total,), cfg.iterations, dtype=torch.int64)
    last_score = torch.zeros(total, dtype=torch.float64)
    for t in range(1, cfg.iterations + 1):
        scores = synflow_scores(model, names, ctx.example, _per_layer(alive, layers))
        flat = torch.cat([scores[n].reshape(-1) for n in names])
        ratio_t = ratio if t == cfg.iterations else 1.0 - (1.0 - ratio) ** (t / cfg.iterations)
        for offset, size in bounds:
            candidates = offset + torch.nonzero(alive[offset:offset + size]).reshape(-1)
            drop = round(ratio_t * size) - (size - candidates.numel())
            if drop > 0:
                gone = candidates[torch.topk(flat[candidates], k=drop, largest=False).indices]
                alive[gone] = False
                removed_at[gone] = t - 1
                last_score[gone] = flat[gone]
    last_score[alive] = flat[alive]  # the survivors, by their final scores
    info = {"scope": str(cfg.scope), "iterations": cfg.iterations, "schedule": "exponential"}
    ranks = survival_ranks(removed_at, last_score)
    return MaskResult(_per_layer(alive, layers), info, scores=_per_layer(ranks, layers))
