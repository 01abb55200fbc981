"""rgp_bench.report on fabricated run records: CSV, seed statistics, paired tests, problems, plots, CLI."""

from __future__ import annotations

import csv
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scipy import stats as sps
from tests.record_factory import as_version, make_record, stored, write_results_file

from rgp_bench.record.schema import RunRecord
from rgp_bench.report import Report, main
from rgp_bench.report import build_report as _build_report

REFERENCES = ("magnitude", "random")


def build_report(paths, out, **kwargs) -> Report:
    """The report as a sweep with the default sweep config builds it (references magnitude and random)."""
    kwargs.setdefault("references", REFERENCES)
    kwargs.setdefault("with_published", "baselines_dir" in kwargs)
    return _build_report(paths, out, **kwargs)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REGIME = {"rgp": "scratch", "magnitude": "finetune", "random": "scratch"}
# (method, ratio, seed) -> (top-1 at best-val epoch, top-1 at final epoch)
ACC = {
    ("rgp", 0.5, 0): (95.0, 94.0), ("rgp", 0.5, 1): (96.0, 95.5),
    ("rgp", 0.9, 0): (90.0, 89.0), ("rgp", 0.9, 1): (91.0, 90.0),
    ("magnitude", 0.5, 0): (94.0, 93.0), ("magnitude", 0.5, 1): (94.5, 94.0),
    ("magnitude", 0.9, 0): (88.0, 87.5), ("magnitude", 0.9, 1): (90.5, 90.0),
    ("random", 0.5, 0): (92.0, 91.0), ("random", 0.5, 1): (92.5, 92.5),
    ("random", 0.9, 0): (85.0, 84.0), ("random", 0.9, 1): (86.0, 86.5),
}  # fmt: skip


def record(
    method: str,
    ratio: float,
    seed: int,
    best: float,
    final: float,
    *,
    dataset: str = "digits",
    model: str = "mlp",
    method_cfg: dict | None = None,
    info: dict | None = None,
    run_id: str | None = None,
) -> RunRecord:
    """A run's record (tests/record_factory.py) in its method's regime (REGIME)."""
    return make_record(method, ratio, seed, best, final, dataset=dataset, model=model,
                       regime=REGIME.get(method, "scratch"), method_cfg=method_cfg, info=info, run_id=run_id)


def write_job(
    job: Path,
    overrides: list[str] | None,
    rec: RunRecord | None = None,
    error: dict | None = None,
    config: dict | None = None,
) -> Path:
    (job / ".hydra").mkdir(parents=True)
    cfg = config if config is not None else rec.config if rec is not None else {}
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    if overrides is not None:
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if rec is not None:
        write_results_file(job, rec)
    if error is not None:
        (job / "error.json").write_text(json.dumps(error))
    return job


def make_sweep(root: Path) -> Path:
    """3 methods x 2 ratios x 2 seeds complete; seed 2 of the sweep: one failed, one incomplete, 4 missing."""
    sweep = root / "multirun" / "2026-11-21" / "08-00-00"
    sweep.mkdir(parents=True)
    task = ["dataset=digits", "model=mlp", "method=rgp,magnitude,random", "ratio=0.5,0.9", "seed=range(0,3)"]
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task}}, "seed": 0}))
    n = 0
    for (method, ratio, seed), (best, final) in ACC.items():
        ov = ["dataset=digits", "model=mlp", f"method={method}", f"ratio={ratio}", f"seed={seed}"]
        write_job(sweep / str(n), ov, record(method, ratio, seed, best, final))
        n += 1
    err = {"status": "failed", "method": "rgp", "ratio": 0.5, "seed": 2,
           "error": "RuntimeError: graph is disconnected\n  more detail"}  # fmt: skip
    write_job(
        sweep / str(n),
        ["dataset=digits", "model=mlp", "method=rgp", "ratio=0.5", "seed=2"],
        error=err,
        config=record("rgp", 0.5, 2, 0, 0).config,
    )
    # Incomplete and without overrides.yaml: matched to the sweep through its config (method.name etc.).
    write_job(sweep / str(n + 1), None, config=record("magnitude", 0.5, 2, 0, 0).config)
    return sweep


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    root = tmp_path_factory.mktemp("sweep")
    sweep = make_sweep(root)
    return sweep, build_report([sweep], root / "report")


