"""The report's dense reference: every group is compared with the dense run of its own regime and total epochs (any
ratio), never with a dense model of another budget; where there is none, the report says what to add."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from scipy import stats as sps
from tests.record_factory import dense_scores
from tests.test_report import build_report, record, write_job

from rgp_bench.record.costs import Reduction
from rgp_bench.record.schema import BudgetFacts, Epochs, RunRecord, Sparsity
from rgp_bench.report.plots import canvas

# (method, regime, total epochs) -> per-seed best-val accuracy at ratio 0.5 (0.9: two points lower)
PRUNED = {("rgp", "scratch", 5): [90.0, 91.5], ("magnitude", "finetune", 10): [93.0, 93.2]}
DENSE = {("scratch", 5): [95.0, 97.0], ("finetune", 10): [96.0, 96.6]}


def _pruned(method: str, regime: str, epochs: int, ratio: float, seed: int, acc: float) -> RunRecord:
    rec = record(method, ratio, seed, acc, acc - 0.5, run_id=f"{method}-{ratio}-{seed}")
    rec.regime = regime
    rec.epochs = Epochs(pretrain=epochs - 5, train=5, total=epochs, resumed_from=0)
    rec.budget = BudgetFacts(basis="weights", requested=ratio, achieved=ratio)
    rec.config["train"]["lr"] = 0.1
    if regime == "finetune":  # the dense model before pruning: the pretraining's 5 epochs (seed 1: an older record)
        rec.accuracy.dense = dense_scores(94.0, epochs=5 if seed == 0 else None)
    return rec


def _dense(regime: str, epochs: int, seed: int, acc: float, *, train_epochs: int = 5, **config: object) -> RunRecord:
    """A dense record as method=dense writes it: ratio 0, budget basis none, nothing pruned."""
    rec = record("dense", 0.0, seed, acc, acc, run_id=f"dense-{regime}-{epochs}-{seed}-{train_epochs}")
    rec.regime = regime
    rec.epochs = Epochs(pretrain=epochs - train_epochs, train=train_epochs, total=epochs, resumed_from=0)
    rec.budget = BudgetFacts(basis="none", requested=0.0, achieved=0.0)
    rec.sparsity = Sparsity(requested=0.0, achieved=0.0, overall=0.0)
    rec.cost.reduction = Reduction(params=0.0, macs=0.0, prunable_params=0.0, prunable_macs=0.0)
    rec.config["train"].update(epochs=train_epochs, lr=0.1)
    rec.config.update(config)
    return rec


def _write(root: Path, dense: dict[tuple[str, int], list[float]], **dense_config: object) -> Path:
    out = root / "outputs"
    for (method, regime, epochs), accs in PRUNED.items():
        for ratio, drop in ((0.5, 0.0), (0.9, 2.0)):
            for seed, acc in enumerate(accs):
                rec = _pruned(method, regime, epochs, ratio, seed, acc - drop)
                write_job(out / f"{method}-{ratio}-{seed}", None, rec)
    for (regime, epochs), accs in dense.items():
        for seed, acc in enumerate(accs):
            write_job(out / f"dense-{regime}-{epochs}-{seed}", None, _dense(regime, epochs, seed, acc, **dense_config))
    return out


def _group(report, method: str, ratio: float) -> dict:
    (g,) = [g for g in report.groups if g["method"] == method and g["ratio"] == ratio]
    return g


def _results_rows(md: str) -> list[list[str]]:
    """Each row of the results table: its main table's cells, then its details table's cells after the row keys
    (dataset, model, ratio, budget, method, regime)."""
    main, details = md.split("## Results by group")[1].split("\n## ")[0].split("### Details")

    def rows(table: str) -> list[list[str]]:
        return [line.strip("| ").split(" | ") for line in table.splitlines() if line.startswith("| digits |")]

    return [m + d[6:] for m, d in zip(rows(main), rows(details), strict=True)]


@pytest.fixture(scope="module")
def matched(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("dense")
    out = _write(root, DENSE)
    # A dense run of another budget (20 epochs): it must never stand in for the 5-epoch reference.
    for seed in (0, 1):
        write_job(out / f"dense-long-{seed}", None, _dense("scratch", 20, seed, 99.0, train_epochs=20))
    return build_report([out], root / "report", references=("random", "dense"))


def test_every_group_gets_the_dense_run_of_its_regime_and_total_epochs(matched) -> None:
    for (method, regime, epochs), accs in PRUNED.items():
        reference = DENSE[(regime, epochs)]
        for ratio, drop in ((0.5, 0.0), (0.9, 2.0)):
            g = _group(matched, method, ratio)
            assert (g["epochs"], g["dense_ref_epochs"], g["dense_ref_n"]) == (epochs, epochs, 2)
            assert g["dense_ref_mean"] == pytest.approx(sum(reference) / 2) and g["dense_missing"] is None
            assert g["dense_diff"] == pytest.approx(sum(accs) / 2 - drop - sum(reference) / 2)
    dense = [g for g in matched.groups if g["method"] == "dense"]
    assert sorted((g["regime"], g["epochs"], g["ratio"], g["budget"]) for g in dense) == [
        ("finetune", 10, 0.0, "none"), ("scratch", 5, 0.0, "none"), ("scratch", 20, 0.0, "none")]
    assert not any(g["best"] for g in dense)


def test_the_results_table_puts_the_dense_row_in_every_report_group(matched) -> None:
    rows = _results_rows(matched.files["markdown"].read_text())
    # the two scratch dense groups differ in train.epochs, so their labels name it
    dense = {(r[2], r[5]): r for r in rows if r[4].startswith("dense") and r[8] == "ref."}
    assert set(dense) == {(ratio, regime) for ratio in ("0.5", "0.9") for regime in ("scratch", "finetune")}
    assert dense[("0.9", "finetune")][3] == "weights" and dense[("0.9", "finetune")][7] == "96.30 ± 0.42"
    assert dense[("0.5", "scratch")][4] == "dense [train.epochs=5]"
    assert dense[("0.5", "scratch")][-1] == "5"  # its epochs: those of the pruned groups beside it
    rgp = next(r for r in rows if r[4] == "rgp" and r[2] == "0.9")
    assert rgp[8] == "-7.25"  # 88.75 - 96.00
    standalone = [r for r in rows if r[4].startswith("dense") and r[-1] == "20"]  # used by no group: listed as it is
    assert len(standalone) == 1 and standalone[0][2] == "0" and standalone[0][3] == "none"
    # dense rows sit above the pruned groups of their (dataset, model, ratio, budget)
    order = [(r[2], r[4]) for r in rows]
    assert order.index(("0.5", "dense")) < order.index(("0.5", "rgp")) < order.index(("0.9", "dense"))
    assert [r[4] for r in rows[:3]] == ["dense [train.epochs=5]", "dense", "magnitude"]  # scratch first


def test_dense_is_paired_as_a_reference_by_seed_and_never_as_a_method(matched) -> None:
    assert not [c for c in matched.comparisons if c["method"].startswith("dense")]
    (c,) = [c for c in matched.comparisons
            if c["method"] == "magnitude" and c["reference"] == "dense" and c["ratio"] == 0.9]
    a, b = [91.0, 91.2], DENSE[("finetune", 10)]
    assert (c["reference_regime"], c["n_pairs"], c["seeds"]) == ("finetune", 2, [0, 1])
    assert c["mean_diff"] == pytest.approx(sum(a) / 2 - sum(b) / 2)
    assert c["p_value"] == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert {(c["method"], c["reference"]) for c in matched.comparisons if c["ratio"] == 0.5} == {
        ("magnitude", "dense"), ("rgp", "dense [train.epochs=5]")}


def test_older_records_without_the_dense_epochs_are_read(matched) -> None:
    with matched.files["csv"].open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["method"] == "magnitude" and r["ratio"] == "0.5"]
    assert sorted(r["dense_epochs"] for r in rows) == ["", "5"] and all(r["top1_dense"] == "94.0" for r in rows)


def test_plots_draw_each_dense_reference_as_a_line_not_a_series(tmp_path: Path, monkeypatch) -> None:
    legends: list[list[str]] = []
    real_finish = canvas.finish

    def spy(c, *args):
        legends.append([text for _, text in c.handles])
        return real_finish(c, *args)

    monkeypatch.setattr(canvas, "finish", spy)
    build_report([_write(tmp_path, DENSE)], tmp_path / "report")
    params = legends[0]
    assert "dense, 5 epochs (scratch): 96.00 ± 1.41, n=2" in params
    assert "dense, 10 epochs (finetune): 96.30 ± 0.42, n=2" in params
    assert not [t for t in params if t.startswith("dense (")]  # no dense series, so no dense in a Pareto front


def test_a_group_without_a_dense_run_at_its_epochs_says_what_to_add(tmp_path: Path) -> None:
    out = _write(tmp_path, {("finetune", 10): DENSE[("finetune", 10)]})
    for seed in (0, 1):  # scratch dense runs exist, but for 20 epochs: not the 5-epoch rgp runs' reference
        write_job(out / f"dense-long-{seed}", None, _dense("scratch", 20, seed, 99.0, train_epochs=20))
    report = build_report([out], tmp_path / "report", references=("dense",))
    g = _group(report, "rgp", 0.5)
    assert g["dense_ref_mean"] is None and g["dense_diff"] is None
    assert g["dense_missing"] == ("no dense reference at 5 epochs (scratch): add method=dense with the same epochs "
                                  "(the dense runs here have 20)")
    assert _group(report, "magnitude", 0.5)["dense_ref_epochs"] == 10
    md = report.files["markdown"].read_text()
    assert "digits / mlp: no dense reference at 5 epochs (scratch): add method=dense" in md
    assert "A dense run of other epochs is never used in its place." in md
    missing = [r for r in _results_rows(md) if r[4] == "dense" and r[7] == "none at 5 epochs"]
    assert len(missing) == 2  # one per ratio
    assert {c["method"] for c in report.comparisons} == {"magnitude"}


def test_dense_training_settings_must_agree_but_layers_and_sanity_need_not(tmp_path: Path) -> None:
    out = _write(tmp_path, DENSE, layers={"exclude_stem": False})  # which layers are prunable: not dense training
    report = build_report([out], tmp_path / "a")
    assert all(g["dense_ref_n"] == 2 for g in report.groups if g["method"] != "dense")
    other = tmp_path / "other"
    out = _write(other, DENSE, train={"epochs": 5, "regime": "auto", "lr": 0.5})  # a dense recipe of its own
    report = build_report([out], other / "report")
    g = _group(report, "rgp", 0.5)
    assert g["dense_ref_mean"] is None and "(the dense runs differ in train.lr)" in g["dense_missing"]


def test_without_any_dense_run_the_report_says_how_to_add_one(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    for seed in (0, 1):
        write_job(out / f"rgp-{seed}", None, record("rgp", 0.5, seed, 90.0 + seed, 90.0))
    report = build_report([out], tmp_path / "report")
    md = report.files["markdown"].read_text()
    assert "No dense reference: these runs include no method=dense. Add method=dense" in md
    assert "Δ dense" not in md and not [r for r in _results_rows(md) if r[4] == "dense"]
