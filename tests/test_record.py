"""The run record: atomic writes, strict JSON, and a run id that ignores paths and loggers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tests.conftest import make_cfg
from tests.record_factory import as_version, latency, make_record, stored, write_results_file

from rgp_bench.core.fileio import write_json_atomic
from rgp_bench.record.failed import RunName
from rgp_bench.record.io import write_error, write_results
from rgp_bench.record.read import read_error, read_name, read_record, read_results
from rgp_bench.record.schema import SCHEMA_VERSION, BudgetFacts, RecordError, RunRecord
from rgp_bench.record.upgrade import OLDEST_VERSION, UPGRADES, upgrade, v1_to_v2, v2_to_v3
from rgp_bench.run.identity import run_id


def test_atomic_write_leaves_no_temp_files_and_strict_json(tmp_path):
    write_json_atomic(tmp_path / "x.json", {"a": float("nan"), "b": (1, 2), "c": {"d": float("inf")}})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [1, 2], "c": {"d": None}}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
    assert (tmp_path / "x.json").stat().st_mode & 0o044  # readable by others, like any normal file


def test_results_and_error_files_are_marked_and_never_sit_side_by_side(tmp_path):
    write_results(tmp_path, {"method": "rgp", "created": "2026-01-02T03:04:05+00:00"})
    assert json.loads((tmp_path / "results.json").read_text())["status"] == "complete"
    write_error(tmp_path, {"method": "rgp"}, "boom")
    failed = json.loads((tmp_path / "error.json").read_text())
    assert failed["status"] == "failed" and failed["error"] == "boom"
    # the earlier attempt's record is kept, renamed with the time it states, not deleted
    assert not (tmp_path / "results.json").exists()
    assert json.loads((tmp_path / "results.20260102T030405.json").read_text())["status"] == "complete"


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
    from rgp_bench.run.pipeline import run

    cfg = make_cfg("logger=none", "train.epochs=1", "model.width=32", "model.depth=2", f"cache_dir={tmp_path}",
                   "train.progress=false", "measure.latency.enabled=false")
    written = run(cfg, tmp_path, tmp_path / "checkpoint.pt")
    record, stored = read_record(tmp_path / "results.json")
    assert record == RunRecord.from_dict(written.to_dict())
    as_json = json.loads(json.dumps(written.to_dict()))
    assert stored == {"schema_version": SCHEMA_VERSION, "status": "complete", **as_json}
    # The topology panel of the applied masks (its measures: tests/test_topology.py), its own timed phase; the rgp
    # node graph recovered from the masks is the graph the method built. A record from before it reads as None.
    topo = written.topology
    assert topo is not None and "topology" in written.timings and topo.network is not None
    assert topo.node_graph is not None and topo.node_graph.nodes == written.method_info["nodes"]
    assert topo.node_graph.aspl == pytest.approx(written.method_info["aspl"])
    assert record.topology == topo
    older = {k: v for k, v in stored.items() if k != "topology"}
    assert RunRecord.from_dict(older).topology is None
    for broken, message in ((lambda r: r.pop("accuracy"), "accuracy is missing"),
                            (lambda r: r["accuracy"]["final"].update(top1="high"), "accuracy.final.top1 is not"),
                            (lambda r: r["cost"].update(layers={}), "cost.layers is not a list"),
                            (lambda r: r.update(schema_version=0), "schema_version 0")):
        bad = json.loads(json.dumps(stored))
        broken(bad)
        with pytest.raises(RecordError, match=message):
            RunRecord.from_dict(bad)


# ------------------------------------------------------------------------------------------ the one reader
@pytest.fixture()
def current() -> dict:
    rec = make_record("magnitude", 0.9, 1, 91.0, 90.0, regime="finetune")
    rec.cost.latency = latency(1.5)
    rec.sparsity.achieved = 0.875
    rec.budget = BudgetFacts(basis="weights", requested=0.9, achieved=0.875)
    return stored(rec)


def test_every_older_schema_has_one_named_upgrade() -> None:
    assert sorted(UPGRADES) == list(range(OLDEST_VERSION, SCHEMA_VERSION))
    assert [f.__name__ for f in UPGRADES.values()] == [f"v{v}_to_v{v + 1}" for v in UPGRADES]


def test_upgrades_fill_what_an_older_schema_could_not_record(current: dict) -> None:
    v1, v2 = as_version(current, 1), as_version(current, 2)
    before = json.loads(json.dumps(v1))
    assert v1_to_v2(v1)["budget"] == {"basis": "weights", "requested": 0.9, "achieved": 0.875}  # sparsity.achieved
    assert v1 == before  # the stored layout is left as it is
    after = v2_to_v3(v2)
    assert (after["sanity"], after["collapse"], after["cost"]["latency"]) == ("none", None, None)
    assert {k: v for k, v in upgrade(v1, 1).items() if k != "schema_version"} == {
        k: v for k, v in after.items() if k != "schema_version"}


@pytest.mark.parametrize("version", [1, 2])
def test_the_reader_upgrades_older_records(tmp_path: Path, current: dict, version: int) -> None:
    write_results_file(tmp_path, as_version(current, version))
    found = read_results(tmp_path / "results.json")
    expected = RunRecord.from_dict(current)
    assert found.version == version and found.stored == as_version(current, version)
    assert found.record.sanity == "none" and found.record.collapse is None and found.record.cost.latency is None
    assert found.record.method_defaults == {}  # older records state no defaults: nothing is filled in
    assert found.record.budget == expected.budget
    assert found.record.accuracy == expected.accuracy and found.record.cost.reduction == expected.cost.reduction
    with pytest.raises(RecordError, match=rf"^results\.json: written in schema {version}, this code writes 3$"):
        read_record(tmp_path / "results.json")  # the run store redoes such a run instead of reusing it


def _rename(path: str, new: str):
    def edit(rec: dict) -> None:
        *parents, last = path.split(".")
        node = rec
        for part in parents:
            node = node[part]
        node[new] = node.pop(last)
    return edit


@pytest.mark.parametrize(("edit", "message"), [
    (_rename("accuracy.best_val", "bestval"), "results.json: accuracy.best_val is missing (schema 3)"),
    (_rename("accuracy.dense", "dense_scores"), "results.json: accuracy.dense_scores is not a field of accuracy "
                                                "(schema 3)"),
    (_rename("method_defaults", "defaults"), "results.json: defaults is not a field of the record (schema 3)"),
    (_rename("sparsity", "sparse"), "results.json: sparsity is missing (schema 1)"),
    (lambda r: r["accuracy"]["final"].update(top1="high"), "results.json: accuracy.final.top1 is not a number: "
                                                           "'high' (schema 3)"),
    (lambda r: r["cost"]["layers"].append({"name": "x"}), "results.json: cost.layers[0].type is missing (schema 3)"),
    (lambda r: r.pop("schema_version"), "results.json: schema_version is missing"),
    (lambda r: r.update(schema_version=4), "results.json: schema_version 4 is newer than this code reads (3)"),
    (lambda r: r.update(schema_version="3"), "results.json: schema_version is not an integer: '3'"),
    (lambda r: r.update(status="failed", error="RuntimeError: boom\n  at line 3"),
     "results.json: status is 'failed', not 'complete': RuntimeError: boom"),
])
def test_the_reader_names_the_file_and_the_field_in_one_line(tmp_path: Path, current: dict, edit, message) -> None:
    if "schema 1" in message:
        current = as_version(current, 1)
    edit(current)
    write_results_file(tmp_path, current)
    with pytest.raises(RecordError) as info:
        read_results(tmp_path / "results.json")
    assert str(info.value) == message


def test_unreadable_files_and_null_numbers(tmp_path: Path, current: dict) -> None:
    (tmp_path / "results.json").write_text('{"schema_version": 3, "stat')
    with pytest.raises(RecordError, match=r"^results\.json: unreadable \(Unterminated string"):
        read_results(tmp_path / "results.json")
    (tmp_path / "results.json").write_text("[1, 2]")
    with pytest.raises(RecordError, match=r"^results\.json: not a JSON object$"):
        read_results(tmp_path / "results.json")
    current["accuracy"]["final"]["loss"] = None  # how write_json_atomic stores a NaN loss
    write_results_file(tmp_path, current)
    assert math.isnan(read_results(tmp_path / "results.json").record.accuracy.final.loss)


def test_error_records_are_read_leniently(tmp_path: Path) -> None:
    write_error(tmp_path, {"run_id": "abc", "method": "rgp", "ratio": 0.5, "seed": "zero"}, "boom\nmore")
    failure = read_error(tmp_path / "error.json")
    assert failure.error == "boom\nmore" and failure.created
    assert failure.name == RunName(run_id="abc", method="rgp", ratio=0.5)  # a seed that is no integer is unknown
    assert read_name(tmp_path / "nothing.json") == RunName()
    (tmp_path / "error.json").write_text("not json")
    with pytest.raises(RecordError, match=r"^error\.json: unreadable \("):
        read_error(tmp_path / "error.json")
