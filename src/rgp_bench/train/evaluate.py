"""Evaluation: loss, top-1 and top-5 accuracy (percent) over a data loader."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

import torch
from torch import nn

from rgp_bench.core.hardware import Hardware


@dataclass(frozen=True)
class Scores:
    """Mean cross-entropy and top-1/top-5 accuracy (percent) over a loader."""

    loss: float
    top1: float
    top5: float

    def as_dict(self) -> dict[str, float]:
        return {"loss": self.loss, "top1": self.top1, "top5": self.top5}


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]], hw: Hardware,
             limit_batches: int | None = None) -> Scores:
    """Average cross-entropy and top-1/top-5 accuracy in percent (top-5 = top-k when fewer classes)."""
    was_training = model.training
    model.eval()
    loss_sum = 0.0
    correct1 = correct5 = count = 0
    for inputs, targets in islice(loader, limit_batches):
        inputs, targets = inputs.to(hw.device, non_blocking=True), targets.to(hw.device, non_blocking=True)
        with hw.autocast():
            logits = model(inputs)
        logits = logits.float()
        loss_sum += float(nn.functional.cross_entropy(logits, targets, reduction="sum"))
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        hits = top.eq(targets[:, None])
        correct1 += int(hits[:, 0].sum())
        correct5 += int(hits.any(dim=1).sum())
        count += targets.numel()
    model.train(was_training)
    if count == 0:
        return Scores(float("nan"), float("nan"), float("nan"))
    return Scores(loss_sum / count, 100.0 * correct1 / count, 100.0 * correct5 / count)

