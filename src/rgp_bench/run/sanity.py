"""Sanity checks for pruning masks (Frankle et al., ICLR 2021; Su et al., NeurIPS 2020), for any method's result.

- `shuffle`: permute each layer's mask within the layer (keeps every layer's density, destroys which weights).
- `reinit`: keep the mask, draw new weights for the prunable layers with the project's init (for methods that
  prune a trained model, the finetune regime).
- `invert`: keep the lowest-scoring weights instead of the highest, with the method's selection rule (scored
  methods only).
A method whose accuracy survives shuffle or reinit did not need the weights it picked, only the layer densities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import torch

from rgp_bench.config.choices import Sanity, Scope
from rgp_bench.core.seeding import Purpose, seeded_generator
from rgp_bench.methods.base import MaskResult
from rgp_bench.models.init import init_conv_linear
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.pruning.selection import keep_top

__all__ = ["Sanity", "inverted", "reinitialise", "shuffle_masks", "shuffled"]


def shuffle_masks(masks: Mapping[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Each mask with its entries permuted uniformly at random within its layer (seeded; densities unchanged)."""
    generator = seeded_generator(seed, Purpose.sanity_shuffle)
    out = {}
    for name, mask in masks.items():
        flat = mask.reshape(-1)
        out[name] = flat[torch.randperm(flat.numel(), generator=generator).to(flat.device)].view(mask.shape)
    return out


def shuffled(result: MaskResult, seed: int) -> MaskResult:
    """`result` with its weight masks shuffled within each layer; scores are dropped (they no longer apply).

    Other parameters' masks and input gates are kept as they are.
    """
    return dataclasses.replace(result, masks=shuffle_masks(result.masks, seed), scores={},
                               info={**result.info, "sanity": "shuffle"})


def inverted(result: MaskResult, ratio: float, scope: Scope) -> MaskResult:
    """Masks recomputed from −scores with keep_top (the same count removed, globally or per layer as `scope`)."""
    if not result.scores:
        raise ValueError("sanity=invert needs a method that returns scores (a scored method)")
    names = list(result.masks)
    kept = keep_top([-result.scores[name] for name in names], ratio, scope)
    return dataclasses.replace(result, masks=dict(zip(names, kept, strict=True)),
                               info={**result.info, "sanity": "invert"})


def reinitialise(layers: Sequence[PrunableLayer], seed: int) -> None:
    """Draw new weights (and zero biases) for every prunable layer with the project's init, in place.

    The draws come from their own seed stream (not the global generator), so the rest of the run is unchanged;
    a pruned layer's mask stays in force (its `weight_orig` is re-drawn).
    """
    generator = seeded_generator(seed, Purpose.sanity_reinit)
    for layer in layers:
        init_conv_linear(layer.module, generator)
