"""The topology study's analysis (rgp_bench.report.topology_study) on synthetic points with a known correlation,
and its pre-registration against the preset."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import rankdata, spearmanr

from rgp_bench.report.topology_study import (
    HYPOTHESES,
    Hypothesis,
    Point,
    density_components,
    fisher_pool,
    holm,
    partial_spearman,
    ranks,
    study_points,
    topology_study,
)

PRESET = Path(__file__).resolve().parents[1] / "conf" / "experiment" / "topology_study.yaml"


def _points(rng: np.random.Generator, *, slope: float, density_effect: float = 0.0, seeds: range = range(10),
            methods: int = 6, cells: tuple[float, ...] = (0.5, 0.9)) -> list[Point]:
    """Runs whose accuracy is `slope` × measure + `density_effect` × a layer density + noise."""
    points = []
    for ratio in cells:
        for m in range(methods):
            layer_density = 0.1 + 0.02 * m  # per-method density profile
            for seed in seeds:
                signal = rng.normal()
                accuracy = 80 + slope * signal + density_effect * layer_density * 100 + rng.normal() * 0.3
                measures = {"signal": signal, "noise": rng.normal(), "aspl": None}
                points.append(Point("mnist1d", "mlp", ratio, f"m{m}", seed, accuracy, measures,
                                    {"a": layer_density, "b": 1 - ratio}))
    return points


SIGNAL = Hypothesis("signal", +1, "synthetic")
NOISE = Hypothesis("noise", +1, "synthetic")
WRONG = Hypothesis("signal", -1, "synthetic: the opposite sign")


def test_partial_spearman_without_covariates_is_scipys_spearman() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=30), rng.normal(size=30)
    y += x
    rho, p, k = partial_spearman(x, y)
    ref = spearmanr(x, y)
    assert k == 0 and rho == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    tied = [3.0, 1.0, 3.0, 2.0, 3.0, 1.0]
    assert ranks(tied).tolist() == rankdata(tied).tolist()


def test_partial_spearman_removes_a_shared_density_effect() -> None:
    """x and y both follow the density and nothing else: the plain rho is large, the partial one is not."""
    rng = np.random.default_rng(1)
    density = np.repeat(np.linspace(0.1, 0.5, 6), 10)
    x = density * 10 + rng.normal(size=60) * 0.5
    y = density * 10 + rng.normal(size=60) * 0.5
    plain, _, _ = partial_spearman(x, y)
    comps = density_components([{"a": d, "b": 2 * d} for d in density], 10)
    partial, p, k = partial_spearman(x, y, comps)
    assert comps.shape == (60, 1) and k == 1  # two collinear layers: one component
    assert plain > 0.8 and abs(partial) < 0.3 and p > 0.05


def test_density_components_of_a_constant_profile_are_empty() -> None:
    assert density_components([{"a": 0.1}, {"a": 0.1}, {"a": 0.1}], 5).shape == (3, 0)
    assert density_components([{"a": 0.1}, {"b": 0.2}], 5).shape[1] == 1  # a missing layer is dense (1.0)
    assert partial_spearman([1.0] * 8, list(range(8)))[0] is None  # a constant measure has no rho


def test_fisher_pool_and_holm() -> None:
    rho, p = fisher_pool([(0.5, 20), (0.5, 20)])
    assert rho == pytest.approx(0.5) and p == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(
        math.atanh(0.5) * math.sqrt(40) / math.sqrt(2)))))
    assert fisher_pool([(0.5, 0)]) == (None, None)
    assert holm([0.01, None, 0.04, 0.03]) == pytest.approx([0.03, None, 0.06, 0.06])


def test_a_true_correlation_holds_in_both_halves_and_noise_does_not() -> None:
    study = topology_study(_points(np.random.default_rng(2), slope=2.0), (SIGNAL, NOISE, WRONG), resamples=200)
    signal, noise, wrong = study.results
    assert signal.verdict == "holds" and signal.partial.rho > 0.8 and signal.p_discovery < 0.05
    assert signal.ci is not None and signal.ci[0] < signal.partial.rho < signal.ci[1] and signal.ci[0] > 0.5
    assert signal.partial.cells == 2 and len(signal.cells) == 2 and signal.discovery.n == 60
    assert noise.verdict == "not supported"
    assert wrong.verdict == "contradicted"


def test_an_effect_of_density_alone_is_not_a_topology_effect() -> None:
    """The measure tracks the density profile, accuracy too: plain rho high, the partial test says not supported."""
    rng = np.random.default_rng(3)
    points = []
    for m in range(6):
        density = 0.1 + 0.05 * m
        for seed in range(10):
            measure = density * 10 + rng.normal() * 0.01
            points.append(Point("mnist1d", "mlp", 0.9, f"m{m}", seed, 70 + density * 40 + rng.normal() * 0.5,
                                {"signal": measure}, {"a": density}))
    (result,) = topology_study(points, (SIGNAL,), resamples=100).results
    assert result.plain.rho > 0.8 and result.verdict == "not supported"


def test_no_interval_from_cells_of_fewer_than_ten_runs() -> None:
    """Six runs a cell (a default 12-run sweep): resampling them says nothing, so no interval is drawn."""
    few = _points(np.random.default_rng(5), slope=2.0, seeds=range(3), methods=3)  # 9 runs a cell
    (result,) = topology_study(few, (SIGNAL,), resamples=100).results
    assert result.partial.rho is not None and result.ci is None
    enough = _points(np.random.default_rng(5), slope=2.0, seeds=range(5), methods=2)  # 10 runs a cell
    assert topology_study(enough, (SIGNAL,), resamples=100).results[0].ci is not None


def test_a_measure_defined_for_no_run_is_not_applicable() -> None:
    aspl = Hypothesis("aspl", -1, "synthetic", regular_only=True)
    (result,) = topology_study(_points(np.random.default_rng(4), slope=1.0), (aspl,), resamples=10).results
    assert result.verdict == "n/a" and result.partial.rho is None and result.ci is None


def test_the_preset_declares_the_hypotheses_the_analysis_tests() -> None:
    declared = re.findall(r"^# hypothesis: (\S+) (positive|negative)", PRESET.read_text(), flags=re.M)
    assert declared == [(h.measure, "positive" if h.sign > 0 else "negative") for h in HYPOTHESES]


def test_study_points_from_records_place_the_equal_mac_twin_in_rgps_cell() -> None:
    import torch
    from tests.record_factory import make_record

    from rgp_bench.measure.topology import measure_topology
    from rgp_bench.record.schema import BudgetFacts

    topology = measure_topology({"fc": torch.eye(4, dtype=torch.bool)})
    rgp = make_record("rgp", 0.9, 0, 80.0)  # removes 0.9 * 0.97 of the MACs
    shuffled = make_record("rgp", 0.9, 1, 70.0)
    shuffled.sanity = "shuffle"
    twin, far, bare = make_record("uniform", 0.88, 0, 75.0), make_record("uniform", 0.5, 0, 85.0), make_record()
    twin.budget = BudgetFacts(basis="macs", requested=0.88, achieved=0.9 * 0.97 + 0.01)
    far.budget = BudgetFacts(basis="macs", requested=0.5, achieved=0.5)
    for r in (rgp, shuffled, twin, far):
        r.topology = topology
    points = study_points([(rgp, 80.0, "rgp"), (shuffled, 70.0, "rgp"), (twin, 75.0, "uniform"),
                           (far, 85.0, "uniform"), (bare, 90.0, "rgp")])
    assert [(p.label, p.ratio, p.accuracy) for p in points] == [("rgp", 0.9, 80.0), ("rgp+shuffle", 0.9, 70.0),
                                                                ("uniform", 0.9, 75.0)]
    assert [p.twin for p in points] == [False, False, True]  # the MAC-budget run is the cell's dense twin
    measures = points[0].measures
    assert measures["aspl"] is None and measures["log10_effective_paths"] is None  # no node graph, no model
    assert measures["spectral_gap"] == pytest.approx(topology.layers[0].spectral_gap)
    assert points[0].density == {"fc": 0.25}


def test_the_report_has_the_section_with_discovery_and_confirmation(tmp_path: Path) -> None:
    import torch
    import yaml
    from tests.record_factory import make_record, write_results_file

    from rgp_bench.measure.topology import measure_topology
    from rgp_bench.report import build_report

    generator = torch.Generator().manual_seed(0)
    for method in ("random", "erk"):
        for seed in range(10):
            mask = torch.rand(16, 16, generator=generator) < 0.3
            topology = measure_topology({"fc": mask})
            rec = make_record(method, 0.9, seed, 60.0 + topology.layers[0].spectral_gap, 60.0, dataset="mnist1d")
            rec.topology = topology
            job = tmp_path / "runs" / f"{method}{seed}"
            (job / ".hydra").mkdir(parents=True)
            (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(rec.config))
            write_results_file(job, rec)
    report = build_report([tmp_path / "runs"], tmp_path / "report", with_published=False)
    markdown = report.files["markdown"].read_text()
    assert "## Does topology predict accuracy?" in markdown and "p confirmation (Holm)" in markdown
    assert report.topology is not None
    rows = {r["measure"]: r for r in report.topology["results"]}
    assert set(rows) == {h.measure for h in HYPOTHESES}
    assert rows["spectral_gap"]["verdict"] == "holds" and rows["aspl"]["verdict"] == "n/a"
    assert report.files["mnist1d_mlp_topology_r0.9"].read_bytes()[:4] == b"\x89PNG"
    assert "graph2nn" not in markdown  # published numbers left out: no yardstick either
    assert "[PDF](plots/mnist1d_mlp_topology_r0.9.pdf)" in markdown  # every format of the figure is linked
    assert (report.files["mnist1d_mlp_topology_r0.9"].parent / "mnist1d_mlp_topology_r0.9.pdf").is_file()
    # With a baselines folder, the section gives graph2nn's correlations as the yardstick, tables only here.
    baselines = _graph2nn_csv(tmp_path / "baselines", [("a", 0.9, 1.5, 40.0), ("b", 0.5, 2.0, 35.0),
                                                      ("c", 0.2, 3.0, 30.0)])
    again = build_report([tmp_path / "runs"], tmp_path / "again", baselines_dir=baselines, figures=False)
    section = again.files["markdown"].read_text().split("## Does topology predict accuracy?")[1]
    assert "over graph2nn's released results (You et al., ICML 2020: 3 relational graphs" in section
    assert "Spearman's ρ of top-1 accuracy with path length +1.00 (p = 0.00e+00) and clustering -1.00" in section


def _graph2nn_csv(folder: Path, rows: list[tuple[str, float, float, float]]) -> Path:
    """A graph2nn table (graph, clustering, path length, top-1 error) in the committed file's columns."""
    from rgp_bench.report.graph2nn import FILE

    folder.mkdir(parents=True, exist_ok=True)
    lines = ["graph,graph_density,rewiring_p,graph_seed,clustering,path_length,top1_error_mean,top1_error_std,seeds"]
    lines += [f"{g},0.5,0.1,0,{c},{length},{err},0.1,5" for g, c, length, err in rows]
    (folder / FILE).write_text("\n".join(lines) + "\n")
    return folder