def _group(report: Report, method: str, ratio: float) -> dict:
    (g,) = [g for g in report.groups if g["method"] == method and g["ratio"] == ratio]
    return g


def test_csv_has_one_row_per_run_with_values(sweep_report: tuple[Path, Report]) -> None:
    sweep, report = sweep_report
    with report.files["csv"].open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 == len(report.rows)
    (row,) = [r for r in rows if r["method"] == "rgp" and r["ratio"] == "0.9" and r["seed"] == "1"]
    assert float(row["top1_best_val"]) == 91.0 and float(row["top1_final"]) == 90.0
    assert row["regime"] == "scratch" and row["dataset"] == "digits" and row["model"] == "mlp"
    assert float(row["params_reduction"]) == pytest.approx(0.9 * 0.98)
    assert float(row["sparsity_achieved"]) == 0.9 and row["best_val_epoch"] == "4"
    assert float(row["method_info.aspl"]) == 2.5 and row["method_info.degree"] == "2"
    assert Path(row["output_dir"]).parent == sweep.resolve()
    mag = next(r for r in rows if r["method"] == "magnitude")
    assert mag["method_info.aspl"] == "" and mag["regime"] == "finetune"


def test_groups_mean_std_n(sweep_report: tuple[Path, Report]) -> None:
    _, report = sweep_report
    assert len(report.groups) == 6
    g = _group(report, "rgp", 0.9)
    assert g["n"] == 2 and g["seeds"] == [0, 1] and g["regime"] == "scratch"
    assert g["acc_mean"] == pytest.approx(90.5)
    assert g["acc_std"] == pytest.approx(statistics.stdev([90.0, 91.0]))
    assert g["top1_final_mean"] == pytest.approx(89.5)
    assert g["params_reduction_mean"] == pytest.approx(0.882)
    assert _group(report, "magnitude", 0.9)["acc_std"] == pytest.approx(statistics.stdev([88.0, 90.5]))


def test_paired_difference_matches_scipy(sweep_report: tuple[Path, Report]) -> None:
    _, report = sweep_report
    (c,) = [
        c for c in report.comparisons if c["method"] == "rgp" and c["reference"] == "magnitude" and c["ratio"] == 0.9
    ]
    a, b = [90.0, 91.0], [88.0, 90.5]
    assert c["n_pairs"] == 2 and c["seeds"] == [0, 1]
    assert c["regime"] == "scratch" and c["reference_regime"] == "finetune"
    assert c["mean_diff"] == pytest.approx(1.25)
    assert c["std_diff"] == pytest.approx(statistics.stdev([2.0, 0.5]))
    assert c["p_value"] == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert c["t"] == pytest.approx(sps.ttest_rel(a, b).statistic)
    # per ratio: rgp vs both references and magnitude vs random (random vs magnitude would mirror it)
    assert len(report.comparisons) == 2 * 3
    (m,) = [
        c for c in report.comparisons if c["method"] == "magnitude" and c["reference"] == "random" and c["ratio"] == 0.5
    ]
    assert m["mean_diff"] == pytest.approx(2.0) and m["std_diff"] == 0 and m["p_value"] is None


def test_final_metric(tmp_path: Path, sweep_report: tuple[Path, Report]) -> None:
    sweep, _ = sweep_report
    report = build_report([sweep], tmp_path / "r", metric="final")
    assert _group(report, "rgp", 0.9)["acc_mean"] == pytest.approx(89.5)
    (c,) = [
        c for c in report.comparisons if c["method"] == "rgp" and c["reference"] == "magnitude" and c["ratio"] == 0.9
    ]
    assert c["mean_diff"] == pytest.approx(0.75)
    assert c["p_value"] == pytest.approx(sps.ttest_rel([89.0, 90.0], [87.5, 90.0]).pvalue)


