"""A run's plan: the regime it trains in, and the epochs and learning rate of each training phase.

The one place that resolves `train.regime=auto` (the method's own choice: its canonical regime, or what its
settings say, e.g. `method=dense_finetune`), `train.pretrain_epochs=null` (= `train.epochs`) and
`train.finetune_lr=null` (= `train.lr`). The pipeline, the run identity, the validation, the wandb cell and the
dense cache key (through the pipeline) all read the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from rgp_bench.config.choices import Regime
from rgp_bench.methods import get_method


@dataclass(frozen=True)
class PhasePlan:
    """One training phase: how many epochs, at which (initial) learning rate."""

    epochs: int
    lr: float


@dataclass(frozen=True)
class RunPlan:
    """The resolved regime and its phases.

    `pretrain` is the dense pretraining, in the finetune regime only (it may have 0 epochs: the untrained model is
    then pruned on purpose). `train` is the pruned phase, or the dense reference's continued one: from scratch at
    `train.lr`, in the finetune regime at `train.finetune_lr` (default `train.lr`).
    """

    regime: Regime
    pretrain: PhasePlan | None
    train: PhasePlan

    @property
    def pretrain_epochs(self) -> int:
        """Epochs of dense pretraining (0 outside the finetune regime)."""
        return self.pretrain.epochs if self.pretrain is not None else 0

    @property
    def total(self) -> int:
        """Epochs the run trains in all, both phases."""
        return self.pretrain_epochs + self.train.epochs


def plan_run(cfg: DictConfig) -> RunPlan:
    """The plan of the run `cfg` describes."""
    train = cfg.train
    regime = get_method(cfg.method.name).regime_for(cfg.method, train.regime)
    if regime != Regime.finetune:
        return RunPlan(regime, None, PhasePlan(int(train.epochs), float(train.lr)))
    pretrain_epochs = train.epochs if train.pretrain_epochs is None else train.pretrain_epochs
    finetune_lr = train.lr if train.finetune_lr is None else train.finetune_lr
    return RunPlan(regime, PhasePlan(int(pretrain_epochs), float(train.lr)),
                   PhasePlan(int(train.epochs), float(finetune_lr)))
