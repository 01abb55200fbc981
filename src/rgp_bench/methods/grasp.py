"""GraSP (Wang et al., ICLR 2020): keep the weights whose removal would reduce the gradient flow the most.

The paper scores S = −θ ⊙ Hg (H the Hessian, g the gradient of the loss, both on training batches, logits
divided by a temperature T = 200) and removes the weights with the *largest* S (Algorithm 1: keep S < τ);
the authors' code and the Synaptic-Flow reference agree. Scores here follow the registry's convention (higher =
keep), so they are −S = θ ⊙ Hg and the lowest are removed: the same masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from omegaconf import DictConfig

from rgp_bench.config.choices import Regime, Scope
from rgp_bench.config.fields import Number, setting
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, Need
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.gradients import hessian_gradient_product, summed_gradients, weights_of
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.selection import keep_top


@dataclass
class GraspCfg(MethodCfg):
    name: str = "grasp"
    # global: one ranking over all prunable weights (the paper); layer: the same ratio in every layer.
    scope: Scope = Scope["global"]
    # Training batches (of train.batch_size) for g and Hg.
    batches: int = setting(1, check=Number(lo=1, integer=True))
    # Logits are divided by this before the loss (the authors' T = 200).
    temperature: float = setting(200.0, check=Number(lo=0, lo_open=True))


@register_method(GraspCfg, canonical_regime=Regime.scratch, needs=(Need.model, Need.train_batches), scored=True,
                 description="GraSP gradient-signal preservation (Wang et al., ICLR 2020)")
def grasp_masks(cfg: DictConfig, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Keep the weights with the largest θ ⊙ Hg, i.e. remove the largest S = −θ ⊙ Hg (Wang et al., Algorithm 1)."""
    weights = weights_of(ctx.model, layers)
    batches = list(ctx.train_batches(cfg.batches))  # the same batches for g and for Hg
    grads = summed_gradients(ctx.model, weights, batches, cfg.temperature)
    hg = hessian_gradient_product(ctx.model, weights, batches, grads, cfg.temperature)
    scores = {layer.name: (w * h).detach().cpu() for layer, w, h in zip(layers, weights, hg, strict=True)}
    kept = keep_top(list(scores.values()), ratio, cfg.scope)
    info = {"scope": str(cfg.scope), "batches": cfg.batches, "temperature": cfg.temperature,
            "score": "theta*Hg = -S (Wang et al. remove the largest S)"}
    return MaskResult(dict(zip(scores, kept, strict=True)), info, scores=scores)
