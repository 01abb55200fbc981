"""Training-loop behaviour: resuming, stale checkpoints, determinism switches, dense-cache keys."""

from __future__ import annotations

import dataclasses
from enum import Enum

import pytest
import torch
from tests.conftest import make_cfg
from torch.utils.data import TensorDataset

from rgp_bench.config.schema import TrainCfg
from rgp_bench.core.hardware import resolve_hardware
from rgp_bench.core.seeding import seed_everything
from rgp_bench.store.dense import NOT_PRETRAINING, dense_key
from rgp_bench.train import make_loader, train_phase
from rgp_bench.train.checkpoint import save_checkpoint


def _setup(width: int = 8):
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    model = torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.ReLU(), torch.nn.Linear(width, 3))
    cfg = make_cfg("train.batch_size=16", "train.progress=false")
    hw = resolve_hardware(make_cfg("hardware=cpu").hardware)
    data = TensorDataset(x, y)
    return model, data, make_loader(data, 32, hw, shuffle=False), cfg.train, hw


def test_stale_checkpoint_is_ignored_and_the_phase_starts_over(tmp_path, caplog):
    other, *_ = _setup(width=16)  # a checkpoint of a different architecture
    ckpt = tmp_path / "checkpoint.pt"
    save_checkpoint(ckpt, {"phase": "train", "model": other.state_dict(), "optimizer": {}, "schedule": {},
                           "scaler": {}, "history": [{"epoch": 1}], "best_epoch": 1, "best_val_top1": 50.0,
                           "best_val_loss": 1.0, "best_state": None})
    model, data, val_loader, cfg, hw = _setup()
    with caplog.at_level("WARNING"):
        result = train_phase(model, data, val_loader, cfg, hw, phase="train", epochs=2, lr=0.1, seed=0,
                             checkpoint=ckpt)
    assert result.resumed_from == 0 and [h["epoch"] for h in result.history] == [1, 2]
    assert "does not fit this run" in caplog.text


class _Interrupt(Exception):
    pass


def test_resume_from_checkpoint_matches_uninterrupted_training(tmp_path):
    model, data, val_loader, cfg, hw = _setup()
    full = train_phase(model, data, val_loader, cfg, hw, phase="train", epochs=3, lr=0.1, seed=0)
    full_weights = {k: v.clone() for k, v in model.state_dict().items()}

    def die_in_epoch_2(row: dict) -> None:
        if row["epoch"] == 2:  # the checkpoint still holds epoch 1
            raise _Interrupt

    ckpt = tmp_path / "c.pt"
    model, data, val_loader, cfg, hw = _setup()
    with pytest.raises(_Interrupt):
        train_phase(model, data, val_loader, cfg, hw, phase="train", epochs=3, lr=0.1, seed=0, checkpoint=ckpt,
                    on_epoch=die_in_epoch_2)
    model, data, val_loader, cfg, hw = _setup()
    resumed = train_phase(model, data, val_loader, cfg, hw, phase="train", epochs=3, lr=0.1, seed=0,
                          checkpoint=ckpt)
    assert resumed.resumed_from == 1
    strip = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]  # noqa: E731
    assert strip(resumed.history) == strip(full.history)
    assert resumed.best_epoch == full.best_epoch
    assert all(torch.equal(model.state_dict()[k], full_weights[k]) for k in full_weights)


def test_determinism_switches_are_set_both_ways():
    seed_everything(0, True)
    assert torch.are_deterministic_algorithms_enabled()
    seed_everything(0, False)
    assert not torch.are_deterministic_algorithms_enabled()
    seed_everything(0, True)


def test_dense_key_covers_what_shapes_the_dense_weights():
    base = make_cfg("method=magnitude")
    key = dense_key(base, 5)
    assert key == dense_key(make_cfg("method=random", "ratio=0.5", "logger=none"), 5)  # method/ratio: shared
    assert key != dense_key(base, 6)
    assert key != dense_key(make_cfg("method=magnitude", "train.limit_batches=1"), 5)
    assert key != dense_key(make_cfg("method=magnitude", "seed=1"), 5)
    assert key != dense_key(make_cfg("method=magnitude", "train.lr=0.05"), 5)


def _changed(value: object) -> str:
    """An override value different from `value`, of the same kind."""
    if isinstance(value, bool):
        return str(not value).lower()
    if isinstance(value, Enum):
        return next(str(m) for m in type(value) if m != value)
    if value is None:
        return "1"
    if isinstance(value, int):
        return str(value + 1)
    return str(value / 2 if value else 0.05)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(TrainCfg)])
def test_dense_key_covers_every_training_field_but_the_named_exclusions(field: str) -> None:
    base = make_cfg("method=magnitude")
    other = make_cfg("method=magnitude", f"train.{field}={_changed(base.train[field])}")
    same = dense_key(base, 5) == dense_key(other, 5)
    assert same == (field in NOT_PRETRAINING), field
