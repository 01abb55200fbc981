"""The run plan: one resolution of the regime, the epochs and the learning rate of each phase."""

from __future__ import annotations

import pytest
from tests.conftest import make_cfg

from rgp_bench.run.plan import PhasePlan, RunPlan, plan_run


def test_scratch_trains_one_phase_at_the_base_learning_rate() -> None:
    plan = plan_run(make_cfg("method=rgp", "train.lr=0.05", "train.finetune_lr=0.01", "train.pretrain_epochs=7"))
    assert plan == RunPlan(plan.regime, None, PhasePlan(30, 0.05))
    assert (str(plan.regime), plan.pretrain_epochs, plan.total) == ("scratch", 0, 30)


@pytest.mark.parametrize("method", ["magnitude", "dense_finetune"])
def test_finetune_pretrains_at_lr_and_fine_tunes_at_finetune_lr(method: str) -> None:
    plan = plan_run(make_cfg(f"method={method}", "train.lr=0.05", "train.finetune_lr=0.01", "train.pretrain_epochs=7"))
    assert (str(plan.regime), plan.pretrain, plan.train) == ("finetune", PhasePlan(7, 0.05), PhasePlan(30, 0.01))
    assert plan.total == 37


def test_unset_finetune_settings_default_to_the_base_ones() -> None:
    plan = plan_run(make_cfg("method=magnitude", "train.epochs=4", "train.lr=0.2"))
    assert (plan.pretrain, plan.train) == (PhasePlan(4, 0.2), PhasePlan(4, 0.2))
    assert plan_run(make_cfg("method=magnitude", "train.pretrain_epochs=0")).pretrain == PhasePlan(0, 0.1)


def test_an_explicit_regime_overrides_the_methods_choice() -> None:
    assert str(plan_run(make_cfg("method=magnitude", "train.regime=scratch")).regime) == "scratch"
    assert plan_run(make_cfg("method=magnitude", "train.regime=scratch", "train.finetune_lr=0.01")).train.lr == 0.1
    assert str(plan_run(make_cfg("method=rgp", "train.regime=finetune")).regime) == "finetune"
