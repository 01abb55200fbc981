"""Records that cannot lie: diverged or chance-level runs fail, bad stored records and checkpoints are not trusted,
and a run's identity covers the code version and the thread count."""

from __future__ import annotations

import json

import pytest
import torch
from tests.conftest import make_cfg, read_results, run_cli

from rgp_bench.core.errors import RunFailed
from rgp_bench.core.hardware import resolve_hardware
from rgp_bench.run import identity
from rgp_bench.run.identity import run_id
from rgp_bench.store.dense import dense_key, pretrained_dense
from rgp_bench.train import make_loader, train_phase
from rgp_bench.train.checkpoint import save_checkpoint

TINY = ["train.epochs=2", "model.width=32", "model.depth=2"]


@pytest.mark.parametrize(("args", "expected"), [
    (["train.lr=1e6"], "error: diverged: the training loss became nan in train epoch 1"),
    (["train.lr=50"], "error: did not learn: validation top-1 is"),
])
def test_a_diverged_or_chance_run_is_failed_not_complete(args, expected, tmp_path):
    proc = run_cli([*args, *TINY], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(expected) and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "run" / "results.json").exists()
    failed = json.loads((tmp_path / "run" / "error.json").read_text())
    assert failed["status"] == "failed" and failed["error"] == proc.stderr.strip().removeprefix("error: ")
    assert not list((tmp_path / "cache" / "runs").glob("*/results.json"))  # nothing stored as complete


def _tiny_training():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 3, (32,)))
    hw = resolve_hardware(make_cfg("hardware=cpu").hardware)
    return model, data, make_loader(data, 16, hw, shuffle=False), make_cfg("train.progress=false").train, hw


@pytest.mark.parametrize("content", [[1, 2, 3], {"phase": "train"}, {"unrelated": torch.zeros(2)}])
def test_a_checkpoint_with_the_wrong_content_is_ignored_with_a_warning(content, tmp_path, caplog):
    ckpt = tmp_path / "checkpoint.pt"
    save_checkpoint(ckpt, content)
    model, data, val, cfg, hw = _tiny_training()
    with caplog.at_level("WARNING"):
        result = train_phase(model, data, val, cfg, hw, phase="train", epochs=2, lr=0.1, seed=0, checkpoint=ckpt)
    assert result.resumed_from == 0 and [h["epoch"] for h in result.history] == [1, 2]
    assert "starting the train phase over" in caplog.text


def test_a_non_finite_loss_stops_training_at_once():
    model, data, val, cfg, hw = _tiny_training()
    with torch.no_grad():
        model[0].weight.fill_(float("nan"))
    with pytest.raises(RunFailed, match="diverged: the training loss became nan in train epoch 1"):
        train_phase(model, data, val, cfg, hw, phase="train", epochs=3, lr=0.1, seed=0)


def test_a_foreign_dense_checkpoint_is_retrained(tmp_path, caplog):
    (tmp_path / "k.pt").parent.mkdir(exist_ok=True)
    save_checkpoint(tmp_path / "k.pt", ["not", "a", "checkpoint"])
    model = torch.nn.Linear(2, 2)
    with caplog.at_level("WARNING"):
        meta, hit = pretrained_dense(model, tmp_path, "k", lambda _ckpt: {"trained": True})
    assert meta == {"trained": True} and hit is False and "training it again" in caplog.text


def test_an_incomplete_or_foreign_stored_record_is_a_miss_and_the_run_is_redone(tmp_path):
    args = ["train.epochs=1", "model.width=32", "model.depth=2"]
    first = run_cli(args, tmp_path)
    assert first.returncode == 0, first.stderr
    (stored,) = (tmp_path / "cache" / "runs").glob("*/results.json")
    record = json.loads(stored.read_text())
    for damaged in ({**record, "schema_version": 1}, {k: v for k, v in record.items() if k != "cost"}):
        stored.write_text(json.dumps(damaged))
        again = run_cli(args, tmp_path)
        assert again.returncode == 0, again.stderr
        assert "skip:" not in again.stdout and "is not usable" in again.stdout + again.stderr
        assert read_results(tmp_path / "run")["accuracy"] == record["accuracy"]
        assert json.loads(stored.read_text())["schema_version"] == record["schema_version"]  # stored afresh


def test_run_identity_covers_the_code_version_and_the_resolved_threads(monkeypatch):
    cfg = make_cfg()
    base = run_id(cfg)
    monkeypatch.setattr(identity, "RESULTS_VERSION", identity.RESULTS_VERSION + 1)
    assert run_id(cfg) != base
    monkeypatch.undo()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what a joblib worker sees
    one = run_id(cfg)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert run_id(cfg) != one
    assert run_id(make_cfg("hardware.threads=2")) == run_id(cfg)  # null resolves to the same count
    assert dense_key(make_cfg("hardware.threads=1"), 3) != dense_key(make_cfg("hardware.threads=2"), 3)


def test_the_record_states_the_thread_count(tmp_path):
    proc = run_cli(["train.epochs=1", "model.width=32", "model.depth=2", "hardware.threads=1"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    device = read_results(tmp_path / "run")["environment"]["device"]
    assert device["threads"] == "1" and device["torch_threads"] == "1"


def test_slow_epochs_are_reported_once_naming_hardware_threads(caplog):
    from rgp_bench.train.loop import EpochPace

    pace = EpochPace(threads=2)
    with caplog.at_level("WARNING"):
        for epoch, seconds in enumerate([1.0, 0.9, 1.0, 5.0, 6.0], start=1):
            pace.record("train", epoch, seconds)
    warnings = [r.message for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "train epoch 4 took 5.00 s" in warnings[0] and "hardware.threads=1" in warnings[0]


def test_without_a_terminal_the_log_has_one_line_per_epoch_and_the_milestones(tmp_path):
    args = ["method=magnitude", "train.epochs=2", "train.pretrain_epochs=2", "model.width=32", "model.depth=2"]
    first = run_cli(args, tmp_path)
    assert first.returncode == 0, first.stderr
    for line in ("pretrain epoch 1/2: loss", "train epoch 2/2: loss"):
        assert line in first.stdout
    rgp = run_cli(["method=rgp", "train.epochs=1", "model.width=64", "model.depth=2"], tmp_path)
    assert "graph: n=64 k=6 random/anneal, ASPL" in rgp.stdout
    again = run_cli([*args, "seed=0", "train.epochs=1"], tmp_path)  # same dense model, other fine-tuning
    assert "dense model loaded from cache" in again.stdout
    skip = run_cli(args, tmp_path)
    assert "skip: run " in skip.stdout
