"""Optimizer and learning-rate schedule from the `train` config group."""

from __future__ import annotations

import torch
from torch import nn

from rgp_bench.config.schema import TrainCfg


def build_optimizer(model: nn.Module, cfg: TrainCfg, lr: float) -> torch.optim.Optimizer:
    """SGD (momentum, optional Nesterov) or Adam; weight decay on every trainable parameter, BN included."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                           weight_decay=cfg.weight_decay)


def build_schedule(
    optimizer: torch.optim.Optimizer, cfg: TrainCfg, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-epoch schedule: cosine decay to 0 over `epochs`, step decay, or constant."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _epoch: 1.0)
