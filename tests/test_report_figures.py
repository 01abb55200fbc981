"""Report plots on fabricated records: method styles, dodging, Pareto front, dense line, compression axis,
hollow single-seed points, SVG beside every PNG, degenerate plots skipped, published markers, per-layer
densities and accuracy vs measured speed-up."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from tests.record_factory import dense_scores, latency, layer
from tests.test_report import PNG_MAGIC, build_report, record, write_job

from rgp_bench.record.schema import BudgetFacts, RunRecord
from rgp_bench.report import Report, analyse, plots
from rgp_bench.report.columns import Stat
from rgp_bench.report.groups import Group, LayerDensity
from rgp_bench.report.plots import canvas
from rgp_bench.report.style import KNOWN, method_style

DATASET, MODEL = "cifar10", "resnet20"
LAYERS = ("conv1", "layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2", "layer3.0.conv1",
          "layer3.0.conv2", "fc")
# method -> (regime, budget basis, accuracy drop per unit ratio, speed-up per unit ratio, ratios)
METHODS = {
    "rgp": ("scratch", "weights", 6.0, 0.1, (0.5, 0.9, 0.95)),
    "magnitude": ("finetune", "weights", 7.0, 0.05, (0.5, 0.9, 0.95)),
    "snip": ("scratch", "weights", 9.0, 0.05, (0.5, 0.9)),
    "filter_norm": ("finetune", "macs", 10.0, 1.5, (0.3, 0.5)),
    "gnnrl": ("finetune", "macs", 8.0, 1.6, (0.3, 0.5)),
}
DENSE_TOP1 = 92.0


def rich_record(method: str, ratio: float, seed: int, *, dataset: str = DATASET, model: str = MODEL) -> RunRecord:
    """A record with per-layer densities, a latency measurement, a dense accuracy (finetune) and a search."""
    regime, basis, drop, gain, _ = METHODS[method]
    acc = 91.0 - drop * ratio**2 + 0.3 * seed
    rec = record(method, ratio, seed, acc, acc - 0.2, dataset=dataset, model=model, info={},
                 run_id=f"{dataset}-{method}-{ratio}-{seed}")
    rec.regime = regime
    rec.budget = BudgetFacts(basis=basis, requested=ratio, achieved=ratio)
    if basis == "macs":
        rec.cost.reduction = replace(rec.cost.reduction, params=min(0.99, ratio * 1.1), macs=ratio)
    if regime == "finetune":
        rec.accuracy.dense = dense_scores(DENSE_TOP1 + 0.1 * seed)
    rec.cost.layers = [
        layer(name, round(max(0.02, min(1.0, (1 - ratio) * (0.5 + i / 4 if method != "magnitude" else 1.2 - i / 8))),
                          4), prunable=name != "fc")
        for i, name in enumerate(LAYERS)
    ]
    rec.cost.latency = latency(round(1 + gain * ratio + 0.01 * seed, 3), 64)
    if method == "gnnrl":
        rec.method_info = {"search": {"episodes": 40, "evaluations": 120 + seed, "seconds": 300.0 + 10 * seed},
                           "best_val_top1": 60.0 + 2 * seed}
    return rec


def write_rich_runs(root: Path) -> Path:
    """Runs of METHODS over their ratios, 2 seeds (snip at 0.9: a single seed), plus a degenerate pair."""
    out = root / "outputs"
    for method, (*_, ratios) in METHODS.items():
        for ratio in ratios:
            for seed in (0, 1) if (method, ratio) != ("snip", 0.9) else (0,):
                write_job(out / f"{method}-{ratio}-{seed}", None, rich_record(method, ratio, seed))
    for method in ("rgp", "magnitude"):  # one ratio for every series, nothing published: plots are skipped
        for seed in (0, 1):
            write_job(out / f"mlp-{method}-{seed}", None, rich_record(method, 0.5, seed, dataset="digits", model="mlp"))
    return out


def write_baselines(root: Path) -> Path:
    """A baselines folder with published points for cifar10/resnet20: exact, approximate and a dense row."""
    base = root / "baselines"
    base.mkdir()
    shutil.copy(Path(__file__).parents[1] / "baselines" / "gnnrl_readme.yaml", base / "g.yaml")
    doc = yaml.safe_load((base / "g.yaml").read_text())
    doc["source"]["id"] = "fake"
    proto = dict(doc["entries"][0], dataset=DATASET, model=MODEL)
    doc["entries"] = [
        dict(proto, method="gnn-rl", label="GNN-RL 50%", params_reduction=0.45, macs_reduction=0.5, top1=90.6),
        dict(proto, method="gnn-rl", label="GNN-RL 70%", params_reduction=0.6, macs_reduction=0.7, top1=89.0,
             approximate=True),
        dict(proto, method="dense", label="dense (theirs)", params_reduction=0.0, macs_reduction=0.0, top1=92.5),
    ]
    (base / "g.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    return base


@pytest.fixture(scope="module")
def rich_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rich")
    write_rich_runs(root)
    write_baselines(root)
    return root


@pytest.fixture(scope="module")
def rich(rich_root: Path) -> Report:
    return build_report([rich_root / "outputs"], rich_root / "report", baselines_dir=rich_root / "baselines")


@pytest.fixture(scope="module")
def rich_groups(rich_root: Path) -> list[Group]:
    """The rich report's groups, typed (as the plots take them)."""
    return analyse([rich_root / "outputs"], "best_val").groups


