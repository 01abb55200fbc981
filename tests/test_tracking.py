"""wandb tracking: a group is the report's comparison cell; regime, epochs and recipe are tags; summary modes,
the measured speed-up and a cached dense model's curves reach the run (a fake wandb module: no network); the
README's sync command finds every run."""

from __future__ import annotations

import glob
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import make_cfg
from tests.record_factory import latency, make_record

from rgp_bench.run.pipeline import run as run_pipeline
from rgp_bench.run.tracking import Tracker, cell_name, run_tags


class FakeRun:
    """What a wandb run was told: init arguments, metric definitions, logged rows and the summary."""

    def __init__(self, **init: Any) -> None:
        self.init, self.defined, self.logged, self.summary, self.finished = init, {}, [], {}, False

    def define_metric(self, name: str, **kwargs: Any) -> None:
        self.defined[name] = kwargs

    def log(self, row: dict[str, Any]) -> None:
        self.logged.append(row)

    def finish(self) -> None:
        self.finished = True


@pytest.fixture
def fake_wandb(monkeypatch: pytest.MonkeyPatch) -> list[FakeRun]:
    """A stand-in `wandb` module; returns the runs it started."""
    runs: list[FakeRun] = []

    def init(**kwargs: Any) -> FakeRun:
        runs.append(FakeRun(**kwargs))
        return runs[-1]

    module = types.SimpleNamespace(init=init, Settings=lambda **kw: kw,
                                   Table=lambda columns, data: ("table", columns, data))
    monkeypatch.setitem(sys.modules, "wandb", module)
    return runs


def test_the_group_is_the_report_cell_and_regime_epochs_recipe_are_tags():
    assert cell_name(make_cfg()) == "digits-mlp-r0.9"
    assert cell_name(make_cfg("method=magnitude")) == "digits-mlp-r0.9"
    assert run_tags(make_cfg("method=magnitude")) == {"regime": "finetune", "epochs_total": 60, "recipe": "default"}
    assert run_tags(make_cfg("method=magnitude", "train.pretrain_epochs=10"))["epochs_total"] == 40
    recipe = make_cfg("train.lr=0.05", "train.batch_size=64")
    assert cell_name(recipe) == "digits-mlp-r0.9"
    assert run_tags(recipe) == {"regime": "scratch", "epochs_total": 30, "recipe": "batch_size64-lr0.05"}
    assert cell_name(make_cfg("method=uniform", "ratio=0.5")) == "digits-mlp-r0.5macs"
    # a seed, the method or a path never splits a group
    assert cell_name(make_cfg("seed=3", "method=random", "cache_dir=/x")) == cell_name(make_cfg())


@pytest.mark.parametrize("ratio", [0.5, 0.9])
def test_a_sweep_of_rgp_magnitude_and_random_puts_each_ratio_in_one_group(ratio: float):
    # method=rgp,magnitude,random ratio=0.5,0.9 seed=0,1: magnitude fine-tunes (60 epochs), the others train from
    # scratch (30), yet the report compares them in one block, and so does the dashboard.
    cfgs = [make_cfg(f"method={m}", f"ratio={ratio}", f"seed={s}") for m in ("rgp", "magnitude", "random")
            for s in (0, 1)]
    assert {cell_name(c) for c in cfgs} == {f"digits-mlp-r{ratio}"}
    assert {run_tags(c)["regime"] for c in cfgs} == {"scratch", "finetune"}


def test_a_run_declares_summary_modes_and_puts_the_speed_up_in_its_summary(fake_wandb, tmp_path):
    cfg = make_cfg("method=magnitude", "logger=wandb")
    tracker = Tracker(cfg, tmp_path, "abc", sweep_dir=str(tmp_path / "multirun" / "12-00-00"))
    (run_,) = fake_wandb
    assert run_.init["group"] == "digits-mlp-r0.9" and run_.init["job_type"] == "magnitude"
    assert {"finetune", "e60", "sweep-multirun_12-00-00"} <= set(run_.init["tags"])
    assert run_.init["config"]["regime"] == "finetune" and run_.init["config"]["epochs_total"] == 60
    assert run_.defined["train/val_top1"] == {"step_metric": "train/epoch", "summary": "max"}
    assert run_.defined["pretrain/val_top1"]["summary"] == "max"
    assert run_.defined["train/val_loss"]["summary"] == "min"
    record = make_record("magnitude", ratio=0.9)
    record.cost.latency = latency(2.5, batch=64)
    tracker.log_record(record)
    tracker.finish()
    assert run_.summary["cost.latency.speedup"] == 2.5
    assert run_.summary["cost.latency.speedup_at_batch_64"] == 2.5
    assert run_.summary["accuracy/best_val/val_top1"] == record.accuracy.best_val.val_top1
    assert run_.finished


def test_a_run_that_reuses_the_cached_dense_model_logs_its_pretraining_curves(fake_wandb, tmp_path):
    common = ["method=magnitude", "model.width=32", "model.depth=2", "train.epochs=1", "train.pretrain_epochs=2",
              "train.limit_batches=2", "measure.latency.enabled=false", "train.progress=false", "logger=wandb",
              f"cache_dir={tmp_path / 'cache'}"]
    for name, ratio in (("first", 0.5), ("second", 0.9)):  # the second loads the dense model the first trained
        (tmp_path / name).mkdir()
        run_pipeline(make_cfg(*common, f"ratio={ratio}"), tmp_path / name, tmp_path / f"{name}.ckpt")
    first, second = fake_wandb
    curves = [[(row["pretrain/epoch"], row["pretrain/val_top1"]) for row in r.logged if "pretrain/epoch" in row]
              for r in (first, second)]
    assert len(curves[0]) == 2 and curves[1] == curves[0]
    assert second.summary["pretrain/cached"] is True and "pretrain/cached" not in first.summary


def test_the_readme_sync_globs_cover_single_runs_sweep_jobs_and_the_summary_run(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    command = re.search(r"^wandb sync (.+?)\s+#", readme, re.M)
    assert command, "README must show the wandb sync command"
    runs = ["outputs/2026-11-21/08-00-00_rgp_mlp_r0.9_s0/wandb/offline-run-1",
            "multirun/2026-11-21/08-00-00/method=rgp,seed=0/wandb/offline-run-2",  # a sweep job
            "multirun/2026-11-21/08-00-00/wandb/offline-run-3"]  # the sweep's summary run
    for run in runs:
        (tmp_path / run).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    found = {p for pattern in command.group(1).split() for p in glob.glob(pattern)}
    assert found == set(runs)


def test_the_readme_dashboards_name_keys_a_run_logs(fake_wandb, tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### Dashboards", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`((?:accuracy|cost|train|pretrain)[/.][\w/.]+|regime|epochs_total|recipe)`", section))
    assert {"accuracy/best_val/top1", "cost.latency.speedup", "train/val_top1", "regime"} <= named
    tracker = Tracker(make_cfg("method=magnitude", "logger=wandb"), tmp_path, "abc")
    record = make_record("magnitude", ratio=0.9)
    record.cost.latency = latency(2.0)
    tracker.log_record(record)
    (run_,) = fake_wandb
    known = {*run_.summary, *run_.init["config"], *run_.defined}
    assert named <= known, named - known