def test_graph2nn_reference_is_spearman_over_the_relational_graphs(tmp_path: Path) -> None:
    from rgp_bench.core.errors import UserError
    from rgp_bench.report.graph2nn import load_graph2nn

    # Error falls as the path lengthens (accuracy rises): rho +1; clustering the other way: rho -1. The complete
    # graph (the notebook's baseline run) is no relational graph and stays out, or it would break the ranks.
    rows = [("complete", 1.0, 1.0, 10.0), ("a", 0.9, 1.5, 40.0), ("b", 0.5, 2.0, 35.0), ("c", 0.2, 3.0, 30.0)]
    ref = load_graph2nn(_graph2nn_csv(tmp_path / "ok", rows))
    assert ref is not None and ref.graphs == 3
    assert ref.rho == {"path_length": pytest.approx(1.0), "clustering": pytest.approx(-1.0)}
    assert "3 relational graphs" in ref.sentence() and "path length +1.00" in ref.sentence()
    assert load_graph2nn(tmp_path / "none") is None and load_graph2nn(None) is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "graph2nn_mlp_cifar10.csv").write_text("graph,clustering\nx,0.1\n")
    with pytest.raises(UserError, match=r"graph2nn_mlp_cifar10.csv: unreadable graph2nn table \(KeyError"):
        load_graph2nn(tmp_path / "bad")
    committed = load_graph2nn(Path(__file__).parents[1] / "baselines")
    assert committed is not None and committed.graphs == 52  # the released table: 52 relational graphs


