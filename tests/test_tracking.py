"""wandb tracking: groups separate what the report keeps apart; the README's sync command finds every run."""

from __future__ import annotations

import glob
import re
from pathlib import Path

from tests.conftest import make_cfg

from rgp_bench.run.tracking import cell_name


def test_the_group_encodes_regime_epochs_budget_and_a_non_default_recipe():
    assert cell_name(make_cfg()) == "digits-mlp-r0.9-scratch-e30"
    assert cell_name(make_cfg("method=magnitude")) == "digits-mlp-r0.9-finetune-e60"
    assert cell_name(make_cfg("method=magnitude", "train.pretrain_epochs=10")) == "digits-mlp-r0.9-finetune-e40"
    recipe = make_cfg("train.lr=0.05", "train.batch_size=64")
    assert cell_name(recipe) == "digits-mlp-r0.9-scratch-e30-batch_size64-lr0.05"
    assert cell_name(make_cfg("method=uniform", "ratio=0.5")).startswith("digits-mlp-r0.5macs-")
    # a seed, the method or a path never splits a group
    assert cell_name(make_cfg("seed=3", "method=random", "cache_dir=/x")) == cell_name(make_cfg())


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
