"""Synaptic-Flow's SNIP and SynFlow scorers, its masking rule and `prune_loop` (compact transcription).

Source: ganguli-lab/Synaptic-Flow, commit 9dfa57aa4012c34028ee646d367f18e32f0e3bc7:
- `Pruners/pruners.py`: `Pruner._global_mask`, `Pruner._local_mask`, `SNIP.score`, `SynFlow.score`;
- `prune.py`: `prune_loop`.

Semantics kept: the reference's masked layers (`Layers/layers.py`: the forward uses `weight * weight_mask`) are a
dict {module name: float mask} applied with `functional_call`; the model runs in eval mode (`prune_loop`'s default
`train_mode=False`) in the model's own float type (float32 in the reference; `dtype` converts a copy);
a round prunes `k = int((1 - density_t) * N)` weights by `kthvalue` over *all* scores (pruned weights score 0) and
prunes every `score <= threshold` (ties included); `density_t = density ** (t / T)` (exponential schedule).
SNIP: |∂L/∂m| summed over the batches (each loss a batch mean), normalised by its sum. SynFlow: `linearize` takes
|.| of every `state_dict` entry (BN running statistics, γ and β included), the input is all ones of one sample, and
the score is |∂R/∂p ⊙ p| for the unmasked parameter p. The reference's `sparsity` argument is a *density* (the
kept fraction); it is called `density` here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn
from torch.func import functional_call

Masks = dict[str, torch.Tensor]
Scores = dict[str, torch.Tensor]


def masked_forward(model: nn.Module, masks: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The reference's masked layers: every masked module computes with `weight * mask`."""
    params = {f"{name}.weight": model.get_submodule(name).weight * mask for name, mask in masks.items()}
    return functional_call(model, params, (x,), strict=False)


def global_mask(scores: Scores, masks: Masks, density: float) -> None:
    """`Pruner._global_mask`: one kthvalue threshold over all scores; `score <= threshold` is pruned."""
    global_scores = torch.cat([torch.flatten(v) for v in scores.values()])
    k = int((1.0 - density) * global_scores.numel())
    if not k < 1:
        threshold, _ = torch.kthvalue(global_scores, k)
        for name, mask in masks.items():
            zero, one = torch.tensor([0.0]), torch.tensor([1.0])
            mask.copy_(torch.where(scores[name] <= threshold, zero, one))


def local_mask(scores: Scores, masks: Masks, density: float) -> None:
    """`Pruner._local_mask`: the same rule within each masked parameter."""
    for name, mask in masks.items():
        score = scores[name]
        k = int((1.0 - density) * score.numel())
        if not k < 1:
            threshold, _ = torch.kthvalue(torch.flatten(score), k)
            zero, one = torch.tensor([0.0]), torch.tensor([1.0])
            mask.copy_(torch.where(score <= threshold, zero, one))


def snip_score(model: nn.Module, masks: Masks, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> Scores:
    """`SNIP.score`: |∂L/∂m| accumulated over the batches (`loss.backward()` per batch), normalised by the sum."""
    for m in masks.values():
        m.requires_grad = True
    grads = {name: torch.zeros_like(m) for name, m in masks.items()}
    for data, target in batches:
        loss = nn.CrossEntropyLoss()(masked_forward(model, masks, data), target)
        for name, g in zip(masks, torch.autograd.grad(loss, list(masks.values())), strict=True):
            grads[name] += g
    scores = {name: torch.clone(g).detach().abs_() for name, g in grads.items()}
    for m in masks.values():
        m.requires_grad = False
    norm = torch.sum(torch.cat([torch.flatten(v) for v in scores.values()]))
    for v in scores.values():
        v.div_(norm)
    return scores


def synflow_score(model: nn.Module, masks: Masks, input_shape: tuple[int, ...]) -> Scores:
    """`SynFlow.score`: linearize (|.| of the state_dict), all-ones input, R = Σ output, |∂R/∂p ⊙ p|, nonlinearize."""
    with torch.no_grad():
        signs = {}
        for name, param in model.state_dict().items():
            signs[name] = torch.sign(param)
            param.abs_()
    dtype = next(model.parameters()).dtype
    output = masked_forward(model, masks, torch.ones([1, *input_shape], dtype=dtype))
    params = [model.get_submodule(name).weight for name in masks]
    grads = torch.autograd.grad(torch.sum(output), params)
    scores = {name: torch.clone(g * p).detach().abs_() for name, g, p in zip(masks, grads, params, strict=True)}
    with torch.no_grad():
        for name, param in model.state_dict().items():
            param.mul_(signs[name])
    return scores


def prune_loop(model: nn.Module, layer_names: Iterable[str], score: Callable[[nn.Module, Masks], Scores],
               density: float, scope: str = "global", epochs: int = 1, train_mode: bool = False,
               dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """`prune_loop` with the exponential schedule on a copy of `model` (in `dtype` if given); boolean keep-masks.

    `scope` is the reference's `global` | `local`.
    """
    model = copy.deepcopy(model)
    if dtype is not None:
        model = model.to(dtype)
    masks = {name: torch.ones_like(model.get_submodule(name).weight) for name in layer_names}
    model.train()
    if not train_mode:
        model.eval()
    for epoch in range(epochs):
        scores = score(model, masks)
        sparse = density ** ((epoch + 1) / epochs)
        (global_mask if scope == "global" else local_mask)(scores, masks, sparse)
    return {name: m.bool() for name, m in masks.items()}
