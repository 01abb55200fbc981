"""The recipes of `make bench` (benchmarks/): one shape, and rendering from fixed rows (nothing is measured here).

The graphs recipe's own tests are in test_graphs_bench.py, the gnnrl tables' in test_gnnrl.py.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from benchmarks import collapse, export_speed, gnnrl, latency_cost, memory, speedup_report, thin_convs
from benchmarks.markdown import Provenance, parser, publish

from rgp_bench.pruning.collapse import Collapse
from rgp_bench.speedup.end_to_end import DENSE, DENSE_COMPILED, MATERIALISED, MATERIALISED_COMPILED, EndToEnd
from rgp_bench.speedup.report import CandidateResult, LayerReport, MaterialiseReport

RECIPES = ("graphs", "speedup", "collapse", "gnnrl", "latency_cost", "memory", "export_speed", "thin_convs")
MACHINE = {"cpu": "Test CPU", "cores": "2", "python": "3.11", "os": "Linux", "torch": "2.x"}
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_has_collect_render_and_main(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(module.collect) and callable(module.render) and callable(module.main)
    assert name == module.SECTION


def test_make_bench_runs_every_recipe_into_benchmarks_md() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"-m benchmarks\.(\w+) --output BENCHMARKS\.md", recipe) == list(RECIPES)
    text = (ROOT / "BENCHMARKS.md").read_text()
    assert all(f"<!-- {name}:begin -->" in text and f"<!-- {name}:end -->" in text for name in RECIPES)


def test_publish_prints_and_writes_only_with_an_output(tmp_path, capsys) -> None:
    assert parser("python -m benchmarks.x", "Doc line.\n\nmore").parse_args([]).output is None
    publish("demo", "## Demo\n\ntext", None)
    assert capsys.readouterr().out == "## Demo\n\ntext\n" and not list(tmp_path.iterdir())
    publish("demo", "## Demo\n\ntext", tmp_path / "B.md")
    assert "<!-- demo:begin -->\n## Demo\n\ntext\n<!-- demo:end -->" in (tmp_path / "B.md").read_text()


# --- speedup ----------------------------------------------------------------------------------------------------


def _e2e(batch: int, speedup: float, compiled_fast: bool = False) -> EndToEnd:
    seconds = {DENSE: 1.0, DENSE_COMPILED: 0.8, MATERIALISED: 1 / speedup}
    if compiled_fast:
        seconds[MATERIALISED_COMPILED] = 0.5 / speedup
    return EndToEnd(batch_size=batch, threads=1, seconds=seconds, iqr=dict.fromkeys(seconds, 0.0),
                    speedup_vs_dense={k: 1.0 / v for k, v in seconds.items()},
                    speedup_vs_compiled={k: 0.8 / v for k, v in seconds.items()}, mac_limit=8.0)


def _report(batch: int, chosen: str) -> MaterialiseReport:
    layer = LayerReport("layers.1.conv1", "Conv2d 256→256 3×3", "64 groups x 4 out", 1.0, 1000, 125, 0.002,
                        [CandidateResult("direct", 0.001, 2.0, 1e-7)], chosen, "fastest", 256, 256, (3, 3), 1)
    return MaterialiseReport(batch, "cpu", 1, "2.x", "tunables", "loaded", ("direct",), 1.05, [layer], 1e-7,
                             fusion="2 BatchNorms folded")


def _row(model: str, batch: int, label: str, speedup: float, chosen: str | None = None,
         compiled_fast: bool = False) -> speedup_report.SpeedupRow:
    report = None if chosen is None else _report(batch, chosen)
    return speedup_report.SpeedupRow(label=label, model=model, end_to_end=_e2e(batch, speedup, compiled_fast),
                                     report=report)


SPEEDUP = speedup_report.SpeedupRows(
    Provenance("python -m benchmarks.speedup --quick", "2026-01-02 03:04 UTC", 600.0, MACHINE),
    rows=(_row("mlp", 64, "RGP k/n = 6/64", 3.5, "gemm", compiled_fast=True), _row("mlp", 1, "RGP k/n = 6/64", 3.9),
          _row("resnet18", 64, "RGP k/n = 8/64", 4.2, "direct"),
          _row("resnet56", 64, "RGP k/n = 2/16", 2.0, "grouped")),
    kernel="loaded", simd="8 float lanes per vector, 16 vector registers", kernel_build_seconds=3.0,
    cpu_minutes=12.25, omp_threads="1", allocator="M_ARENA_MAX=1", tapsum_runs=(("resnet18", 64, 8),),
)


def test_targets_table_lists_the_mlp_and_resnet18_targets():
    lines = speedup_report.targets_table(SPEEDUP.rows).splitlines()
    assert any("MLP" in line and "batch 64" in line and "3.50×" in line and "| met |" in line for line in lines)
    assert any("MLP" in line and "batch 1," in line and "3.90×" in line and "**missed**" in line for line in lines)
    assert any("ResNet-18" in line and "≥ 4.0× dense eager" in line and "| met |" in line for line in lines)
    assert "not run" in speedup_report.targets_table([])


def test_a_missed_channel_target_says_why():
    rows = [_row("resnet18", 64, "uniform channels −50% MACs", 7.0), _row("resnet56", 64, "uniform channels −50% MACs",
                                                                         1.0)]
    lines = speedup_report.targets_table(rows).splitlines()
    (r18,) = [line for line in lines if line.startswith("| resnet18, batch 64, `uniform`")]
    (r56,) = [line for line in lines if line.startswith("| resnet56, batch 64, `uniform`")]
    assert r18.endswith("= 0.88× the factor | met |")
    assert r56.endswith("= 0.12× the factor | **missed**" + speedup_report.CHANNELS_WHY + " |")


def test_speedup_render_states_the_conditions_and_shows_every_table():
    text = speedup_report.render(SPEEDUP)
    assert text == speedup_report.render(SPEEDUP)
    assert "- Command: `python -m benchmarks.speedup --quick` (whole run 10.0 min wall, 12.2 min CPU" in text
    assert "OMP_NUM_THREADS=1" in text and "allocator: M_ARENA_MAX=1." in text and "torch 2.x;" in text
    assert "was a candidate only in: resnet18 batch 64 k = 8. The materialised model compiled as a whole: none." in text
    assert "| mlp | 64 | RGP k/n = 6/64 | 8.00× | 1000.0 | 800.0 | – | 285.7 | **3.50×** |" in text
    assert "Materialised model compiled as a whole" in text  # the MLP at batch 64 was compiled whole
    assert "It was the fastest form in 2 of 3 masked layers over all runs" in text  # gemm and direct, not grouped
    assert "This run: mlp: 2 BatchNorms folded; resnet18: 2 BatchNorms folded; resnet56: 2 BatchNorms folded." in text
    # per-layer tables for the MLP and ResNet-18 only, and only where a report exists
    assert re.findall(r"### Per layer: (.*)", text) == ["mlp, batch 64, RGP k/n = 6/64",
                                                        "resnet18, batch 64, RGP k/n = 8/64"]


# --- collapse ---------------------------------------------------------------------------------------------------


def test_collapse_render_is_a_method_by_density_table():
    cells = tuple(collapse.Cell(label, density, Collapse(label == "b" and density < 0.05, label == "b", [],
                                                         {"fc": density}, ("fc", density / 2)), 0.5)
                  for label in ("a", "b") for density in (0.1, 0.01))
    rows = collapse.CollapseRows(Provenance("python -m benchmarks.collapse", "2026-01-02 03:04 UTC", 2.0, MACHINE),
                                 cells)
    lines = collapse.render(rows).splitlines()
    assert lines[0] == "## Layer collapse at extreme sparsity (SynFlow's finding)"
    assert lines[2] == ("`python -m benchmarks.collapse` (2026-01-02 03:04 UTC; Test CPU, 2 cores, Linux, "
                        "Python 3.11, torch 2.x)")
    assert lines[-3:] == ["|---|---|---|---|",
                          "| a | no, 5.00e-02 (fc) | no, 5.00e-03 (fc) | 1.0 |",
                          "| b | no, 5.00e-02 (fc) | **yes** (no path), 5.00e-03 (fc) | 1.0 |"]


# --- gnnrl ------------------------------------------------------------------------------------------------------


def _run(method: str, seed: int, top1: float, best: float | None = None, evaluations: int | None = None):
    curve = () if best is None else ((1, best - 110.0), (evaluations or 1, best - 100.0))
    return gnnrl.RunRow(method, seed, top1, 0.5, None if best is None else 2.0, None, None, evaluations, best, curve)


def test_gnnrl_render_has_one_section_per_setting_and_knows_when_it_is_complete():
    runs = tuple(_run(m, s, 90.0 + s, 60.0 + s, 40) for m in gnnrl.SEARCHES for s in (0, 1)) + tuple(
        _run("uniform", s, 91.0) for s in (0, 1))
    rows = gnnrl.GnnrlRows(Provenance("python -m benchmarks.gnnrl --seeds 0 1", "2026-01-02 03:04 UTC", 120.0,
                                      MACHINE), {"digits_mlp": runs}, (("a",), ("b",)), 1, "docs/figures/x.png")
    text = gnnrl.render(rows)
    assert text == gnnrl.render(rows)
    assert "- Command: `python -m benchmarks.gnnrl --seeds 0 1` (whole run 2 min); it runs 2 CLI commands" in text
    assert "- Figure: [x.png](docs/figures/x.png)" in text
    assert text.count("\n### ") == 1 and f"### digits_mlp: {gnnrl.SETTINGS['digits_mlp'].description}" in text
    assert rows.complete([0, 1]) and not rows.complete([0, 1, 2])


def test_gnnrl_rows_read_a_results_record():
    record = {"method": "gnnrl", "seed": 3, "status": "complete", "accuracy": {"final": {"top1": 97.5}},
              "cost": {"reduction": {"macs": 0.5004}},
              "method_info": {"search": {"seconds": 80.0, "env_steps": 10000, "ppo_updates": 100, "evaluations": 900},
                              "best_val_top1": 92.1, "best_curve": [[1, -20.0], [77, -7.9]]}}
    run = gnnrl.RunRow.of(record)
    assert run == gnnrl.RunRow("gnnrl", 3, 97.5, 0.5004, 80.0, 10000, 100, 900, 92.1, ((1, -20.0), (77, -7.9)))
    uniform = gnnrl.RunRow.of({**record, "method": "uniform", "method_info": {}})
    assert uniform.evaluations is None and uniform.best_curve == () and uniform.test_top1 == 97.5



def test_latency_cost_render_states_each_target_met_or_missed():
    def case(name: str, latency: float, total: float, speedups: tuple[float, ...], rss: float | None = None):
        return latency_cost.Case(name, f"python -m rgp_bench {name}", len(speedups), latency, total, speedups,
                                 "1: 4.00×, 64: 5.00×", rss)

    rows = latency_cost.LatencyCostRows(
        Provenance("python -m benchmarks.latency_cost", "2026-12-05 18:00 UTC", 900.0,
                   {"cpu": "Test CPU", "cores": "2", "torch": "2.x"}),
        (case("resnet50", 75.0, 120.0, (1.5,), 2.9), case("make_run", 5.0, 70.0, (5.0,)),
         case("repeat_a", 4.0, 10.0, (5.0,)), case("repeat_b", 4.0, 10.0, (4.0,)),
         case("sweep", 30.0, 400.0, (1.0,) * 12)))
    text = latency_cost.render(rows)
    assert "5.0 s of 70 s (7.1%)" in text and "30.0 s of 400 s (7.5%) over 12 runs" in text
    assert "| ResNet-50 at 224×224, cost only: latency ≤ 60 s | 75.0 s (2.9 GiB peak RSS)" in text
    assert text.count("**missed**") == 2  # ResNet-50 over its limit; the repeats 20 % apart
    assert "5.00× and 4.00× (20.0% apart)" in text
    assert text.count("`python -m benchmarks.latency_cost` (2026-12-05 18:00 UTC; Test CPU, 2 cores, torch 2.x; "
                      "15 min). Timing runs on 1 thread") == 1


def test_export_speed_render_compares_each_batch_with_the_run():
    rows = export_speed.ExportSpeedRows(
        Provenance("python -m benchmarks.export_speed", "2026-12-05 18:00 UTC", 41.0,
                   {"cpu": "Test CPU", "cores": "2", "torch": "2.x"}),
        "python -m rgp_bench x", "python -m rgp_bench.export RUN_DIR --materialise --format aoti", False,
        (export_speed.BatchRow(1, 4.8, 230.0, 48.0, 27.0, 4.7, 8.5),
         export_speed.BatchRow(64, 5.0, 1500.0, 300.0, 320.0, 5.0, 4.7)))
    text = export_speed.render(rows)
    assert "| 1 | 4.80× | **8.50×** | 4.70× | 230.0 | 27.0 | 48.0 | met |" in text
    assert "| 64 | 5.00× | **4.70×** | 5.00× | 1500.0 | 320.0 | 300.0 | **missed** |" in text
    assert "rgp-bench imported there: no" in text
    assert "`python -m benchmarks.export_speed` (2026-12-05 18:00 UTC; Test CPU, 2 cores, torch 2.x; 41 s). `" in text


def test_thin_convs_render_compares_each_kept_conv_with_its_dense_and_rounded_twins():
    t = thin_convs.ConvTime
    rows = thin_convs.ThinConvRows(
        Provenance("python -m benchmarks.thin_convs", "2026-12-05 18:00 UTC", 20.0,
                   {"cpu": "Test CPU", "cores": "2", "torch": "2.x"}),
        (t(2, 32, 32, 16, "dense", 4e-3), t(2, 21, 21, 16, "kept", 2.4e-3),
         t(2, 24, 24, 16, "kept, rounded up to 8", 2.4e-3), t(3, 64, 64, 8, "dense", 4e-3),
         t(3, 48, 48, 8, "kept", 2.3e-3)))
    text = thin_convs.render(rows)
    assert "| 2 | 16×16 | 21 → 21 | kept | 2.40 | 0.60 | 0.43 |" in text
    assert "1 of the kept convolutions take over 1.25× the time their MACs predict (worst: 21 → 21" in text
    assert "takes 1.00–1.00× the time of the same convolution with its widths rounded up" in text


def test_memory_render_states_each_phase_against_the_budget():
    def run(model: str, latency: float) -> memory.RunMemory:
        peaks = {"build": 900.0, "prune": 1000.0, "topology": 1500.0, "latency": latency}
        return memory.RunMemory(model, f"python -m rgp_bench model={model}", {**peaks, "run": max(peaks.values())},
                                {"total": 40.0})

    rows = memory.MemoryRows(
        Provenance("python -m benchmarks.memory", "2026-12-05 18:00 UTC", 300.0,
                   {"cpu": "Test CPU", "cores": "2", "torch": "2.x"}),
        (run("resnet50", 3000.0), run("vgg16", 5000.0)), memory.GraphMemory("python -m rgp_bench.graphs", 300.0, 20))
    text = memory.render(rows)
    assert "| resnet50 | 0.98 GiB | 1.46 GiB | 2.93 GiB | 2.93 GiB | 40 s | met |" in text
    assert "| vgg16 | 0.98 GiB | 1.46 GiB | 4.88 GiB | 4.88 GiB | 40 s | **missed** |" in text
    assert "Graph engine at 4,096 nodes, k = 410" in text and "0.29 GiB peak in 20 s, met" in text
