"""Which regime a run trains in, and how its epochs split between dense pretraining and the pruned phase.

The one place that resolves `train.regime=auto` (the method's own choice: its canonical regime, or what its
settings say, e.g. `method=dense_finetune`) and `train.pretrain_epochs=null` (= `train.epochs`). The runner,
the run identity, the validation and the wandb cell all ask here.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from rgp_bench.config.choices import Regime
from rgp_bench.methods import get_method


def resolve_regime(cfg: DictConfig) -> Regime:
    """`train.regime`, with `auto` meaning the method's own choice (`Method.regime_for`)."""

    return get_method(cfg.method.name).regime_for(cfg.method, cfg.train.regime)


@dataclass(frozen=True)
class EpochBudget:
    """A run's epochs: dense pretraining (finetune regime only), then the pruned (or continued) training."""

    regime: Regime
    pretrain: int
    train: int

    @property
    def total(self) -> int:
        return self.pretrain + self.train


def epoch_budget(cfg: DictConfig) -> EpochBudget:
    """The resolved regime and the epochs each phase trains."""
    regime = resolve_regime(cfg)
    pretrain = 0
    if regime == Regime.finetune:
        pretrain = cfg.train.epochs if cfg.train.pretrain_epochs is None else cfg.train.pretrain_epochs
    return EpochBudget(regime=regime, pretrain=int(pretrain), train=int(cfg.train.epochs))