def _name(kind: str, dataset: str = DATASET, model: str = MODEL) -> str:
    return f"{dataset}_{model}_{kind}"


def test_every_plot_has_a_png_and_an_svg(rich: Report) -> None:
    pngs = [p for k, p in rich.files.items() if p.suffix == ".png"]
    kinds = {k.removeprefix(_name("")) for k, p in rich.files.items() if p.suffix == ".png"}
    assert {"params", "macs", "params_mac-budget", "macs_mac-budget", "speedup", "density_r0.5", "density_r0.95",
            "density_r0.3_mac-budget"} <= kinds
    for png in pngs:
        svg = rich.files[f"{png.stem}.svg"]
        assert png.read_bytes()[:8] == PNG_MAGIC and svg == png.with_suffix(".svg")
        assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
        assert rich.files[f"{png.stem}.pdf"].read_bytes()[:5] == b"%PDF-"
    md = rich.files["markdown"].read_text()
    p = f"plots/{_name('params')}"
    assert f"({p}.png) ([SVG]({p}.svg) · [PDF]({p}.pdf) · [PNG]({p}.png))" in md
    assert f'<a href="plots/{_name("speedup")}.svg">SVG</a>' in rich.files["html"].read_text()


def test_svg_is_deterministic(rich_groups: list[Group], tmp_path: Path) -> None:
    groups = [g for g in rich_groups if g.dataset == DATASET]
    for name in ("a", "b"):
        plots.speedup_plot(groups, "best_val", "t", tmp_path / f"{name}.png")
    assert (tmp_path / "a.svg").read_text() == (tmp_path / "b.svg").read_text()


def test_method_styles_are_fixed_and_distinct() -> None:
    assert len({s.color for s in KNOWN.values()}) == len(KNOWN)
    assert method_style("gnn-rl") == method_style("gnnrl") == KNOWN["gnnrl"]
    assert method_style("my_new_method") == method_style("my_new_method")  # hashed, same in every process
    assert method_style("my_new_method").color not in {s.color for s in KNOWN.values()}


def test_a_style_declared_in_the_records_wins(monkeypatch) -> None:
    from rgp_bench.record.schema import MethodFacts
    from rgp_bench.report import style

    monkeypatch.setattr(style, "_DECLARED", {})
    hashed = method_style("row_magnitude")
    style.remember_declared("row_magnitude", None)  # an older record: nothing declared
    assert method_style("row_magnitude") == hashed
    style.remember_declared("row_magnitude", {"block_structured": False, "exportable": False,
                                              "style": {"color": "#e7ba52", "marker": "o"}})
    assert method_style("row-magnitude") == style.Style("#e7ba52", "o") != hashed
    style.remember_declared("other_method", MethodFacts(False, False, style.Style("#5254a3", "s")))
    assert method_style("other_method") == style.Style("#5254a3", "s")
    assert method_style("rgp") == KNOWN["rgp"]


def _svg_colors(svg: Path) -> set[str]:
    import re

    return {c.lower() for c in re.findall(r"stroke: ?(#[0-9a-fA-F]{6})", svg.read_text())}


def test_a_method_has_the_same_colour_in_two_reports(rich: Report, tmp_path: Path) -> None:
    """rgp alone in another report is drawn in the colour it has next to four other methods."""
    out = tmp_path / "outputs"
    for ratio in (0.5, 0.9):
        write_job(out / f"rgp-{ratio}", None, rich_record("rgp", ratio, 0))
    alone = build_report([out], tmp_path / "r")
    rgp = KNOWN["rgp"].color.lower()
    assert rgp in _svg_colors(alone.files[_name("params") + ".svg"])
    assert rgp in _svg_colors(rich.files[_name("params") + ".svg"])
    assert {KNOWN[m].color.lower() for m in ("magnitude", "snip")} <= _svg_colors(rich.files[_name("params") + ".svg"])


