"""End-to-end runs of `python -m rgp_bench` on digits, determinism, and every bad input."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from tests.conftest import read_results, run_cli

from rgp_bench.methods import get_method

FAST = ["train.epochs=3", "model.width=128", "model.depth=3"]


@pytest.fixture(scope="module")
def rgp_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rgp")
    proc = run_cli(["method=rgp", "ratio=0.9", *FAST], tmp)
    assert proc.returncode == 0, proc.stderr
    return proc, tmp / "run"


def test_rgp_run_writes_a_complete_record(rgp_run):
    proc, run_dir = rgp_run
    record = read_results(run_dir)
    assert record["status"] == "complete" and record["schema_version"] == 3
    assert (record["method"], record["dataset"], record["model"], record["regime"]) == ("rgp", "digits", "mlp",
                                                                                         "scratch")
    assert record["epochs"] == {"pretrain": 0, "train": 3, "total": 3, "resumed_from": 0}
    assert record["sparsity"]["achieved"] == pytest.approx(1 - 6 / 64)
    info = record["method_info"]
    assert (info["nodes"], info["degree"]) == (64, 6)
    assert info["aspl"] >= info["lower_bound"] > 1
    for key in ("final", "best_val"):
        assert 0 <= record["accuracy"][key]["top1"] <= record["accuracy"][key]["top5"] <= 100
    assert 1 <= record["accuracy"]["best_val"]["epoch"] <= 3
    assert [h["epoch"] for h in record["history"]] == [1, 2, 3]
    cost = record["cost"]
    assert cost["reduction"]["prunable_params"] == pytest.approx(1 - 6 / 64)
    assert cost["pruned"]["macs_effective"] < cost["dense"]["macs"]
    assert "fused multiply-add" in cost["mac_convention"]
    assert {row["name"] for row in cost["layers"] if row["prunable"]}
    assert set(record["timings"]) >= {"build", "prune", "measure", "train", "evaluate", "total"}
    assert set(record["peak_memory_mib"]) == set(record["timings"]) - {"total"} | {"run"}
    assert record["peak_memory_mib"]["run"] == max(record["peak_memory_mib"].values()) > 0
    assert record["config"]["seed"] == 0 and record["seed"] == 0
    assert record["environment"]["packages"]["torch"]
    assert record["environment"]["device"]["type"] == "cpu"
    assert "commit" in record["environment"]["git"]
    assert record["method_facts"] == dataclasses.asdict(get_method("rgp").facts)
    assert record["method_facts"]["block_structured"] and record["method_facts"]["exportable"]
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert "test top-1 @ best val" in proc.stdout and str(run_dir / "results.json") in proc.stdout


def test_same_seed_gives_identical_metrics(rgp_run, tmp_path):
    _, first_dir = rgp_run
    proc = run_cli(["method=rgp", "ratio=0.9", *FAST], tmp_path)
    assert proc.returncode == 0, proc.stderr
    a, b = read_results(first_dir), read_results(tmp_path / "run")
    assert a["accuracy"] == b["accuracy"]
    strip = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"])
    assert a["run_id"] == b["run_id"] and a["cost"] == b["cost"]


@pytest.mark.parametrize("method", ["magnitude", "random"])
def test_baselines_run_end_to_end(method, tmp_path):
    proc = run_cli([f"method={method}", "ratio=0.9", *FAST, "train.pretrain_epochs=2"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = read_results(tmp_path / "run")
    assert record["sparsity"]["achieved"] == pytest.approx(0.9, abs=1e-4)
    expected = {"magnitude": ("finetune", 2, 5), "random": ("scratch", 0, 3)}[method]
    assert (record["regime"], record["epochs"]["pretrain"], record["epochs"]["total"]) == expected
    if method == "magnitude":
        assert record["accuracy"]["dense"]["top1"] > 50


def test_epochs_zero_measures_without_training(tmp_path):
    proc = run_cli(["method=rgp", "train.epochs=0", "model.width=128"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = read_results(tmp_path / "run")
    assert record["history"] == [] and record["epochs"]["total"] == 0
    assert record["accuracy"]["final"]["epoch"] == 0 and record["cost"]["reduction"]["macs"] > 0.5


@pytest.mark.slow
def test_wandb_offline_run_writes_local_files(tmp_path):
    proc = run_cli(["method=random", "train.epochs=1", "model.width=64"], tmp_path, fast=False)
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))


@pytest.mark.parametrize(("args", "expected"), [
    (["ratio=1.5"], "ratio=1.5 is out of range; valid range: [0.0, 1.0)"),
    (["method=prune_all"], "unknown method option 'prune_all'; valid choices: "),
    (["model=vgg16"], "model vgg16 needs images of at least 32x32"),
    (["model=resnet20", "dataset=synthetic", "dataset.image_size=8", "method.nodes=32"],
     "method.nodes=32 is larger than masked layer"),
    (["dataset=cifar10", "dataset.root=nowhere"], "dataset.download=true"),
    (["hardware=cuda"], "needs a CUDA device but none is available; valid choices here: auto, cpu"),
])
def test_bad_input_gives_one_line_and_no_results(args, expected, tmp_path):
    proc = run_cli([*args, "train.epochs=1"], tmp_path)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "results.json").exists()
    error_file = tmp_path / "run" / "error.json"
    if error_file.exists():  # failures inside a run are recorded as such, never as results
        assert json.loads(error_file.read_text())["status"] == "failed"


@pytest.mark.slow
def test_bf16_autocast_runs_on_cpu(tmp_path):
    proc = run_cli(["method=rgp", "hardware=cpu", "hardware.precision=bf16", *FAST], tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = read_results(tmp_path / "run")
    assert record["environment"]["device"]["precision"] == "bf16"
    assert record["accuracy"]["final"]["top1"] > 50


@pytest.mark.slow
def test_wandb_failure_never_fails_the_run(tmp_path):
    # Online mode with no API key and an unreachable server: wandb cannot start; the run must go on. (No latency:
    # with HOME moved, torch's extension cache is empty and the timing would first build the C++ kernel.)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(HOME=str(tmp_path), WANDB_BASE_URL="http://127.0.0.1:9", PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, "-m", "rgp_bench", "logger=wandb_online", "train.epochs=1", "model.width=32",
                           "measure.latency.enabled=false", f"cache_dir={tmp_path}/cache",
                           f"hydra.run.dir={tmp_path}/run"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "wandb could not start" in proc.stdout + proc.stderr
    assert read_results(tmp_path / "run")["status"] == "complete"


@pytest.mark.gpu
@pytest.mark.parametrize("hardware", ["cuda", "cuda_amp"])
def test_cuda_runs_end_to_end(hardware, tmp_path):
    proc = run_cli([f"hardware={hardware}", "method=rgp", *FAST], tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = read_results(tmp_path / "run")
    assert record["environment"]["device"]["type"] == "cuda"
    assert record["environment"]["device"]["precision"] == ("bf16" if hardware == "cuda_amp" else "fp32")
    assert record["accuracy"]["final"]["top1"] > 50


# Issue: one clear line for every mistake, before anything is written.
BAD_COMMAND_LINES = [
    (["seed=-1"], "seed=-1 is out of range; valid range: [0, 4294967295]"),
    (["seed=4294967296"], "seed=4294967296 is out of range"),
    (["ratio=[0.5"], "cannot parse the override 'ratio=[0.5'"),
    (["ratio==0.5"], "cannot parse the override 'ratio==0.5'; write KEY=VALUE"),
    (["=0.5"], "the override '=0.5' has no key; write KEY=VALUE"),
    (["method='rgp"], "cannot parse the override \"method='rgp\""),
    (["cache_dir=/a", "b/c"], "cannot parse the override 'b/c'; write KEY=VALUE, and quote a value with spaces"),
    (["cache_dir=/tmp/über"], "cannot parse the override 'cache_dir=/tmp/über'"),
    (["~ratio"], "~ratio deletes a setting every run needs; set it instead (ratio=VALUE)"),
    (["+foo=1"], "unknown key 'foo'; valid keys at the top level: cache_dir, dataset"),
    (["cache_dir="], "cache_dir is empty; valid: a directory path"),
    (["hydra.run.dir="], "hydra.run.dir is empty; valid: a directory path"),
    (["cache_dir=/etc/hostname"], "cache_dir=/etc/hostname is a file, not a directory"),
    (["hydra/launcher=bogus"], "unknown hydra/launcher option 'bogus'; valid choices: basic, joblib, slurm"),
    (["--config-name=bogus"], "unknown --config-name 'bogus'; valid choices: config"),
    (["notanoverride"], "cannot parse the override 'notanoverride'; write KEY=VALUE"),
    (["train.lr=nan"], "train.lr=nan is invalid; valid range: a number > 0"),
    (["method=magnitude", "train.finetune_lr=inf"], "train.finetune_lr=inf is invalid; valid: null or a number > 0"),
    (["train.weight_decay=inf"], "train.weight_decay=inf is invalid"),
    (["train.momentum=nan"], "train.momentum=nan is invalid; valid range: [0.0, 1.0)"),
    (["dataset.val_fraction=0"], "dataset.val_fraction=0.0 is out of range; valid range: (0.0, 1.0)"),
    (["model.width=-3"], "model.width=-3 is invalid; valid range: an integer >= 1"),
    (["method.degree=1"], "method.degree=1 is invalid; valid: null or an integer >= 2"),
    (["method.degree=63", "method.nodes=8"], "degree 63 with 8 nodes is infeasible: degree must be in [2, 7]"),
    (["method.nodes=600"], "method.nodes=600 is larger than masked layer"),
    (["layers.exclude=[nope]"], "layers.exclude names unknown module 'nope'; valid: the model's conv/linear layers"),
    # The digits MLP's channel groups (the stem's outputs included) down to one channel each remove 0.99991.
    (["method=uniform", "ratio=0.99995"], "MAC reduction 0.99995 is not reachable by channel pruning of this model"),
    (["method=magnitude", "train.epochs=0"], "method magnitude prunes a trained model, but train.epochs=0 leaves it"),
    (["dataset=mnist1d", "model=resnet20"], "model resnet20 takes images, but the dataset has 1-D signals"),
    (["sanity=invert"], "sanity=invert needs a method that ranks weights by a score; rgp does not; valid methods:"),
    (["sanity=reinit"], "sanity=reinit draws new weights for a pruned trained model, but rgp runs in the scratch"),
    (["sanity=sideways"], "unknown sanity 'sideways'; valid choices: invert, none, reinit, shuffle"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_COMMAND_LINES)
def test_every_mistake_is_one_line_and_writes_nothing(args, expected, tmp_path, monkeypatch, capsys):
    from rgp_bench.__main__ import main

    monkeypatch.chdir(tmp_path)
    argv = [f"hydra.run.dir={tmp_path}/run", f"cache_dir={tmp_path}/cache", "logger=none", *args]
    monkeypatch.setattr(sys, "argv", ["rgp_bench", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exited.value.code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a mistake must fail before anything is written"


@pytest.mark.parametrize(("args", "expected"), [BAD_COMMAND_LINES[i] for i in (2, 13, 14)])
def test_the_real_cli_gives_the_same_single_line(args, expected, tmp_path):
    proc = run_cli(args, tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and expected in lines[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr and not list(tmp_path.iterdir())


def test_a_read_only_or_full_cache_dir_is_named(tmp_path, monkeypatch):
    import os
    import shutil
    from collections import namedtuple

    from rgp_bench.core.errors import UserError
    from rgp_bench.run.validate import check_output_dir

    monkeypatch.setattr(os, "access", lambda _path, _mode: False)
    with pytest.raises(UserError, match=rf"cache_dir={tmp_path} is not writable \({tmp_path} is read-only\)"):
        check_output_dir("cache_dir", str(tmp_path))
    monkeypatch.undo()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10, 10, 1024))
    with pytest.raises(UserError, match=r"cache_dir=.* is on a full disk \(0 MiB free at .*\); free some space"):
        check_output_dir("cache_dir", str(tmp_path / "new"))


def test_help_lists_groups_without_schemas_and_examples():
    proc = subprocess.run([sys.executable, "-m", "rgp_bench", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "_schema" not in proc.stdout and "method " in proc.stdout and "rgp, " in proc.stdout
    assert "python -m rgp_bench -m method=rgp,magnitude,random" in proc.stdout and "README.md" in proc.stdout
