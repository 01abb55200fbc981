"""Multirun sweeps: launchers, the end-of-sweep report, skipping complete runs, and resuming killed ones."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tests.conftest import SWEEP_FIGURES, make_cfg, read_results, run_cli

from hydra_plugins.rgp_bench_launcher.resilient import threads_per_worker
from rgp_bench.core.console import FORCE_TTY_ENV
from rgp_bench.run.identity import run_id
from rgp_bench.store.dense import pretrained_dense

TINY = ["train.epochs=2", "model.width=64", "model.depth=2"]


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    # A stated thread count keeps the run ids the same under another launcher (the relaunch test), which would
    # otherwise resolve hardware.threads to another count.
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "method=rgp,magnitude,random",
            "ratio=0.5,0.9", "seed=0,1", "hardware.threads=1", *TINY, f"{SWEEP_FIGURES}=true"]
    # As if a terminal were attached (the acceptance case: two workers must not draw bars over each other).
    proc = run_cli(args, tmp, timeout=600, env={FORCE_TTY_ENV: "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, args, proc


@pytest.mark.slow
def test_joblib_workers_print_prefixed_lines_no_bars_and_the_sweep_ends_with_the_table(joblib_sweep):
    _, _, proc = joblib_sweep
    output = proc.stdout + proc.stderr
    assert "%|" not in output and "\r" not in output  # no progress bar from either worker
    epochs = [line for line in output.splitlines() if " epoch 2/2: loss " in line]
    assert len(epochs) == 12 + 2  # every job's last epoch, and each seed's dense pretraining (cached for both ratios)
    assert all(re.match(r"\[(rgp|magnitude|random) r0\.[59] s[01]\] ", line) for line in epochs)
    counts = [line for line in proc.stdout.splitlines() if line.startswith("[sweep] ")]
    assert len(counts) == 12 and counts[-1] == "[sweep] 12 of 12 done, 0 failed"
    tail = proc.stdout.strip().splitlines()[-6:]
    assert tail[0] == "digits / mlp: test top-1 % (best_val), mean ± std (seeds)"
    assert tail[1].split() == ["method", "budget", "regime", "r=0.5", "r=0.9"]
    assert [row.split()[0] for row in tail[2:5]] == ["magnitude", "random", "rgp"]
    assert tail[5].startswith("sweep report: 12 runs in 6 groups;") and tail[5].endswith("report.html")


@pytest.mark.slow
def test_joblib_sweep_runs_every_job_and_writes_the_report(joblib_sweep):
    tmp, _, proc = joblib_sweep
    sweep = tmp / "sweep"
    records = [json.loads(p.read_text()) for p in sweep.glob("*/results.json")]
    assert len(records) == 12
    assert {(r["method"], r["ratio"], r["seed"]) for r in records} == {
        (m, r, s) for m in ("rgp", "magnitude", "random") for r in (0.5, 0.9) for s in (0, 1)}
    report = sweep / "report"
    for name in ("results.csv", "report.md", "report.html", "plots/digits_mlp_params.png",
                 "plots/digits_mlp_macs.png"):
        assert (report / name).is_file(), name
    assert (report / "plots/digits_mlp_macs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((report / "results.csv").read_text().strip().splitlines()) == 13
    assert "0 failed, 0 incomplete, 0 missing" in proc.stdout


@pytest.mark.slow
def test_relaunching_the_sweep_skips_all_complete_runs(joblib_sweep):
    tmp, args, _ = joblib_sweep
    # A relaunch lands in a new sweep dir: completed runs are found by their content hash. It runs in-process
    # (basic launcher): skipping is the job's logic, whatever the launcher (the lost-worker test relaunches under
    # joblib), and twelve worker processes would only add their start-up.
    args = [a for a in args if not a.startswith(("hydra.sweep.dir", "hydra/launcher", "hydra.launcher"))]
    args += ["hydra/launcher=basic", f"hydra.sweep.dir={tmp}/relaunch", f"{SWEEP_FIGURES}=false"]
    start = time.perf_counter()
    proc = run_cli(args, tmp, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("skip: run ")]
    assert len(skipped) == 12
    relaunch = {json.loads(p.read_text())["run_id"]: json.loads(p.read_text())
                for p in (tmp / "relaunch").glob("*/results.json")}
    original = {json.loads(p.read_text())["run_id"]: json.loads(p.read_text())
                for p in (tmp / "sweep").glob("*/results.json")}
    assert relaunch.keys() == original.keys()
    assert all(relaunch[k]["accuracy"] == original[k]["accuracy"] for k in original)
    assert time.perf_counter() - start < 120


@pytest.mark.slow
def test_submitit_local_launcher_runs_jobs(tmp_path):
    proc = run_cli(["-m", "hydra/launcher=submitit_local", "method=rgp,random", "train.epochs=1",
                    "model.width=32", "model.depth=2"], tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((tmp_path / "sweep").glob("*/results.json"))) == 2
    assert (tmp_path / "sweep" / "report" / "report.md").is_file()


def test_slurm_launcher_config_composes():
    proc = subprocess.run([sys.executable, "-m", "rgp_bench", "hydra/launcher=slurm", "--cfg", "hydra"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "SlurmLauncher" in proc.stdout and "max_num_timeout: 3" in proc.stdout


@pytest.mark.parametrize(("overrides", "figures"), [([], True), ([f"{SWEEP_FIGURES}=false"], False)])
def test_the_sweep_report_draws_figures_unless_told_not_to(overrides, figures):
    from hydra.utils import instantiate
    from tests.test_presets import compose_with_hydra

    callback = instantiate(compose_with_hydra(*overrides).hydra.callbacks.sweep_report)
    assert (type(callback).__name__, callback.figures, callback.reference) == (
        "SweepReport", figures, ("magnitude", "random", "uniform", "random_search", "dense"))


@pytest.mark.slow
def test_failed_jobs_are_listed_in_the_sweep_report(tmp_path):
    # A divergence passes every pre-launch check and fails only at run time, inside its job.
    proc = run_cli(["-m", "train.lr=0.05,1e6", "train.epochs=1", "model.width=32", "model.depth=2"],
                   tmp_path, timeout=600)
    report = (tmp_path / "sweep" / "report" / "report.md").read_text()
    assert "1 failed" in report and "diverged: the training loss became nan" in report
    assert len(list((tmp_path / "sweep").glob("*/results.json"))) == 1
    assert proc.returncode != 0  # Hydra reports the failed job after the others finished


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["pretrain", "train"])
def test_killed_run_resumes_and_matches_an_uninterrupted_run(phase, tmp_path):
    args = ["method=magnitude", "train.epochs=6", "train.pretrain_epochs=6", "model.width=256"]
    (tmp_path / "ref").mkdir()
    reference = run_cli(args, tmp_path / "ref")
    assert reference.returncode == 0, reference.stderr

    work = tmp_path / "work"
    work.mkdir()
    extra = [f"hydra.run.dir={work}/run", f"cache_dir={work}/cache", "logger=none", "measure.latency.enabled=false"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rgp_bench", *extra, *args], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Dense pretraining checkpoints beside the dense cache; the pruned phase in the run store.
    pattern = "dense/*.partial.pt" if phase == "pretrain" else "runs/*/checkpoint.pt"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((work / "cache").glob(pattern))
        try:
            if found and torch.load(found[0], weights_only=True)["phase"] == phase:
                proc.send_signal(signal.SIGKILL)
                break
        except (OSError, RuntimeError, EOFError):  # caught mid-rename: look again
            pass
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    assert not (work / "run" / "results.json").exists()

    resumed = run_cli(args, work)
    assert resumed.returncode == 0, resumed.stderr
    a, b = read_results(tmp_path / "ref" / "run"), read_results(work / "run")
    if phase == "train":
        assert b["epochs"]["resumed_from"] >= 1 and b["dense_cache"]["hit"] is True
    assert a["accuracy"] == b["accuracy"]
    strip = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"])


def _train_dense(cache_dir: str, marker_dir: str, queue: mp.Queue) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)

    def train(_checkpoint: Path) -> dict:
        (Path(marker_dir) / f"trained-{os.getpid()}").touch()
        time.sleep(0.5)  # long enough that the other process arrives while this one holds the lock
        with torch.no_grad():
            model.weight.fill_(float(os.getpid()))
        return {"trainer": os.getpid()}

    meta, hit = pretrained_dense(model, Path(cache_dir), "key", train)
    queue.put((meta["trainer"], hit, float(model.weight[0, 0])))


def test_concurrent_jobs_share_one_dense_checkpoint(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_train_dense, args=(str(tmp_path / "cache"), str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert len(list(tmp_path.glob("trained-*"))) == 1  # trained exactly once
    trainers = {r[0] for r in results}
    assert len(trainers) == 1
    assert sorted(r[1] for r in results) == [False, True]
    assert all(r[2] == float(trainers.pop()) for r in results[:1]) and results[0][2] == results[1][2]


@pytest.mark.slow
def test_wandb_sweep_groups_runs_and_logs_a_summary_run(tmp_path):
    proc = run_cli(["-m", "method=rgp,random", "train.epochs=1", "model.width=32", "model.depth=2"], tmp_path,
                   fast=False, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "sweep"
    assert len(list(sweep.glob("*/wandb/offline-run-*"))) == 2  # one wandb run per job
    summary = list((sweep / "wandb").glob("offline-run-*"))
    assert len(summary) == 1  # plus the sweep's summary run
    logged = b"".join(p.read_bytes() for p in summary[0].glob("*.wandb"))
    assert b"summary" in logged and b"sweep-" in logged  # job type and group of the summary run
    job_run = next(sweep.glob("method=rgp*/wandb/offline-run-*"))
    job_logged = b"".join(p.read_bytes() for p in job_run.glob("*.wandb"))
    assert b"digits-mlp-r0.9" in job_logged and b"sweep-" in job_logged  # cell group, sweep tag


@pytest.mark.slow
def test_a_lost_joblib_worker_fails_only_its_job_and_a_relaunch_completes_it(tmp_path):
    common = ["train.epochs=8", "model.width=256", "logger=none", "measure.latency.enabled=false"]
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "method=rgp,random", "seed=0", *common,
            f"{SWEEP_FIGURES}=false",
            f"hydra.sweep.dir={tmp_path}/sweep", f"cache_dir={tmp_path}/cache"]
    # Job 0 of the sweep; its own checkpoint (not just any) must exist when it is killed, or it restarts from 0.
    # The launcher gives each of its 2 workers their share of the cores, and the thread count is part of the run id.
    job0 = make_cfg("method=rgp", "seed=0", f"hardware.threads={threads_per_worker(2)}", *common)
    job0_checkpoint = tmp_path / "cache" / "runs" / run_id(job0) / "checkpoint.pt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rgp_bench", *args], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    victim = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and victim is None and proc.poll() is None:
        pid_file = tmp_path / "sweep" / ".launcher" / "0.pid"
        if job0_checkpoint.is_file() and pid_file.is_file():  # job 0 is training and has a checkpoint: kill it
            victim = int(pid_file.read_text())
            os.kill(victim, signal.SIGKILL)
        time.sleep(0.05)
    output, _ = proc.communicate(timeout=600)
    assert victim is not None, output[-3000:]
    assert proc.returncode != 0  # a failed job makes the sweep exit non-zero, after the others finished
    jobs = sorted(p.name for p in (tmp_path / "sweep").iterdir() if "method=" in p.name)
    errors = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/error.json")]
    assert len(errors) == 1 and "lost: the job's worker process was killed by signal SIGKILL" in errors[0]["error"]
    assert len(list((tmp_path / "sweep").glob("*/results.json"))) == 1, jobs  # the other job finished
    report = (tmp_path / "sweep" / "report" / "report.md").read_text()
    assert "1 failed" in report and "killed by signal SIGKILL" in report

    again = subprocess.run([sys.executable, "-m", "rgp_bench", *args], cwd=tmp_path, env=env, text=True,
                           capture_output=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/results.json")]
    assert len(records) == 2 and not list((tmp_path / "sweep").glob("*/error.json"))
    assert sum(r["epochs"]["resumed_from"] >= 1 for r in records) == 1  # the lost job resumed from its checkpoint
    assert again.stdout.count("skip: run ") == 1