def test_degenerate_plots_are_skipped_with_a_note(rich: Report) -> None:
    skipped = rich.skipped_plots
    assert "single point (ratio 0.5)" in skipped[_name("params", "digits", "mlp")]
    assert _name("params", "digits", "mlp") not in rich.files
    assert _name("speedup", "digits", "mlp") in skipped
    md = rich.files["markdown"].read_text()
    assert "digits / mlp: accuracy vs parameter reduction: not drawn, every series has a single point" in md
    assert json.loads(rich.files["json"].read_text())["skipped_plots"] == skipped


def test_pareto_front() -> None:
    pts = [(50, 95.0), (75, 93.0), (75, 91.0), (90, 90.0), (90, 92.0), (50, 94.0), (95, 85.0)]
    assert plots.pareto_front(pts) == [0, 1, 4, 6]
    assert plots.pareto_front([]) == []


def test_dodge_spreads_only_shared_x() -> None:
    out = plots.dodge([[1.0, 2.0], [1.0, 3.0], [1.0]], 0.1)
    assert out[0][0] == pytest.approx(0.9) and out[1][0] == pytest.approx(1.0) and out[2][0] == pytest.approx(1.1)
    assert out[0][1] == 2.0 and out[1][1] == 3.0  # nothing else at these x


def _canvas_for(groups: list[Group], tmp_path: Path, **kw) -> Path:
    result = plots.tradeoff_plot(groups, kw.get("published", ()), "params", "best_val", "t", tmp_path / "p.png")
    assert isinstance(result, Path)
    return result


def _group(method: str, ratio: float, acc: float, n: int = 2, *, stats: dict[str, Stat] | None = None,
           **fields: object) -> Group:
    """A group of `n` seeds at `ratio` with `acc` mean top-1 (std 0.3) and parameter reduction `ratio`."""
    return Group(dataset="d", model="m", regime=str(fields.pop("regime", "scratch")), ratio=ratio,
                 budget=str(fields.pop("budget", "weights")), method=method, n=n,
                 acc=Stat(acc, 0.3 if n > 1 else None),
                 stats={"params_reduction": Stat(ratio, 0.0), **(stats or {})}, **fields)  # type: ignore[arg-type]


def test_tradeoff_plot_draws_dense_line_pareto_hollow_points_and_compression_axis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: dict[str, object] = {}
    real_finish = canvas.finish

    def spy(c, *args, **kw):
        drawn["legend"] = [t for _, t in c.handles]
        drawn["top"] = c.ax.child_axes
        drawn["ax"] = c.ax
        drawn["lines"] = c.ax.get_lines()
        return real_finish(c, *args, **kw)

    monkeypatch.setattr(canvas, "finish", spy)
    dense = _group("dense", 0.0, 96.0, epochs=30, budget="none")
    # magnitude (finetune) has no dense run at its 60 epochs: its pretraining accuracy is never drawn in its place
    groups = [_group("rgp", 0.5, 95.0, dense=dense), _group("rgp", 0.9, 90.0, n=1, dense=dense),
              _group("magnitude", 0.5, 94.0, regime="finetune", epochs=60, stats={"top1_dense": Stat(93.0)},
                     dense_missing="no dense reference at 60 epochs (finetune): add method=dense_finetune"),
              _group("magnitude", 0.9, 91.0, regime="finetune", epochs=60, dense_missing="...")]
    _canvas_for(groups, tmp_path)
    legend = drawn["legend"]
    assert "dense, 30 epochs (scratch): 96.00 ± 0.30, n=2" in legend
    assert any(t.startswith("Pareto front of group means (ties: compression within 1%") for t in legend)
    assert "no dense run at 60 epochs (finetune)" in legend and not [t for t in legend if "93.00" in t]
    assert [ln.get_ydata()[0] for ln in drawn["lines"] if ln.get_color() == method_style("dense").color] == [96.0]
    assert "hollow: a single seed" in legend
    (top,) = drawn["top"]
    ticks = [t.get_text() for t in drawn["ax"].xaxis.get_ticklabels()]  # type: ignore[attr-defined]
    assert "2×" in ticks and "8×" in ticks  # compression factors below, evenly spaced
    assert {"50", "87.5"} <= {t.get_text() for t in top.xaxis.get_ticklabels()}  # the reductions they are, on top
    hollow = [ln for ln in drawn["lines"] if ln.get_marker() == method_style("rgp").marker
              and ln.get_markerfacecolor() == "white" and len(ln.get_xdata())]
    assert len(hollow) == 1 and list(hollow[0].get_ydata()) == [90.0]
    # rgp and magnitude share x = 50 and 90: their markers are dodged apart
    markers = {tuple(ln.get_xdata()) for ln in drawn["lines"] if ln.get_linestyle() == "None" and len(ln.get_xdata())}
    xs = sorted(x for row in markers for x in row)
    assert len(set(xs)) == 4 and xs[1] - xs[0] < 2


