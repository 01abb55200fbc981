"""Channel scores from filter norms, shared by every layer of a coupled group."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from rgp_bench.core.errors import UserError
from rgp_bench.core.layer_types import layer_at
from rgp_bench.pruning.channels.groups import ChannelGroup


def filter_scores(model: nn.Module, groups: Iterable[ChannelGroup], norm: int = 2) -> dict[str, Tensor]:
    """Per group, a float64 score per channel: the SUM over the group's producers of that channel's filter norm.

    A filter is a producer's output row of the current (possibly masked) weight; `norm` is 1 (L1) or 2 (L2).
    Summing over producers gives every layer of a residual group the same ranking, hence the same indices.
    """
    if norm not in (1, 2) or isinstance(norm, bool):
        raise UserError(f"filter norm must be 1 or 2, got {norm!r}")
    scores = {}
    for group in groups:
        score = torch.zeros(group.channels, dtype=torch.float64)
        for member in group.with_role("producer"):
            weight = layer_at(model, member.module).weight.detach()  # producers are conv/linear layers
            row_norms = weight.flatten(1).to(torch.float64).norm(p=norm, dim=1).cpu()
            score.index_add_(0, torch.tensor(member.channels), row_norms[list(member.positions)])
        scores[group.id] = score
    return scores