def test_failed_incomplete_missing_listed(sweep_report: tuple[Path, Report]) -> None:
    _, report = sweep_report
    by = {s: [p for p in report.problems if p["status"] == s] for s in ("failed", "incomplete", "missing")}
    assert len(by["failed"]) == 1 and by["failed"][0]["detail"] == "RuntimeError: graph is disconnected"
    assert Path(by["failed"][0]["path"]).name == "12"
    assert len(by["incomplete"]) == 1 and Path(by["incomplete"][0]["path"]).name == "13"
    missing = sorted(p["detail"] for p in by["missing"])
    assert missing == sorted(
        f"no job dir for method={m} ratio={r} seed=2"
        for m, r in [("rgp", 0.9), ("magnitude", 0.9), ("random", 0.5), ("random", 0.9)]
    )
    assert report.counts() == {"runs": 12, "groups": 6, "failed": 1, "incomplete": 1, "missing": 4, "duplicate": 0}
    md = report.files["markdown"].read_text()
    assert "RuntimeError: graph is disconnected" in md and md.count("| missing |") == 4


def test_plots_markdown_html(sweep_report: tuple[Path, Report]) -> None:
    _, report = sweep_report
    for key in ("digits_mlp_params", "digits_mlp_macs"):
        png = report.files[key]
        assert png.name == f"{key}.png" and png.parent.name == "plots"
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
    md = report.files["markdown"].read_text()
    assert "| dataset | model | ratio | budget | method | regime | n | top-1 best_val |" in md
    assert "| dataset | model | ratio | budget | method | regime | seeds | top-5 best_val |" in md  # details
    # rgp beats random at 0.9 by 5 points on both seeds: a constant difference, so no test, and no bold
    assert "| digits | mlp | 0.9 | weights | rgp | scratch | 2 | 90.50 ± 0.71 ≈ |" in md
    assert "![digits / mlp: accuracy vs parameter reduction](plots/digits_mlp_params.png)" in md
    html = report.files["html"].read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("data:image/png;base64,") == 2
    # at 0.5 rgp beats random by 3 and 3.5 points: p = 0.049, the only test that can be made, so bold
    assert '<td class="num best">95.50 ± 0.71</td>' in html and '<td class="num">89.25 ± 1.77</td>' in html
    summary = json.loads(report.files["json"].read_text())
    assert summary["counts"]["missing"] == 4 and len(summary["groups"]) == 6


