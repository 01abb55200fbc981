"""Every way a run ends is recorded (issue 22): an exception, a full disk, MemoryError, Ctrl-C and SIGTERM each leave
one line on stderr, an exit status and an error.json naming the cause, written where there is room; a relaunch
resumes from the checkpoint the line names, and a resumed pretraining records its `resumed_from`."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from tests.job_harness import TINY, end_of, forget_hydra_config, job_cfg  # noqa: F401 - the fixture is used

from rgp_bench.core import fileio
from rgp_bench.record import io as record_io
from rgp_bench.run import ending, job, pipeline
from rgp_bench.run.tracking import Tracker


def stop_in_epoch(monkeypatch: pytest.MonkeyPatch, phase: str, epoch: int, stop) -> None:
    """Call `stop()` when the run reports `epoch` of `phase` (before that epoch's checkpoint is written)."""
    original = Tracker.log_epoch

    def log_epoch(self: Tracker, row: dict) -> None:
        original(self, row)
        if row["phase"] == phase and row["epoch"] == epoch:
            stop()

    monkeypatch.setattr(Tracker, "log_epoch", log_epoch)


def ctrl_c() -> None:
    raise KeyboardInterrupt


def sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler raises at the next bytecode; never reached


def test_ctrl_c_is_one_line_exit_130_and_the_relaunch_resumes_from_the_named_epoch(tmp_path, monkeypatch, capsys):
    cfg = job_cfg(tmp_path, "method=random", "train.epochs=3")
    stop_in_epoch(monkeypatch, "train", 2, ctrl_c)
    status, err, error = end_of(cfg, capsys)
    line = "interrupted; relaunch the same command to resume from epoch 2 of training"
    assert status == 130 and err == [line]
    assert error["status"] == "failed" and error["error"] == line and error["seed"] == 0
    monkeypatch.undo()
    cfg = job_cfg(tmp_path, "method=random", "train.epochs=3")
    job.run_job(cfg)
    record = json.loads((tmp_path / "run" / "results.json").read_text())
    assert record["epochs"]["resumed_from"] == 1 and [h["epoch"] for h in record["history"]] == [1, 2, 3]
    assert not (tmp_path / "run" / "error.json").exists()  # the failed attempt is set aside, kept
    assert json.loads(next((tmp_path / "run").glob("error.*.json")).read_text())["error"] == line


def test_sigterm_in_pretraining_is_recorded_and_the_resumed_pretraining_states_resumed_from(tmp_path, monkeypatch,
                                                                                             capsys):
    args = ["method=magnitude", "train.epochs=1", "train.pretrain_epochs=3"]
    cfg = job_cfg(tmp_path, *args)
    stop_in_epoch(monkeypatch, "pretrain", 3, sigterm)
    status, err, error = end_of(cfg, capsys)
    line = "stopped by SIGTERM; relaunch the same command to resume from epoch 3 of dense pretraining"
    assert status == 128 + signal.SIGTERM and err == [line] and error["error"] == line
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the run's handler is gone once it ended
    monkeypatch.undo()
    job.run_job(job_cfg(tmp_path, *args))
    record = json.loads((tmp_path / "run" / "results.json").read_text())
    assert record["epochs"] == {"pretrain": 3, "train": 1, "total": 4, "resumed_from": 2}
    assert record["dense_cache"]["hit"] is False


def test_sigterm_while_a_log_line_is_written_through_the_console_is_not_swallowed(monkeypatch):
    """A SIGTERM landing inside tqdm's logging handler (a bare `except:` that re-raises only KeyboardInterrupt and
    SystemExit) once went unseen: the run went on and exited 0."""
    from tqdm import tqdm

    from rgp_bench.core.console import job_console

    def write(*_args, **_kwargs) -> None:
        raise ending.Stopped(signal.SIGTERM)

    monkeypatch.setattr(tqdm, "write", write)
    logger = logging.getLogger("rgp_bench.test_console")
    with pytest.raises(ending.Stopped) as caught, ending.sigterm_raises(), job_console():
        logger.warning("an epoch's line")
    assert ending.exit_status(caught.value) == 143 and str(caught.value) == "SIGTERM"


def test_memory_error_is_one_line_and_recorded(tmp_path, monkeypatch, capsys):
    cfg = job_cfg(tmp_path, "method=random", "train.epochs=1")

    def out_of_memory(*_args, **_kwargs):
        raise MemoryError

    monkeypatch.setattr(pipeline, "measure", out_of_memory)
    status, err, error = end_of(cfg, capsys)
    assert status == 1 and len(err) == 1 and err[0].startswith("error: out of memory (MemoryError); lower ")
    assert error["error"] == err[0].removeprefix("error: ")


def test_an_unexpected_error_is_one_line_on_stderr_with_its_traceback_in_the_log(tmp_path, monkeypatch, capsys):
    cfg = job_cfg(tmp_path, "method=random", "train.epochs=1")

    def bug(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(pipeline, "measure", bug)
    status, err, error = end_of(cfg, capsys)
    assert status == 1 and len(err) == 1 and err[0].startswith("error: ZeroDivisionError: division by zero")
    assert error["error"] == "ZeroDivisionError: division by zero"


@pytest.mark.slow
def test_disk_full_while_checkpointing_names_the_path_and_the_free_space(tmp_path, monkeypatch, capsys):
    """torch's writer reports a full disk as `RuntimeError: ... unexpected pos ...`: it becomes one line."""
    cfg = job_cfg(tmp_path, "method=random", "train.epochs=2")

    def full_disk_save(*_args, **_kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:595] . unexpected pos 4352 vs 4240")

    monkeypatch.setattr(torch, "save", full_disk_save)
    monkeypatch.setattr(fileio, "free_bytes", lambda _path: 3 * 2**20)
    monkeypatch.setattr(ending, "free_bytes", lambda _path: 3 * 2**20)
    status, err, error = end_of(cfg, capsys)
    (store,) = (tmp_path / "cache" / "runs").iterdir()
    assert status == 1 and err == [f"error: disk full: could not write {store / 'checkpoint.pt'} (3 MiB free there); "
                                   "free some space and relaunch the same command to resume from epoch 1 (no epoch "
                                   "was checkpointed)"]
    assert error["error"] == err[0].removeprefix("error: ")
    assert not list(store.glob(".*.tmp"))  # nothing torn, no temp file left


@pytest.mark.slow
def test_disk_full_in_the_run_dir_puts_error_json_in_the_store_and_says_so(tmp_path, monkeypatch, capsys):
    cfg = job_cfg(tmp_path, "method=random", "train.epochs=1")
    run_dir = tmp_path / "run"
    write = record_io.write_json_atomic

    def full_run_dir(path: Path, payload: dict) -> None:
        if path.parent == run_dir:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write(path, payload)

    monkeypatch.setattr(record_io, "write_json_atomic", full_run_dir)
    status, err, error = end_of(cfg, capsys)
    (store,) = (tmp_path / "cache" / "runs").iterdir()
    assert status == 1 and len(err) == 1 and error == {}, err  # no room for error.json in the run dir
    assert err[0].startswith(f"error: disk full: could not write {run_dir / 'results.json'} (")
    assert err[0].endswith(f"(error.json written to {store / 'error.json'}: no room in {run_dir})")
    stored_error = json.loads((store / "error.json").read_text())
    assert stored_error["status"] == "failed" and stored_error["error"].startswith("disk full: could not write")
    assert not (store / "results.json").exists()  # never stored as complete


def _cli(tmp_path: Path, *args: str, session: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[1] / "src"),
                                                      env.get("PYTHONPATH")]))
    flags = [a for a in args if a.startswith("-")]
    return subprocess.Popen([sys.executable, "-m", "rgp_bench", *flags, *TINY, "method=random", "train.epochs=200",
                             f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/sweep",
                             f"cache_dir={tmp_path}/cache", "logger=none", "measure.latency.enabled=false",
                             *(a for a in args if not a.startswith("-"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            start_new_session=session)


def _stop_after_first_epoch(proc: subprocess.Popen, sig: int) -> tuple[str, str]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if "train epoch 1/200" in line:
            proc.send_signal(sig)
            break
    out, err = proc.communicate(timeout=120)
    return out, err


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "status", "start"), [(signal.SIGINT, 130, "interrupted; relaunch the same command "
                                                                           "to resume from epoch "),
                                                      (signal.SIGTERM, 143, "stopped by SIGTERM; relaunch the same "
                                                                            "command to resume from epoch ")])
def test_a_signal_to_the_cli_is_one_line_and_its_exit_status(tmp_path, sig, status, start):
    proc = _cli(tmp_path)
    _, err = _stop_after_first_epoch(proc, sig)
    assert proc.returncode == status, err
    assert len(err.strip().splitlines()) == 1 and err.startswith(start), err
    assert json.loads((tmp_path / "run" / "error.json").read_text())["error"] == err.strip()


@pytest.mark.slow
def test_ctrl_c_in_a_sweep_stops_it_with_one_line_and_exit_130(tmp_path):
    proc = _cli(tmp_path, "-m", "seed=0,1")
    _, err = _stop_after_first_epoch(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted; relaunch the same command to resume from epoch"), err
    (error,) = (tmp_path / "sweep").glob("*/error.json")
    assert json.loads(error.read_text())["seed"] == 0


@pytest.mark.slow
def test_ctrl_c_in_a_joblib_sweep_is_one_line_exit_130_and_each_job_records_where_it_stopped(tmp_path):
    """A terminal's Ctrl-C reaches the launcher and its job processes (one process group): each job writes its
    error.json, the launcher waits for them and the sweep ends with one line (it printed a traceback)."""
    from rgp_bench.__main__ import INTERRUPTED_SWEEP

    proc = _cli(tmp_path, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1", session=True)
    assert proc.stdout is not None
    training = set()
    for line in proc.stdout:
        if "train epoch 1/200" in line:
            training.add(line.split("]", 1)[0])  # the job's label, "[random r0.9 s0"
            if len(training) == 2:  # both jobs are training
                os.killpg(proc.pid, signal.SIGINT)
                break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines() == [INTERRUPTED_SWEEP], err[-3000:]
    errors = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/error.json")]
    # Each job that recorded its stop says where a relaunch resumes. (A job reached while it writes its epoch
    # checkpoint has been seen to end without error.json: a relaunch still resumes it from that checkpoint.)
    assert errors and all(e["error"].startswith("interrupted; relaunch the same command to resume from")
                          for e in errors), errors


@pytest.fixture
def small_disk(tmp_path):
    """A 72 MiB tmpfs (just above the 64 MiB a run needs to start), mounted for the test; skipped where mounting is
    not allowed (not root, a container without the capability)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=72m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("needs to mount a tmpfs (root): " + mounted.stderr.decode(errors="replace").strip())
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> None:
    """Write to `disk` until it is full."""
    with open(disk / "filler", "wb") as out:
        try:
            while True:
                out.write(b"\0" * 2**20)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


@pytest.mark.slow
def test_a_real_full_disk_mid_run_is_one_line_and_error_json_lands_in_the_temp_dir(small_disk, monkeypatch, capsys):
    """No simulation: the run dir and the store share a disk that fills up after the first epoch, so the epoch's
    checkpoint cannot be written, nor error.json beside it."""
    cfg = job_cfg(small_disk, "method=random", "train.epochs=3")
    stop_in_epoch(monkeypatch, "train", 1, lambda: _fill(small_disk))
    status, err, error = end_of(cfg, capsys)
    (store,) = (small_disk / "cache" / "runs").iterdir()
    assert status == 1 and len(err) == 1 and error == {}, err
    assert err[0].startswith(f"error: disk full: could not write {store / 'checkpoint.pt'} (0 MiB free there); "
                             "free some space and relaunch the same command to resume from epoch 1"), err
    where = Path(err[0].split("error.json written to ", 1)[1].split(": no room in", 1)[0])
    assert where.parent.parent == Path(tempfile.gettempdir()) / ending.FALLBACK_DIR
    assert json.loads(where.read_text())["status"] == "failed"
    assert not list(store.glob(".*.tmp"))  # nothing torn, no temp file left
    where.unlink()
