"""The run record: atomic writes, strict JSON, and a run id that ignores paths and loggers."""

from __future__ import annotations

import json

from tests.conftest import make_cfg

from rgp_bench.identity import run_id
from rgp_bench.record import write_error, write_json_atomic, write_results


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