def test_published_points_and_variants(tmp_path: Path) -> None:
    """Published numbers matching dataset/model are shown; differing configs are never averaged together."""
    src = tmp_path / "outputs"
    for i, (start, best) in enumerate([("ring", 80.0), ("ring", 82.0), ("random", 90.0), ("random", 92.0)]):
        rec = record("rgp", 0.9, i % 2, best, best, method_cfg={"start": start})
        write_job(src / f"2026-11-21/08-00-0{i}", None, rec)
    base = tmp_path / "baselines"
    (base / "runs").mkdir(parents=True)
    (base / "runs" / "junk.yaml").write_text("not: [a baselines file")  # ignored by the loader
    shutil.copy(Path(__file__).parents[1] / "baselines" / "gnnrl_readme.yaml", base / "g.yaml")
    doc = yaml.safe_load((base / "g.yaml").read_text())
    doc["source"]["id"] = "fake"
    doc["entries"] = [dict(doc["entries"][0], dataset="Digits", model="MLP", label="made-up point")]
    (base / "g.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    report = build_report([src], tmp_path / "r", baselines_dir=base)
    assert sorted(g["label"] for g in report.groups) == ["rgp [start=random]", "rgp [start=ring]"]
    assert _group_by_label(report, "rgp [start=ring]")["acc_mean"] == pytest.approx(81.0)
    md = report.files["markdown"].read_text()
    assert "made-up point" in md and "## Published reference numbers" in md
    assert report.files["digits_mlp_macs"].read_bytes()[:8] == PNG_MAGIC  # the published entry has MACs
    # it has no parameter reduction, so that plot would hold one point per variant and nothing else
    assert "digits_mlp_params" not in report.files and "single point" in report.skipped_plots["digits_mlp_params"]


def _group_by_label(report: Report, label: str) -> dict:
    (g,) = [g for g in report.groups if g["label"] == label]
    return g


def test_aspl_study_spearman(tmp_path: Path) -> None:
    aspl_acc = {3.0: (92.0, 91.6), 4.0: (91.5, 91.7), 5.0: (90.8, 91.0), 6.0: (90.1, 90.5)}
    xs, ys = [], []
    for i, (aspl, accs) in enumerate(aspl_acc.items()):
        for seed, acc in enumerate(accs):
            info = {"nodes": 64, "degree": 4, "aspl": aspl, "strategy": "greedy"}
            rec = record("rgp", 0.9375, seed, acc, acc, dataset="cifar10", model="resnet18", info=info)
            write_job(tmp_path / "outputs" / f"g{i}s{seed}", None, rec)
            xs.append(aspl)
            ys.append(acc)
    report = build_report([tmp_path / "outputs"], tmp_path / "r")
    (study,) = report.aspl
    expected = sps.spearmanr(xs, ys)
    assert study["n_runs"] == 8 and study["n_graphs"] == 4 and study["graph"] == "64_4"
    assert study["rho"] == pytest.approx(expected.statistic) and study["rho"] < 0
    assert study["p_value"] == pytest.approx(expected.pvalue)
    assert [p["acc_mean"] for p in study["points"]] == pytest.approx([91.8, 91.6, 90.9, 90.3])
    assert report.files["cifar10_resnet18_aspl"].read_bytes()[:8] == PNG_MAGIC
    assert "Spearman" in report.files["markdown"].read_text()


def test_corrupt_and_duplicate_records(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    write_job(out / "a", None, record("magnitude", 0.5, 0, 90.0, 90.0))
    rerun = record("magnitude", 0.5, 0, 90.0, 90.0)
    rerun.created = "2026-11-22T08:00:00+00:00"  # same run_id, a different record: counted once, listed
    write_job(out / "a-rerun", None, rerun)
    (out / "b" / ".hydra").mkdir(parents=True)
    (out / "b" / "results.json").write_text('{"method": "rgp", "accura')
    no_accuracy = stored(record("rgp", 0.5, 1, 90.0, 90.0, dataset="d", model="m"))
    del no_accuracy["accuracy"]
    write_results_file(out / "c", no_accuracy)
    report = build_report([out], tmp_path / "r")
    assert len(report.rows) == 1
    failed = {Path(p["path"]).name: p for p in report.problems if p["status"] == "failed"}
    assert failed["b"]["detail"].startswith("corrupt results.json: unreadable (")
    assert failed["c"]["detail"] == "corrupt results.json: accuracy is missing (schema 3)"
    assert failed["c"]["run"] == "method=rgp dataset=d model=m ratio=0.5 seed=1"  # named by what the file says
    (dup,) = [p for p in report.problems if p["status"] == "duplicate"]
    assert Path(dup["path"]).name == "a" and "same run_id" in dup["detail"] and "(created differ)" in dup["detail"]
    assert report.rows[0]["output_dir"].endswith("a-rerun")  # the newest is kept


def test_skipped_rerun_copies_are_not_duplicates(tmp_path: Path) -> None:
    """A relaunched sweep skips complete runs and copies their stored record into its new job dirs."""
    first, second = tmp_path / "multirun" / "1", tmp_path / "multirun" / "2"
    for seed in (0, 1):
        rec = record("rgp", 0.5, seed, 90.0 + seed, 90.0)
        write_job(first / str(seed), None, rec)
        write_job(second / str(seed), None, rec)
    report = build_report([tmp_path / "multirun"], tmp_path / "r")
    assert report.counts()["duplicate"] == 0 and len(report.rows) == 2 and report.groups[0]["n"] == 2
    assert any(n.startswith("2 identical record copies dropped") for n in report.notes)
    assert "2 identical record copies dropped" in report.files["markdown"].read_text()


def test_cli_ok_prints_one_line(
    sweep_report: tuple[Path, Report], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep, full = sweep_report
    # --no-figures: the same tables without a plot (the fixture drew them), and a note saying how to draw them.
    assert main([str(sweep), "--out", str(tmp_path / "r"), "--no-baselines", "--no-figures"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "12 runs" in out[0] and "1 failed, 1 incomplete, 4 missing" in out[0]
    assert (tmp_path / "r" / "report.html").is_file() and not list((tmp_path / "r").rglob("*.png"))
    assert list(full.files["markdown"].parent.rglob("*.png"))
    tables_only = (tmp_path / "r" / "results.csv").read_text()
    assert tables_only == full.files["csv"].read_text()
    assert f"figures not drawn (asked for tables only); to draw them: python -m rgp_bench.report {sweep}" in (
        tmp_path / "r" / "report.md").read_text()
    assert main([str(sweep), "--out", str(tmp_path / "r"), "--no-baselines", "--strict", "--no-figures"]) == 1


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_cli_bad_input_one_line_nonzero(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "does-not-exist"
    if kind == "empty":
        path.mkdir()
        (path / "notes.txt").write_text("no runs here")
    assert main([str(path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(path) in err[0]


def test_module_entry_point_bad_path(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rgp_bench.report", str(tmp_path / "nope")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: path not found: {tmp_path / 'nope'}"


def test_seed_interpolated_keys_are_not_variants(tmp_path: Path) -> None:
    for seed in (0, 1, 2):
        rec = record("random", 0.5, seed, 80.0 + seed, 80.0)
        rec.config["dataset"]["split_seed"] = seed  # as if `split_seed: ${seed}`
        write_job(tmp_path / "outputs" / str(seed), None, rec)
    report = build_report([tmp_path / "outputs"], tmp_path / "r")
    (g,) = report.groups
    assert g["variant"] == "" and g["n"] == 3 and g["acc_mean"] == pytest.approx(81.0)


def test_expand_sweep_config_params_and_non_grid_sweepers(tmp_path: Path) -> None:
    from rgp_bench.report.collect import expand_sweep

    grid = tmp_path / "grid.yaml"
    grid.write_text(
        yaml.safe_dump(
            {"hydra": {"overrides": {"task": ["method=rgp,random", "+x=glob(*)", "dataset=digits"]},
                       "sweeper": {"params": {"seed": "range(2)"}}}}
        )
    )  # fmt: skip
    combos, notes = expand_sweep(grid)
    assert len(combos) == 4 and {c["seed"] for c in combos} == {"0", "1"}
    assert all(c["x"] is None for c in combos) and "dataset" not in combos[0]
    assert len(notes) == 1 and "glob" in notes[0]
    optuna = tmp_path / "optuna.yaml"
    optuna.write_text(
        yaml.safe_dump(
            {"hydra": {"overrides": {"task": ["method=rgp,random"]},
                       "sweeper": {"_target_": "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"}}}
        )
    )  # fmt: skip
    combos, notes = expand_sweep(optuna)
    assert combos == [] and "does not run a grid" in notes[0]


def test_config_sweep_params_are_overridden_by_the_command_line(tmp_path):
    from rgp_bench.report.collect import expand_sweep

    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n"
        "  sweeper:\n"
        "    _target_: hydra._internal.core_plugins.basic_sweeper.BasicSweeper\n"
        "    params:\n"
        "      seed: 0,1,2\n"
        "      method.graph_iters: 0,2\n"
        "      ratio: 0.5,0.9\n"
        "  overrides:\n"
        "    task: [experiment=aspl_study, seed=0, 'ratio=0.1,0.2,0.3']\n"
    )
    combos, _ = expand_sweep(tmp_path / "multirun.yaml")
    # seed=0 removes the seed axis; the command-line ratio sweep replaces the preset's.
    assert len(combos) == 6
    assert {c["ratio"] for c in combos} == {"0.1", "0.2", "0.3"}
    assert all("seed" not in c for c in combos)


def test_groups_with_different_shared_settings_are_never_paired(tmp_path: Path) -> None:
    # rgp was run at 5 and at 50 epochs, magnitude only at 50: only the 50-epoch rgp runs are paired.
    for seed in (0, 1):
        for epochs, acc in ((5, 80.0 + seed), (50, 95.0 + seed)):
            rec = record("rgp", 0.9, seed, acc, acc, run_id=f"rgp-{epochs}-{seed}")
            rec.config["train"]["epochs"] = epochs
            write_job(tmp_path / f"rgp-{epochs}-{seed}", None, rec)
        mag = record("magnitude", 0.9, seed, 94.0 + seed, 94.0 + seed, run_id=f"mag-{seed}")
        mag.config["train"]["epochs"] = 50
        write_job(tmp_path / f"mag-{seed}", None, mag)
    report = build_report([tmp_path], tmp_path / "report")
    pairs = [c for c in report.comparisons if c["reference"] == "magnitude"]
    assert len(pairs) == 1
    assert "epochs=50" in pairs[0]["method"] and pairs[0]["mean_diff"] == pytest.approx(1.0)


def test_repeated_runs_of_one_seed_count_once(tmp_path: Path) -> None:
    # Seed 0 was run twice (e.g. on two devices): the group mean is over seeds, n is the number of seeds.
    write_job(tmp_path / "a", None, record("rgp", 0.9, 0, 90.0, 90.0, run_id="a"))
    write_job(tmp_path / "b", None, record("rgp", 0.9, 0, 92.0, 92.0, run_id="b"))
    write_job(tmp_path / "c", None, record("rgp", 0.9, 1, 97.0, 97.0, run_id="c"))
    report = build_report([tmp_path], tmp_path / "report")
    (group,) = report.groups
    assert group["n"] == 2
    assert group["acc_mean"] == pytest.approx((91.0 + 97.0) / 2)


def test_a_renamed_field_is_a_problem_that_names_it_never_an_empty_column(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "outputs"
    for seed in (0, 1):
        write_job(out / f"ok-{seed}", None, record("rgp", 0.5, seed, 90.0 + seed, 90.0))
    renamed = stored(record("rgp", 0.5, 2, 95.0, 95.0))
    renamed["accuracy"]["bestval"] = renamed["accuracy"].pop("best_val")
    write_results_file(out / "renamed", renamed)
    report = build_report([out], tmp_path / "r")
    (problem,) = report.problems
    assert problem["status"] == "failed" and Path(problem["path"]).name == "renamed"
    assert problem["detail"] == "corrupt results.json: accuracy.best_val is missing (schema 3)"
    assert problem["run"] == "method=rgp dataset=digits model=mlp ratio=0.5 seed=2"
    with report.files["csv"].open(newline="") as fh:
        assert [r["top1_best_val"] for r in csv.DictReader(fh)] == ["90.0", "91.0"]
    line = "| failed | method=rgp dataset=digits model=mlp ratio=0.5 seed=2 | corrupt results.json: accuracy.best_val "
    assert line + "is missing (schema 3) |" in report.files["markdown"].read_text()
    assert main([str(out), "--out", str(tmp_path / "r"), "--no-baselines"]) == 0
    assert "2 runs in 1 groups; 1 failed" in capsys.readouterr().out
    assert main([str(out), "--out", str(tmp_path / "r"), "--no-baselines", "--strict"]) == 1


def test_records_of_older_schemas_are_upgraded(tmp_path: Path) -> None:
    for version, seed in ((1, 0), (2, 1)):
        rec = record("random", 0.5, seed, 80.0 + seed, 80.0)
        rec.sparsity.achieved = rec.budget.achieved = 0.49
        write_results_file(tmp_path / "outputs" / str(seed), as_version(stored(rec), version))
    report = build_report([tmp_path / "outputs"], tmp_path / "r")
    assert not report.problems and len(report.rows) == 2
    for row in report.rows:  # version 1: a weight budget, achieved as the masks' sparsity; before 3: no check
        assert (row["budget"], row["budget_achieved"], row["sanity"], row["collapsed"]) == ("weights", 0.49, "none",
                                                                                          None)
    (group,) = report.groups
    assert group["n"] == 2 and group["acc_mean"] == pytest.approx(80.5) and group["collapsed_mean"] is None
