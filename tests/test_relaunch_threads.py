"""Issue 22, finding 4: the thread count can change results on CPU, so it stays in the run id; a relaunch on
another core count never replaces the complete record of the same config silently, and a reused sweep directory
keeps each sweep's multirun.yaml."""

from __future__ import annotations

import json

import pytest
from tests.conftest import make_cfg, read_results, run_cli

from rgp_bench.core import hardware
from rgp_bench.run.identity import run_id
from rgp_bench.run.relaunch import ReplaceRefused, keep_earlier_sweep_plan, refuse_other_threads

TINY = ["train.epochs=1", "model.width=32", "model.depth=2"]


def _complete(out_dir, cfg, threads: int) -> dict:
    record = {"status": "complete", "run_id": run_id(cfg), "environment": {"device": {"threads": str(threads)}}}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(record))
    return record


def test_the_same_config_on_other_cores_is_refused_in_one_line(tmp_path, monkeypatch):
    old = make_cfg("hardware.threads=1")
    _complete(tmp_path, old, 1)
    monkeypatch.setattr(hardware, "available_threads", lambda: 4)  # relaunched on 4 cores, threads left null
    cfg = make_cfg()
    assert cfg.hardware.threads is None and run_id(cfg) != run_id(old)
    with pytest.raises(ReplaceRefused) as refused:
        refuse_other_threads(cfg, tmp_path, run_id(cfg))
    message = str(refused.value)
    assert "\n" not in message and "on 1 threads" in message and "uses 4 threads" in message
    assert "hardware.threads=null follows the available cores" in message and "set hardware.threads=1" in message
    refuse_other_threads(make_cfg("hardware.threads=1"), tmp_path, run_id(old))  # the same run: no objection


def test_other_records_are_not_this_checks_business(tmp_path):
    cfg = make_cfg("hardware.threads=2")
    _complete(tmp_path, make_cfg("hardware.threads=1", "seed=5"), 1)  # another config, not only other threads
    refuse_other_threads(cfg, tmp_path, run_id(cfg))
    (tmp_path / "results.json").write_text("{}")  # not a complete record
    refuse_other_threads(cfg, tmp_path, run_id(cfg))


def test_a_relaunch_with_other_threads_keeps_the_record_and_says_why(tmp_path):
    first = run_cli([*TINY, "hardware.threads=1"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    before = (tmp_path / "run" / "results.json").read_bytes()
    second = run_cli([*TINY, "hardware.threads=2"], tmp_path)
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert second.returncode == 2 and len(lines) == 1, second.stderr[-2000:]
    assert "on 1 threads" in lines[0] and "uses 2 threads" in lines[0] and "set hardware.threads=1" in lines[0]
    assert (tmp_path / "run" / "results.json").read_bytes() == before
    assert not (tmp_path / "run" / "error.json").exists()
    assert read_results(tmp_path / "run")["config"]["hardware"]["threads"] == 1


def test_a_reused_sweep_dir_keeps_each_sweeps_plan(tmp_path):
    plan = tmp_path / "multirun.yaml"
    assert keep_earlier_sweep_plan(tmp_path, ["seed=0,1"]) is None  # a new sweep dir
    plan.write_text("hydra:\n  overrides:\n    task: ['seed=0,1']\n")
    assert keep_earlier_sweep_plan(tmp_path, ["seed=0,1"]) is None and plan.is_file()  # resumed: one plan
    moved = keep_earlier_sweep_plan(tmp_path, ["seed=2"])
    assert moved is not None and moved.name.startswith("multirun.") and moved.name != "multirun.yaml"
    assert "seed=0,1" in moved.read_text() and not plan.exists()
    plan.write_text("hydra:\n  overrides:\n    task: [seed=3]\n")
    again = keep_earlier_sweep_plan(tmp_path, ["seed=4"])
    assert again is not None and again != moved and moved.is_file()  # same second: a distinct name


def test_the_report_expects_the_jobs_of_every_kept_plan(tmp_path):
    from rgp_bench.report.collect import _expand_plans

    (tmp_path / "multirun.yaml").write_text("hydra:\n  overrides:\n    task: ['seed=2,3']\n")
    (tmp_path / "multirun.20260101-000000.yaml").write_text("hydra:\n  overrides:\n    task: ['seed=0,1']\n")
    combos, notes = _expand_plans(tmp_path)
    assert sorted(c["seed"] for c in combos) == ["0", "1", "2", "3"] and notes == []


@pytest.mark.slow  # three one-job sweeps into one directory, each with its end-of-sweep report
def test_sweeps_into_one_dir_keep_each_plan_and_a_refused_job_fails_its_sweep_until_a_matching_relaunch(tmp_path):
    # One job directory for every thread count (subdir = the job's number), as a relaunch on other cores finds it.
    sweep = ["-m", *TINY, "seed=0", "hydra.sweep.subdir=${hydra.job.num}"]
    first = run_cli([*sweep, "hardware.threads=1"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    job = tmp_path / "sweep" / "0"
    before = (job / "results.json").read_bytes()
    second = run_cli([*sweep, "hardware.threads=2"], tmp_path)
    assert second.returncode == 1, second.stderr[-2000:]
    assert "1 job(s) of the sweep refused to replace the complete record" in second.stderr
    assert (job / "results.json").read_bytes() == before and "on 1 threads" in (job / "refused.txt").read_text()
    # The second sweep (other overrides) kept the first one's plan beside its own.
    texts = {p.name: p.read_text() for p in (tmp_path / "sweep").glob("multirun*.yaml")}
    assert len(texts) == 2 and "hardware.threads=2" in texts["multirun.yaml"]
    assert any("hardware.threads=1" in t for n, t in texts.items() if n != "multirun.yaml")
    # Its progress lines count the folder's records, the first sweep's too, so they give no "of N".
    assert "[sweep] 1 of 1 done" in first.stdout + first.stderr
    out = second.stdout + second.stderr
    assert "[sweep] 1 done, 0 failed" in out and " of 1 done" not in out
    assert "the progress lines count every run in" in out
    third = run_cli([*sweep, "hardware.threads=1"], tmp_path)
    assert third.returncode == 0 and "refused" not in third.stderr, third.stderr[-2000:]
    assert not (job / "refused.txt").exists()
    assert len(list((tmp_path / "sweep").glob("multirun*.yaml"))) == 3
