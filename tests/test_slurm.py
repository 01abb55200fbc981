"""Sweeps on a real SLURM cluster through `hydra/launcher=slurm`: a two-job sweep, and a requeued (preempted) job.

These need a cluster with a partition `debug` (scripts/slurm/cluster.sh start brings up a one-node one on this
machine; .ci/run does it) and are skipped, with the reason, without one. Jobs run on the CPU: the preset's
GPU request is overridden with hydra.launcher.gpus_per_node=0.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tests.conftest import SLURM_PARTITION, read_results, run_cli, slurm_accounting

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

# The preset with CPU resources small enough for a laptop-sized node (two jobs side by side on two cores).
SLURM_CPU = ["hydra/launcher=slurm", f"hydra.launcher.partition={SLURM_PARTITION}", "hydra.launcher.gpus_per_node=0",
             "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=10",
             "hardware=cpu"]
SACCT_WARNING = "Bypassing sacct error"


def _records(sweep: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]


def _job_ids(sweep: Path) -> list[str]:
    """SLURM job ids of a sweep's jobs, from submitit's folders (`.submitit/<id>`, `<id>_<index>` in an array)."""
    return sorted(p.parent.name for p in (sweep / ".submitit").glob("*/*_submitted.pkl"))


def _sacct_states(job: str) -> list[str]:
    """`<job id>|<state>` of each task of a job, as SLURM's accounting has it."""
    return sorted(subprocess.run(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", job], capture_output=True,
                                 text=True, timeout=30).stdout.split())


def test_slurm_sweep_runs_both_jobs_and_writes_the_report(tmp_path):
    start = time.perf_counter()
    proc = run_cli(["-m", *SLURM_CPU, "method=rgp,random", "train.epochs=1", "model.width=32", "model.depth=2"],
                   tmp_path, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    sweep = tmp_path / "sweep"
    assert "Submitit 'slurm' sweep output dir" in output
    records = _records(sweep)
    assert sorted(r["method"] for r in records) == ["random", "rgp"]
    assert all(r["status"] == "complete" for r in records)
    assert (sweep / "report" / "report.md").is_file()
    assert "0 failed, 0 incomplete, 0 missing" in proc.stdout
    jobs = _job_ids(sweep)
    assert len(jobs) == 2 and {j.split("_")[1] for j in jobs} == {"0", "1"}, jobs  # one array of two tasks
    if slurm_accounting():  # the test cluster keeps accounting, so submitit's sacct polls succeed
        assert SACCT_WARNING not in output, [line for line in output.splitlines() if SACCT_WARNING in line][:3]
        # slurmdbd records a job's end a moment after submitit has read its result: wait for it.
        completed = sorted(f"{j}|COMPLETED" for j in jobs)
        deadline = time.monotonic() + 60
        while (states := _sacct_states(jobs[0].split("_")[0])) != completed and time.monotonic() < deadline:
            time.sleep(0.5)
        assert states == completed, states
    print(f"slurm sweep of 2 jobs: {time.perf_counter() - start:.1f} s")


def _epoch_checkpoint(cache: Path) -> bool:
    """Whether the run store holds a training checkpoint with at least one finished epoch."""
    for path in cache.glob("runs/*/checkpoint.pt"):
        try:
            saved = torch.load(path, weights_only=True)
        except (OSError, RuntimeError, EOFError):  # caught mid-rename: look again
            continue
        if saved.get("phase") == "train" and len(saved.get("history", [])) >= 1:
            return True
    return False


def _job_processes(sweep: Path) -> list[int]:
    """PIDs of the sweep's running submitit job processes (`python -m submitit.core._submit <sweep>/.submitit/…`)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:  # not a process, or it ended
            continue
        if b"submitit.core._submit" in argv and any(str(sweep).encode() in a for a in argv):
            pids.append(int(proc.name))
    return pids


def test_requeued_slurm_job_resumes_from_its_epoch_checkpoint_and_matches(tmp_path):
    """`scontrol requeue` (what preemption does) kills the job mid-training; SLURM relaunches the same pickled
    job, which resumes from the run store's epoch checkpoint and ends with the metrics of an uninterrupted run."""
    start = time.perf_counter()
    # submitit ignores SLURM's SIGTERM, so the job would train on until the SIGKILL KillWait later, and on a loaded
    # machine the requeue itself can take seconds to reach it: the first attempt could finish, and nothing would be
    # resumed. So the test freezes the job (SIGSTOP) once its first epoch is checkpointed, requeues it, and then
    # delivers the SIGKILL itself: the first attempt ends mid-training however slow the machine is.
    args = ["hardware=cpu", "method=random", "train.epochs=6", "train.batch_size=8", "model.width=256"]
    work = tmp_path / "work"
    work.mkdir()
    sweep, cache = work / "sweep", work / "cache"
    cmd = [sys.executable, "-m", "rgp_bench", "-m", *SLURM_CPU, f"hydra.sweep.dir={sweep}", f"cache_dir={cache}",
           "logger=none", "measure.latency.enabled=false", *args]  # as run_cli's reference, so the run ids agree
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(work / "sweep.out", "w") as out, open(work / "sweep.err", "w") as err:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None and not _epoch_checkpoint(cache):
            time.sleep(0.1)
        assert proc.poll() is None, "the sweep ended before its job could be requeued: " + (
            (work / "sweep.err").read_text()[-3000:])
        assert _epoch_checkpoint(cache), "no epoch checkpoint within 180 s"
        (job,) = _job_ids(sweep)
        pids = _job_processes(sweep)
        assert pids, "the job's process was not found"
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        requeue = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=30)
        assert requeue.returncode == 0, requeue.stderr
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # SLURM's own SIGKILL may have come first
                os.kill(pid, signal.SIGKILL)

        # The uninterrupted reference (plain CLI, same config) runs while SLURM restarts the job.
        (tmp_path / "ref").mkdir()
        reference = run_cli(args, tmp_path / "ref")
        assert reference.returncode == 0, reference.stderr[-3000:]
        proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            subprocess.run(["scancel", *_job_ids(sweep)], capture_output=True, timeout=30)
    output = (work / "sweep.out").read_text() + (work / "sweep.err").read_text()
    assert proc.returncode == 0, output[-3000:] + "".join(p.read_text() for p in sweep.glob("*/error.json"))
    job_log = (sweep / ".submitit" / job / f"{job}_0_log.err").read_text()
    assert "DUE TO JOB REQUEUE" in job_log  # SLURM did kill the first attempt

    (record,) = _records(sweep)
    assert record["status"] == "complete"
    assert 1 <= record["epochs"]["resumed_from"] < 6, record["epochs"]
    a = read_results(tmp_path / "ref" / "run")
    assert a["run_id"] == record["run_id"]
    assert a["accuracy"] == record["accuracy"]
    strip = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]  # noqa: E731
    assert strip(a["history"]) == strip(record["history"])
    print(f"requeue test: resumed from epoch {record['epochs']['resumed_from']}, {time.perf_counter() - start:.1f} s")
