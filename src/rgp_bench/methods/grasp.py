"""GraSP (Wang et al., ICLR 2020): keep the weights whose removal would reduce the gradient flow the most.

The paper scores S = −θ ⊙ Hg (H the Hessian, g the gradient of the loss, logits divided by a temperature T = 200)
and removes the weights with the *largest* S (Algorithm 1: keep S < τ); the authors' code and the Synaptic-Flow
port agree. Scores here follow the registry's convention (higher = keep), so they are −S = θ ⊙ Hg and the lowest
are removed: the same masks.

Data, as in the authors' CIFAR pruner (alecwangcq/GraSP `pruner/GraSP.py`, `GraSP_fetch_data` and `GraSP`): a
class-balanced sample of the training split, the first `samples_per_class` samples of every class in the seeded
order the training batches arrive, concatenated class by class and cut into two halves (so the first half holds
the first classes). g = Σ over the halves of ∂L/∂θ; Hg = Σ over the halves of H_half g. The scoring copy is in
training mode, so BN normalises each half with its own statistics, as the authors' freshly built net does. The
authors also redraw every nn.Linear weight of the scoring copy with xavier_normal (`reinit=True`);
`reinit_linear` reproduces that, off by default (it changes which weights are scored, not a property of GraSP).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rgp_bench.config.choices import Regime, Scope
from rgp_bench.config.fields import Number, setting
from rgp_bench.core.errors import UserError
from rgp_bench.methods.base import Batch, MaskContext, MaskResult, MethodCfg, MethodStyle, Need
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.gradients import hessian_gradient_product, summed_gradients, weights_of
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.selection import keep_top


@dataclass
class GraspCfg(MethodCfg):
    name: str = "grasp"
    # global: one ranking over all prunable weights (the paper); layer: the same ratio in every layer.
    scope: Scope = Scope["global"]
    # Training samples of each class in the class-balanced sample (the authors' CIFAR configs use 10).
    samples_per_class: int = setting(10, check=Number(lo=1, integer=True))
    # Logits are divided by this before the loss (the authors' T = 200).
    temperature: float = setting(200.0, check=Number(lo=0, lo_open=True))
    # true = the authors' reinit: every nn.Linear weight of the scoring copy redrawn with xavier_normal (seeded).
    reinit_linear: bool = False


def class_balanced_sample(batches: Iterable[Batch], num_classes: int, per_class: int) -> Batch:
    """The first `per_class` samples of each class in the order `batches` yields them, concatenated class by class
    (the authors' `GraSP_fetch_data`). A class with fewer samples in the whole pass is a UserError."""
    inputs: list[list[torch.Tensor]] = [[] for _ in range(num_classes)]
    for x, y in batches:
        for sample, label in zip(x, y.tolist(), strict=True):
            if len(inputs[label]) < per_class:
                inputs[label].append(sample)
        if all(len(group) == per_class for group in inputs):
            break
    short = min(range(num_classes), key=lambda c: len(inputs[c]))
    if len(inputs[short]) < per_class:
        raise UserError(f"method.samples_per_class={per_class} is more than the training split holds of class "
                        f"{short} ({len(inputs[short])} samples); valid: an integer in [1, {len(inputs[short])}]")
    x = torch.stack([sample for group in inputs for sample in group])
    y = torch.arange(num_classes, device=x.device).repeat_interleave(per_class)
    return x, y


def reinit_linear(model: nn.Module, seed: int) -> None:
    """Redraw every nn.Linear weight of `model` with xavier_normal, in module order, from a CPU generator seeded
    with `seed` (the same draws on any device)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                fresh = torch.empty(module.weight.shape, dtype=module.weight.dtype)
                module.weight.copy_(nn.init.xavier_normal_(fresh, generator=generator))


@register_method(GraspCfg, canonical_regime=Regime.scratch, style=MethodStyle("#44aa99", "p"),
                 needs=(Need.model, Need.train_batches), scored=True,
                 description="GraSP gradient-signal preservation (Wang et al., ICLR 2020)")
def grasp_masks(cfg: GraspCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Keep the weights with the largest θ ⊙ Hg, i.e. remove the largest S = −θ ⊙ Hg (Wang et al., Algorithm 1), on
    the two halves of a class-balanced training sample, BN in training mode."""
    if ctx.num_classes is None:
        raise ValueError("grasp needs ctx.num_classes (the class-balanced sample)")
    x, y = class_balanced_sample(ctx.train_batches(None), ctx.num_classes, cfg.samples_per_class)
    half = x.shape[0] // 2
    halves = [(x[:half], y[:half]), (x[half:], y[half:])]
    assert ctx.model is not None, "needs=(Need.model,): the pipeline supplies the model"
    model = ctx.model.train()
    if cfg.reinit_linear:
        reinit_linear(model, ctx.seed)
    weights = weights_of(model, layers)
    grads = summed_gradients(model, weights, halves, cfg.temperature)
    hg = hessian_gradient_product(model, weights, halves, grads, cfg.temperature)
    scores = {layer.name: (w * h).detach().cpu() for layer, w, h in zip(layers, weights, hg, strict=True)}
    kept = keep_top(list(scores.values()), ratio, cfg.scope)
    info = {"scope": str(cfg.scope), "samples_per_class": cfg.samples_per_class, "halves": [half, len(y) - half],
            "temperature": cfg.temperature, "reinit_linear": cfg.reinit_linear, "bn_mode": "train",
            "score": "theta*Hg = -S (Wang et al. remove the largest S)"}
    return MaskResult(dict(zip(scores, kept, strict=True)), info, scores=scores)
