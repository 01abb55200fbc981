"""SNIP (Lee et al., ICLR 2019): connection sensitivity |g ⊙ w| at initialisation, on training batches.

The gradient is taken with BatchNorm in inference mode, as in the authors' pruning pass (namhoonlee/snip-public
`snip/prune.py` feeds `is_train: False`) and in the Synaptic-Flow port (`prune_loop` runs `model.eval()`). At
initialisation BN's running statistics are (0, 1), so BN is then the identity up to 1/sqrt(1 + eps); in training
mode it would normalise each unit by the batch's statistics, which changes the scores completely (see
docs/fidelity.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rgp_bench.config.choices import Regime, Scope
from rgp_bench.config.fields import Number, setting
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle, Need
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.gradients import summed_gradients, weights_of
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.selection import keep_top


@dataclass
class SnipCfg(MethodCfg):
    name: str = "snip"
    # global: one ranking over all prunable weights (the paper); layer: the same ratio in every layer.
    scope: Scope = Scope["global"]
    # Training batches (of train.batch_size) the gradient is summed over; the paper uses one.
    batches: int = setting(1, check=Number(lo=1, integer=True))


@register_method(SnipCfg, canonical_regime=Regime.scratch, style=MethodStyle("#332288", "h"),
                 needs=(Need.model, Need.train_batches), scored=True,
                 description="SNIP connection sensitivity (Lee et al., ICLR 2019)")
def snip_masks(cfg: SnipCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Keep the weights with the largest |w ⊙ Σ_b ∂L_b/∂w| (= |∂L/∂c| of a multiplicative mask c at c = 1), BN in
    inference mode."""
    assert ctx.model is not None, "needs=(Need.model,): the pipeline supplies the model"
    ctx.model.eval()
    weights = weights_of(ctx.model, layers)
    grads = summed_gradients(ctx.model, weights, ctx.train_batches(cfg.batches))
    scores = {layer.name: (g * w).detach().abs().cpu() for layer, w, g in zip(layers, weights, grads, strict=True)}
    kept = keep_top(list(scores.values()), ratio, cfg.scope)
    info = {"scope": str(cfg.scope), "batches": cfg.batches, "bn_mode": "eval"}
    return MaskResult(dict(zip(scores, kept, strict=True)), info, scores=scores)
