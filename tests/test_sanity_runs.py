"""Sanity checks and layer collapse through the pipeline: every record states both."""

from __future__ import annotations

import json

import pytest
from tests.conftest import read_results, run_cli

TINY = ["train.epochs=1", "train.pretrain_epochs=1", "model.width=64", "model.depth=3", "ratio=0.75"]


def _densities(record: dict) -> dict[str, float]:
    return {row["name"]: row["density"] for row in record["cost"]["layers"] if row["prunable"]}


@pytest.mark.slow
def test_shuffle_keeps_layer_densities_and_invert_flips_the_ranking(tmp_path):
    # One sweep (one process, one cache): the four runs share the dense model they prune.
    proc = run_cli(["-m", "method=magnitude", *TINY, "sanity=none,shuffle,invert,reinit"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/results.json")]
    runs = {("plain" if r["sanity"] == "none" else r["sanity"]): r for r in records}
    assert sorted(runs) == ["invert", "plain", "reinit", "shuffle"]
    plain = runs["plain"]
    assert plain["sanity"] == "none" and runs["shuffle"]["sanity"] == "shuffle"
    assert _densities(runs["shuffle"]) == pytest.approx(_densities(plain))  # layer densities kept
    assert runs["invert"]["sparsity"]["achieved"] == pytest.approx(plain["sparsity"]["achieved"])
    assert len({r["run_id"] for r in runs.values()}) == 4  # different experiments
    assert runs["reinit"]["accuracy"]["dense"] == plain["accuracy"]["dense"]  # same pretrained model, new weights
    for record in runs.values():
        collapse = record["collapse"]
        assert collapse["collapsed"] is False and collapse["empty_layers"] == []
        assert 0 < collapse["narrowest_kept"] <= 0.25 + 1e-9


def test_an_extreme_ratio_records_a_collapse(tmp_path):
    # 99.99 % of the 2 x 64 x 64 hidden weights removed (one weight kept): a hidden layer is left empty
    proc = run_cli(["method=magnitude", "train.epochs=0", "train.pretrain_epochs=0", "ratio=0.9999",
                    "model.width=64", "model.depth=3"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    collapse = read_results(tmp_path / "run")["collapse"]
    assert collapse["collapsed"] is True and collapse["no_path"] is True
    assert collapse["empty_layers"] and collapse["narrowest_kept"] == 0.0