def test_sparse_series_are_compared_with_their_cells_dense_twin_paired_by_seed() -> None:
    """A twin 3 points better than series m0 on every seed (plus noise), and tied with m1: the table says which."""
    rng = np.random.default_rng(5)
    points = []
    for seed in range(10):
        base = 70 + rng.normal()  # shared by the seed's runs: what the pairing removes
        for label, shift, twin in (("m0", -3.0, False), ("m1", 0.0, False), ("uniform", 0.0, True)):
            points.append(Point("mnist1d", "mlp", 0.9, label, seed, base + shift + rng.normal() * 0.3,
                                {"signal": rng.normal()}, {"a": 0.1}, twin=twin))
    points.append(Point("mnist1d", "mlp", 0.5, "m0", 0, 70.0, {"signal": 0.0}, {"a": 0.5}))  # no twin in this cell
    twins = topology_study(points, (SIGNAL,), resamples=10).twins
    assert [(c.ratio, c.label, c.twin, c.pairs) for c in twins] == [(0.9, "m0", "uniform", 10),
                                                                     (0.9, "m1", "uniform", 10)]
    worse, tied = twins
    assert worse.diff == pytest.approx(worse.mean - worse.twin_mean) and -3.5 < worse.diff < -2.5
    assert worse.p is not None and worse.p < 1e-6 and worse.p_holm == pytest.approx(min(1.0, 2 * worse.p))
    assert tied.p is not None and tied.p > 0.01 and abs(tied.diff) < 0.5