def test_n_is_shown_per_series_in_the_legend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeds per series go into the legend (per-point n labels collided with markers and each other)."""
    legend: list[str] = []
    real_finish = canvas.finish
    monkeypatch.setattr(canvas, "finish", lambda c, *a, **k: (legend.extend(t for _, t in c.handles),
                                                              real_finish(c, *a, **k))[1])
    _canvas_for([_group("rgp", 0.5, 95.0, n=3), _group("rgp", 0.9, 90.0, n=1), _group("snip", 0.5, 94.0, n=2),
                 _group("snip", 0.9, 89.0, n=2)], tmp_path)
    assert "rgp (scratch), n=1–3" in legend and "snip (scratch), n=2" in legend


def test_published_labels_marked_approximate_and_not_overlapping(rich: Report, rich_groups: list[Group], monkeypatch,
                                                                 tmp_path) -> None:
    from rgp_bench.report import published

    labels: list[tuple[str, object]] = []
    real_save = canvas.save

    def spy(fig, path):
        ax = fig.axes[0]
        renderer = fig.canvas.get_renderer()
        labels.extend((t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if "GNN-RL" in t.get_text())
        return real_save(fig, path)

    monkeypatch.setattr(canvas, "save", spy)
    sources = published.load_published(write_baselines(tmp_path))
    pub = published.matching(sources, DATASET, MODEL)
    groups = [g for g in rich_groups if g.dataset == DATASET and g.budget == "macs"]
    plots.tradeoff_plot(groups, pub, "macs", "best_val", "t", tmp_path / "p.png")
    assert sorted(t for t, _ in labels) == ["GNN-RL 50%", "~GNN-RL 70%"]
    (_, a), (_, b) = labels
    assert not a.overlaps(b)
    md = rich.files["markdown"].read_text()
    assert "~89.00" in md  # the published table marks it too


def test_density_per_layer_mean_over_seeds(rich: Report) -> None:
    (g,) = [g for g in rich.groups if g["method"] == "rgp" and g["ratio"] == 0.9 and g["dataset"] == DATASET]
    assert [la["name"] for la in g["layer_density"]] == list(LAYERS[:-1])  # fc is not prunable
    first = g["layer_density"][0]
    assert first["n"] == 2 and first["mean"] == pytest.approx(round(0.1 * 0.5, 4)) and first["std"] == 0
    assert "## Kept fraction per prunable layer" in rich.files["markdown"].read_text()
    assert rich.files[_name("density_r0.9")].read_bytes()[:8] == PNG_MAGIC


def test_density_plot_with_one_layer_is_skipped(tmp_path: Path) -> None:
    g = _group("rgp", 0.5, 90.0, layer_density=[LayerDensity(name="fc", mean=0.5, std=0.0, n=2)])
    result = plots.density_plot([g], "t", tmp_path / "d.png")
    assert isinstance(result, plots.Skipped) and "only 1 prunable layer" in result.reason


def test_speedup_column_plot_and_search_seconds(rich: Report) -> None:
    (g,) = [g for g in rich.groups if g["method"] == "gnnrl" and g["ratio"] == 0.5]
    assert g["speedup_mean"] == pytest.approx(1.805) and g["search_seconds_mean"] == pytest.approx(305.0)
    assert g["search_evaluations_mean"] == pytest.approx(120.5)
    md = rich.files["markdown"].read_text()
    main, details = [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines()
                     if line.startswith("| dataset | model | ratio | budget |")]
    assert "measured speed-up" in main and "search s" not in main
    assert details.index("search s") == details.index("epochs") + 1
    assert details[details.index("search s") + 1:] == ["search evaluations", "search val top-1 (before FT)"]
    row, detail = [line for line in md.splitlines() if "| gnnrl | finetune |" in line and "| 0.5 |" in line]
    assert "1.81× ± 0.01" in row and "| 305 | 120 | 61.00 ± 1.41 |" in detail
    assert "at batch size 64" in md
    assert rich.files[_name("speedup")].read_bytes()[:8] == PNG_MAGIC


def test_no_speedup_or_search_columns_without_them(tmp_path: Path) -> None:
    write_job(tmp_path / "o" / "a", None, record("rgp", 0.5, 0, 90.0, 90.0))
    report = build_report([tmp_path / "o"], tmp_path / "r")
    md = report.files["markdown"].read_text()
    assert "measured speed-up" not in md and "search s" not in md and "_speedup" not in "".join(report.files)
