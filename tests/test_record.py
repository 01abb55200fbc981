"""The run record: atomic writes, strict JSON, and a run id that ignores paths and loggers."""

from __future__ import annotations

import json

from tests.conftest import make_cfg

from rgp_bench.core.fileio import write_json_atomic
from rgp_bench.record.io import write_error, write_results
from rgp_bench.run.identity import run_id


def test_atomic_write_leaves_no_temp_files_and_strict_json(tmp_path):
    write_json_atomic(tmp_path / "x.json", {"a": float("nan"), "b": (1, 2), "c": {"d": float("inf")}})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [1, 2], "c": {"d": None}}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
    assert (tmp_path / "x.json").stat().st_mode & 0o044  # readable by others, like any normal file


def test_results_and_error_files_are_marked(tmp_path):
    write_results(tmp_path, {"method": "rgp"})
    write_error(tmp_path, {"method": "rgp"}, "boom")
    assert json.loads((tmp_path / "results.json").read_text())["status"] == "complete"
    failed = json.loads((tmp_path / "error.json").read_text())
    assert failed["status"] == "failed" and failed["error"] == "boom"


def test_run_id_ignores_volatile_keys_but_not_results_keys():
    base = run_id(make_cfg())
    assert base == run_id(make_cfg("logger=none", "cache_dir=/elsewhere", "train.progress=false"))
    assert base != run_id(make_cfg("seed=1"))
    assert base != run_id(make_cfg("ratio=0.8"))
    assert base != run_id(make_cfg("method=random"))
    assert len(base) == 12


def test_run_id_hashes_the_resolved_device_not_the_preset_name():
    import torch

    if torch.cuda.is_available():
        assert run_id(make_cfg("hardware=auto")) == run_id(make_cfg("hardware=cuda"))
    else:
        assert run_id(make_cfg("hardware=auto")) == run_id(make_cfg("hardware=cpu"))


def test_results_neutral_keys_are_stated_once():
    """Hydra's job-dir exclusions and the README's list are the run identity's VOLATILE_KEYS."""
    import re
    from pathlib import Path

    import yaml

    from rgp_bench.config import conf_dir
    from rgp_bench.run.identity import VOLATILE_KEYS

    config = yaml.safe_load((conf_dir() / "config.yaml").read_text())
    assert config["hydra"]["job"]["config"]["override_dirname"]["exclude_keys"] == list(VOLATILE_KEYS)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    listed = re.search(r"minus the keys that cannot change\s+results \(([^)]*)\)", readme)
    assert listed, "README must list the results-neutral keys"
    assert re.findall(r"`([^`]+)`", listed.group(1)) == list(VOLATILE_KEYS)


def test_run_record_round_trips_and_rejects_incomplete_records(tmp_path):
    import pytest

    from rgp_bench.record.io import read_record
    from rgp_bench.record.schema import SCHEMA_VERSION, RecordError, RunRecord
    from rgp_bench.run.pipeline import run

    cfg = make_cfg("logger=none", "train.epochs=1", "model.width=32", "model.depth=2", f"cache_dir={tmp_path}",
                   "train.progress=false", "measure.latency.enabled=false")
    written = run(cfg, tmp_path, tmp_path / "checkpoint.pt")
    record, stored = read_record(tmp_path / "results.json")
    assert record == RunRecord.from_dict(written.to_dict())
    as_json = json.loads(json.dumps(written.to_dict()))
    assert stored == {"schema_version": SCHEMA_VERSION, "status": "complete", **as_json}
    for broken, message in ((lambda r: r.pop("accuracy"), "missing key 'accuracy'"),
                            (lambda r: r["accuracy"]["final"].update(top1="high"), "accuracy.final.top1 is not"),
                            (lambda r: r["cost"].update(layers={}), "cost.layers is not a list"),
                            (lambda r: r.update(schema_version=0), "schema_version 0")):
        bad = json.loads(json.dumps(stored))
        broken(bad)
        with pytest.raises(RecordError, match=message):
            RunRecord.from_dict(bad)
