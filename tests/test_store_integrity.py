"""A result is never lost or hidden (issue 22): another run's record is not taken for this run's, a run dir never
holds records of two attempts, the report reads the newest attempt, killed jobs' temp files go, an older schema is
never read as current, and the report's exit status says when nothing usable was found."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from tests.job_harness import end_of, forget_hydra_config, job_cfg  # noqa: F401 - the fixture is used
from tests.record_factory import make_record, stored, write_results_file

from rgp_bench.core.fileio import file_lock
from rgp_bench.report.cli import NOTHING_USABLE, main
from rgp_bench.report.collect import collect
from rgp_bench.run import job
from rgp_bench.store.dense import remove_stale_dense_temps
from rgp_bench.store.runs import RunStore


def _results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def test_another_runs_record_in_the_store_slot_is_set_aside_and_the_run_redone(tmp_path):
    job.run_job(job_cfg(tmp_path / "s1", "method=random", "train.epochs=1", "seed=1"))
    job.run_job(job_cfg(tmp_path / "s0", "method=random", "train.epochs=1", "seed=0"))
    own = _results(tmp_path / "s0" / "run")
    (slot,) = (tmp_path / "s0" / "cache" / "runs").iterdir()
    (other,) = (tmp_path / "s1" / "cache" / "runs").glob("*/results.json")
    shutil.copyfile(other, slot / "results.json")  # seed 1's complete record in seed 0's slot

    job.run_job(job_cfg(tmp_path / "s0", "method=random", "train.epochs=1", "seed=0"))
    (foreign,) = slot.glob("results.foreign-*.json")
    assert json.loads(foreign.read_text())["seed"] == 1  # moved aside, never deleted
    assert json.loads((slot / "results.json").read_text())["seed"] == 0  # the slot holds its own run again
    again = _results(tmp_path / "s0" / "run")
    assert again["seed"] == 0 and again["accuracy"] == own["accuracy"]  # redone, same metrics
    (earlier,) = (tmp_path / "s0" / "run").glob("results.*T*.json")
    assert json.loads(earlier.read_text()) == own  # the run dir's own record was not overwritten, but kept


def test_a_failed_attempt_sets_the_complete_record_aside_and_the_report_shows_it(tmp_path, capsys):
    args = ["method=random", "train.epochs=1"]
    job.run_job(job_cfg(tmp_path, *args))
    run_dir = tmp_path / "run"
    (slot,) = (tmp_path / "cache" / "runs").iterdir()
    stale = [slot / ".checkpoint.pt.kill1.tmp", tmp_path / "cache" / "dense" / ".0123abcd.partial.pt.kill2.tmp"]
    for tmp in stale:  # what a kill mid-write leaves
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(b"torn")
        os.utime(tmp, (time.time() - 60, time.time() - 60))

    status, err, error = end_of(job_cfg(tmp_path, *args, "train.lr=1e6"), capsys)  # same run dir: diverges
    assert status == 1 and err[0].startswith("error: diverged") and error["status"] == "failed"
    assert not any(tmp.exists() for tmp in stale)  # cleaned when the attempt started
    assert not (run_dir / "results.json").exists() and len(list(run_dir.glob("results.*.json"))) == 1
    col = collect([run_dir])
    assert not col.runs and [p.status for p in col.problems] == ["failed"]
    assert col.problems[0].detail.startswith("diverged")
    assert main([str(run_dir), "--out", str(tmp_path / "report"), "--no-baselines"]) == NOTHING_USABLE

    job.run_job(job_cfg(tmp_path, *args))  # relaunched: complete again (skipped, copied from the store)
    col = collect([run_dir])
    assert len(col.runs) == 1 and not col.problems and not (run_dir / "error.json").exists()
    assert any("keep earlier failed attempts" in note and str(run_dir) in note for note in col.notes)


@pytest.mark.parametrize("newest", ["results.json", "error.json"])
def test_the_report_reads_the_newest_attempt_when_both_records_are_there(tmp_path, newest):
    record = make_record("magnitude", 0.5, 0)
    record.created = "2026-03-01T10:00:00+00:00" if newest == "results.json" else "2026-01-01T10:00:00+00:00"
    write_results_file(tmp_path / "job", record)
    (tmp_path / "job" / "error.json").write_text(json.dumps({
        "schema_version": 3, "status": "failed", "created": "2026-02-01T10:00:00+00:00", "method": "magnitude",
        "ratio": 0.5, "seed": 0, "error": "diverged: the training loss became nan"}))
    col = collect([tmp_path])
    if newest == "results.json":
        assert len(col.runs) == 1 and not col.problems
    else:
        assert not col.runs and [(p.status, p.detail) for p in col.problems] == [
            ("failed", "diverged: the training loss became nan")]


def _stale(path: Path, age: float = 60.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_stale_temp_files_go_but_not_those_of_a_running_job_or_written_since_the_start(tmp_path):
    store = RunStore(tmp_path / "runs")
    dead = _stale(tmp_path / "runs" / "aaa" / ".checkpoint.pt.x1.tmp")
    search = _stale(tmp_path / "runs" / "aaa" / "method" / ".search.pt.x2.tmp")
    held = _stale(tmp_path / "runs" / "bbb" / ".checkpoint.pt.x3.tmp")
    fresh = _stale(tmp_path / "runs" / "ccc" / ".results.json.x4.tmp", age=-60.0)
    dense_dead = _stale(tmp_path / "dense" / ".k1.partial.pt.x5.tmp")
    dense_held = _stale(tmp_path / "dense" / ".k2.pt.x6.tmp")
    started = time.time()
    with file_lock(tmp_path / "runs" / "bbb" / ".lock"), file_lock(tmp_path / "dense" / "k2.lock"):
        removed = store.remove_stale_temps(started) + remove_stale_dense_temps(tmp_path / "dense", started)
    assert sorted(removed) == sorted([dead, search, dense_dead])
    assert held.exists() and fresh.exists() and dense_held.exists()


def test_an_edited_down_schema_is_upgraded_with_a_note_refused_below_the_oldest_and_never_reused(tmp_path, caplog):
    record = make_record("magnitude", 0.5, 0, run_id="r0")
    for job_dir, version in (("two", 2), ("zero", 0)):
        write_results_file(tmp_path / "jobs" / job_dir, {**stored(record), "schema_version": version})
    col = collect([tmp_path / "jobs"])
    assert len(col.runs) == 1 and col.runs[0].job_dir.name == "two"
    assert any("written in an older schema (2) were read through the schema upgrades" in n for n in col.notes)
    (refused,) = col.problems
    assert refused.detail == "corrupt results.json: schema_version 0 is older than any this code reads (1 to 3)"
    slot = tmp_path / "runs" / "r0"
    write_results_file(slot, {**stored(record), "schema_version": 2})
    identity = {name: getattr(record, name) for name in ("run_id", "method", "dataset", "model", "ratio", "seed")}
    with caplog.at_level("WARNING"):
        assert RunStore(tmp_path / "runs").completed(identity) is None  # the store reuses current records only
    assert "(results.json: written in schema 2, this code writes 3); the run is done again" in caplog.text


def test_the_report_exits_non_zero_when_nothing_usable_was_found(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text('{"status": "complete", "accura')
    write_results_file(tmp_path / "b", {"schema_version": 3, "status": "complete"})
    assert main([str(tmp_path), "--out", str(tmp_path / "report"), "--no-baselines"]) == NOTHING_USABLE == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: no usable run under {tmp_path}")
