"""Masks from scores: keep the highest-scoring weights, over all layers at once or within each layer.

The count removed is `round(ratio * n)` (of all prunable weights for `global`, of each layer's for `layer`),
and ties are broken as torch.topk breaks them, so magnitude pruning through here equals
torch.nn.utils.prune.L1Unstructured on |w|. Scores keep their precision (at least float32): float64 scores such
as SynFlow's span more than float32's range and are ranked as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rgp_bench.config.choices import Scope


def _keep_top_flat(scores: torch.Tensor, ratio: float) -> torch.Tensor:
    mask = torch.ones_like(scores, dtype=torch.bool)
    drop = round(ratio * scores.numel())
    if drop:
        mask[torch.topk(scores, k=drop, largest=False).indices] = False
    return mask


def keep_top(scores: Sequence[torch.Tensor], ratio: float, scope: Scope) -> list[torch.Tensor]:
    """Boolean keep-masks shaped like `scores`: remove the `ratio` lowest-scoring entries (globally or per layer)."""
    flat = [s.detach().reshape(-1).to(torch.promote_types(s.dtype, torch.float32)).cpu() for s in scores]
    if scope == Scope.layer:
        kept = [_keep_top_flat(s, ratio) for s in flat]
    else:
        kept = list(torch.split(_keep_top_flat(torch.cat(flat), ratio), [s.numel() for s in flat]))
    return [k.view(s.shape) for k, s in zip(kept, scores, strict=True)]


def keep_random(numel: int, keep: int, generator: torch.Generator) -> torch.Tensor:
    """A flat boolean mask with exactly `keep` of `numel` entries set, at positions drawn from `generator`."""
    mask = torch.zeros(numel, dtype=torch.bool)
    mask[torch.randperm(numel, generator=generator)[:keep]] = True
    return mask
