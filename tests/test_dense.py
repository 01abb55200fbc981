"""method=dense: the unpruned reference, trained for the same epochs as the pruned runs beside it, one run for every
ratio; its record, its summary, and a sweep whose report gives every group its dense row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tests.conftest import make_cfg, run_cli

from rgp_bench.core.errors import UserError
from rgp_bench.export.materialised import materialise_for_export
from rgp_bench.export.state import load_model
from rgp_bench.record.io import read_record
from rgp_bench.record.schema import RunRecord
from rgp_bench.record.summary import format_summary
from rgp_bench.run.identity import run_id
from rgp_bench.run.pipeline import run
from rgp_bench.run.plan import plan_run
from rgp_bench.run.tracking import cell_name
from rgp_bench.run.validate import validate_config

TINY = ["model.width=32", "model.depth=2", "train.epochs=2", "train.limit_batches=3", "logger=none",
        "measure.latency.enabled=false", "train.progress=false"]


def _run(tmp: Path, name: str, *overrides: str) -> RunRecord:
    cfg = make_cfg(*TINY, f"cache_dir={tmp / 'cache'}", *overrides)
    out = tmp / name
    out.mkdir()
    return run(cfg, out, tmp / f"{name}.ckpt")


def _curves(record: RunRecord) -> list[tuple]:
    """The training history without its wall times."""
    return [(h.phase, h.epoch, h.lr, h.train_loss, h.val_loss, h.val_top1) for h in record.history]


def test_a_dense_run_is_named_without_its_ratio() -> None:
    assert run_id(make_cfg("method=dense", "ratio=0.5")) == run_id(make_cfg("method=dense", "ratio=0.9"))
    finetune = run_id(make_cfg("method=dense_finetune", "ratio=0.5"))
    assert finetune == run_id(make_cfg("method=dense", "train.regime=finetune", "ratio=0.97"))
    assert finetune != run_id(make_cfg("method=dense"))
    assert run_id(make_cfg("method=dense", "seed=1")) != run_id(make_cfg("method=dense"))
    assert run_id(make_cfg("method=dense", "train.epochs=5")) != run_id(make_cfg("method=dense"))
    # pruned runs keep their ratio (and their ids: the dense method changed no pruned run's identity)
    assert run_id(make_cfg("method=magnitude", "ratio=0.5")) != run_id(make_cfg("method=magnitude", "ratio=0.9"))


def test_auto_regime_follows_the_preset_and_epochs_match_the_pruned_neighbours() -> None:
    plans = {m: plan_run(make_cfg(f"method={m}")) for m in ("dense", "dense_finetune", "rgp", "magnitude")}
    assert (str(plans["dense"].regime), plans["dense"].total) == ("scratch", plans["rgp"].total) == ("scratch", 30)
    assert (str(plans["dense_finetune"].regime), plans["dense_finetune"].total) == ("finetune", 60)
    assert plans["dense_finetune"] == plans["magnitude"]
    assert str(plan_run(make_cfg("method=dense_finetune", "train.regime=scratch")).regime) == "scratch"
    assert cell_name(make_cfg("method=dense", "ratio=0.5")) == "digits-mlp-dense"
    assert cell_name(make_cfg("method=dense_finetune")) == "digits-mlp-dense"


@pytest.mark.parametrize("sanity", ["shuffle", "reinit"])
def test_a_sanity_check_of_the_dense_reference_is_refused(sanity: str) -> None:
    with pytest.raises(UserError, match=rf"sanity={sanity} checks a pruning method's masks, but dense prunes "
                                        r"nothing; valid: sanity=none"):
        validate_config(make_cfg("method=dense_finetune", f"sanity={sanity}"))


def test_scratch_dense_trains_unmasked_and_ignores_the_ratio(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", "method=dense", "ratio=0.5")
    b = _run(tmp_path, "b", "method=dense", "ratio=0.9")
    assert a.run_id == b.run_id and a.accuracy == b.accuracy and _curves(a) == _curves(b)
    assert (a.ratio, a.regime, a.budget.basis, a.budget.requested, a.budget.achieved) == (0.0, "scratch", "none", 0, 0)
    assert (a.epochs.pretrain, a.epochs.train, a.epochs.total) == (0, 2, 2) and a.accuracy.dense is None
    assert a.sparsity.achieved == 0.0 and a.cost.reduction.params == 0.0 and not a.collapse.collapsed
    assert all(layer.density == 1.0 for layer in a.cost.layers)
    state = torch.load(tmp_path / "a" / "model.pt", weights_only=True)["state_dict"]
    assert not [k for k in state if k.endswith(("_mask", "_orig"))]  # no mask at all, not an all-ones one
    model, saved = load_model(tmp_path / "a")
    assert materialise_for_export(model, saved, a.budget.basis, a.method) is model  # nothing to remove
    summary = format_summary(a, tmp_path / "a" / "results.json")
    assert "scratch, 2 epochs in total" in summary and "unpruned" in summary and "ratio requested" not in summary


def test_finetune_dense_continues_the_shared_dense_model_with_the_fine_tuning_recipe(tmp_path: Path) -> None:
    recipe = ("train.pretrain_epochs=1", "train.finetune_lr=0.02")
    pruned = _run(tmp_path, "magnitude", "method=magnitude", "ratio=0.5", *recipe)
    dense = _run(tmp_path, "dense", "method=dense_finetune", "ratio=0.9", *recipe)
    assert dense.regime == pruned.regime == "finetune"
    assert (dense.epochs.pretrain, dense.epochs.train, dense.epochs.total) == (1, 2, 3)
    assert dense.epochs == pruned.epochs
    # the dense phase is the finetune runs' own: the same cache entry (hit), so the same weights and history
    assert dense.dense_cache is not None and pruned.dense_cache is not None
    assert dense.dense_cache.key == pruned.dense_cache.key and dense.dense_cache.hit and not pruned.dense_cache.hit
    assert [c for c in _curves(dense) if c[0] == "pretrain"] == [c for c in _curves(pruned) if c[0] == "pretrain"]
    assert dense.accuracy.dense == pruned.accuracy.dense and dense.accuracy.dense.epochs == 1
    assert next(h.lr for h in dense.history if h.phase == "train") == 0.02  # continued with finetune_lr
    assert dense.sparsity.achieved == 0.0 and pruned.sparsity.achieved == pytest.approx(0.5, abs=1e-3)
    text = format_summary(pruned, tmp_path / "magnitude" / "results.json")
    assert "finetune, 3 epochs in total (1 dense + 2 fine-tuning)" in text
    assert "dense top-1 before pruning" in text and "after 1 epoch (this run trained 3)" in text
    assert "1 dense + 2 continued, unpruned" in format_summary(dense, tmp_path / "dense" / "results.json")


def test_records_without_the_dense_epochs_still_read(tmp_path: Path) -> None:
    _run(tmp_path, "m", "method=magnitude", "train.pretrain_epochs=1", "train.epochs=1")
    _, stored = read_record(tmp_path / "m" / "results.json")
    del stored["accuracy"]["dense"]["epochs"]  # as records before DenseScores.epochs
    old = RunRecord.from_dict(stored)
    assert old.accuracy.dense is not None and old.accuracy.dense.epochs is None
    assert "dense top-1 before pruning" in format_summary(old, tmp_path / "m" / "results.json")


@pytest.mark.slow  # eight CLI jobs (about 30 s on 2 cores): the mixed-regime sweep end to end
def test_a_sweep_with_dense_gives_every_report_group_its_dense_row_at_equal_epochs(tmp_path: Path) -> None:
    """The acceptance sweep: mixed regimes, two ratios; the dense runs train once each and serve both ratios."""
    args = ["-m", "method=rgp,magnitude,dense,dense_finetune", "ratio=0.5,0.9", "train.epochs=1",
            "train.limit_batches=2", "model.width=32", "model.depth=2", "train.progress=false"]
    proc = run_cli(args, tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("skip: run ")]
    assert len(skipped) == 2 and all("(dense mlp/digits ratio=0.0 " in line for line in skipped)
    records = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/results.json")]
    dense = [r for r in records if r["method"] == "dense"]
    assert len(records) == 8 and len(dense) == 4 and len({r["run_id"] for r in dense}) == 2
    report = json.loads((tmp_path / "sweep" / "report" / "report.json").read_text())
    pruned = [g for g in report["groups"] if g["method"] != "dense"]
    assert len(pruned) == 4 and all(g["dense_missing"] is None for g in pruned)
    epochs = {g["method"]: g["epochs"] for g in pruned}
    assert epochs == {"rgp": 1, "magnitude": 2}
    assert all(g["dense_ref_epochs"] == g["epochs"] for g in pruned)
    dense_groups = {g["regime"]: g for g in report["groups"] if g["method"] == "dense"}
    assert {r: g["epochs"] for r, g in dense_groups.items()} == {"scratch": 1, "finetune": 2}
    for g in pruned:
        assert g["dense_diff"] == pytest.approx(g["acc_mean"] - dense_groups[g["regime"]]["acc_mean"])
    assert not [c for c in report["comparisons"] if c["method"] == "dense"]
    assert {(c["method"], c["ratio"]) for c in report["comparisons"] if c["reference"] == "dense"} == {
        (m, r) for m in ("rgp", "magnitude") for r in (0.5, 0.9)}
    md = (tmp_path / "sweep" / "report" / "report.md").read_text()
    results = md.split("## Results by group")[1].split("\n## ")[0].split("### Details")[0]  # the main table
    cells = [line.split(" | ") for line in results.splitlines() if line.startswith("| digits | mlp |")]
    dense_rows = {(c[2], c[5]): c for c in cells if c[4] == "dense"}
    assert set(dense_rows) == {(r, regime) for r in ("0.5", "0.9") for regime in ("scratch", "finetune")}
    assert all("ref." in c for c in dense_rows.values()) and len(cells) == 8
