"""The report's latency columns (speed-up with its noise mark, fraction of the MAC limit, speed-up over the equal-MAC
twin), the MAC limit in the speed-up plot and the equal-MAC twin's accuracy beside each sparse model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.record_factory import latency
from tests.test_report import build_report, record, write_job

from rgp_bench.record.schema import BudgetFacts, RunRecord
from rgp_bench.report import Report
from rgp_bench.report.plots import canvas


def _measured(method: str, ratio: float, seed: int, acc: float, macs: float, speedup: float, **facts) -> RunRecord:
    rec = record(method, ratio, seed, acc + 0.2 * seed, acc, run_id=f"{method}-{ratio}-{seed}")
    rec.cost.reduction = replace(rec.cost.reduction, macs=macs)
    rec.cost.latency = replace(latency(speedup), **facts)
    if method == "uniform":
        rec.budget = BudgetFacts(basis="macs", requested=ratio, achieved=ratio)
    return rec


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Report:
    root = tmp_path_factory.mktemp("latency")
    for seed in (0, 1):
        for ratio, macs, limit in ((0.5, 0.45, 1.8), (0.9, 0.86, 7.0)):
            write_job(root / "o" / f"rgp-{ratio}-{seed}", None,
                      _measured("rgp", ratio, seed, 90.0 - 5 * ratio, macs, 1.2 + ratio, mac_limit=limit,
                                fraction_of_limit=(1.2 + ratio) / limit, speedup_vs_twin=0.8,
                                noisy=seed == 1 and ratio == 0.9))
        for ratio in (0.45, 0.85):
            write_job(root / "o" / f"uniform-{ratio}-{seed}", None,
                      _measured("uniform", ratio, seed, 88.0 - 5 * ratio, ratio, 1.0 / (1 - ratio)))
    return build_report([root / "o"], root / "r")


def test_tables_carry_speedup_with_noise_mark_fraction_of_limit_and_twin(measured: Report) -> None:
    md = measured.files["markdown"].read_text()
    header = next(line for line in md.splitlines() if line.startswith("| dataset | model | ratio | budget |"))
    assert "| measured speed-up | of MAC limit | vs twin |" in header
    row = next(line for line in md.splitlines() if line.startswith("| digits | mlp | 0.9 | weights | rgp |"))
    assert "| 2.10× ± 0.00 ~ | 30.00 % | 0.80× ± 0.00 |" in row  # one seed's measurement stayed noisy
    row = next(line for line in md.splitlines() if line.startswith("| digits | mlp | 0.5 | weights | rgp |"))
    assert "| 1.70× ± 0.00 | 94.44 % |" in row
    assert "~ after it: some run's measurement stayed noisy" in md


def test_twin_accuracy_beside_the_sparse_model(measured: Report) -> None:
    md = measured.files["markdown"].read_text()
    assert "### Beside the equal-MAC dense twin" in md and "within 2% of the dense model's MACs" in md
    # rgp at 0.9 removes 86 % of the MACs: matched with uniform at 0.85 (85 %), not 0.45
    row = next(line for line in md.splitlines() if line.startswith("| digits | mlp | 0.9 | rgp | scratch | 86.00 %"))
    assert "| 0.85 | 85.00 % | 83.85 ± 0.14 | 6.67× | +1.75 |" in row
    assert next(line for line in md.splitlines() if line.startswith("| digits | mlp | 0.5 | rgp | scratch | 45.00 %"))


def test_speedup_plot_marks_the_mac_limit_and_states_the_measurement(measured: Report, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from rgp_bench.report import analyse, plots

    seen: dict[str, object] = {}
    real = canvas.finish

    def spy(c, title, xlabel, ylabel, path, note=""):
        seen["legend"], seen["note"] = [t for _, t in c.handles], note
        seen["limits"] = [ln.get_xdata()[0] for ln in c.ax.get_lines()
                          if ln.get_color() == "#555555" and list(ln.get_xdata()) == [ln.get_xdata()[0]] * 2]
        return real(c, title, xlabel, ylabel, path, note)

    monkeypatch.setattr(canvas, "finish", spy)
    groups = [g for g in analyse([measured.files["csv"].parents[1] / "o"], "best_val").groups if g.method == "rgp"]
    assert isinstance(plots.speedup_plot(groups, "best_val", "t", tmp_path / "s.png"), Path)
    assert seen["note"] == "measured on cpu, 2 threads, batch 64"
    assert sorted(seen["limits"]) == [1.8, 7.0]  # type: ignore[type-var]  # one vertical line per ratio
    assert any("MAC limit of a ratio" in t for t in seen["legend"])  # type: ignore[union-attr]


def test_mac_limits_that_differ_within_a_ratio_are_ticks_per_group(tmp_path: Path) -> None:
    from rgp_bench.report.columns import Stat
    from rgp_bench.report.groups import Group
    from rgp_bench.report.plots import speedup_plot

    def group(method: str, ratio: float, speedup: float, limit: float) -> Group:
        return Group(dataset="d", model="m", regime="scratch", ratio=ratio, budget="weights", method=method, n=2,
                     acc=Stat(90 - 10 * ratio, 0.2), stats={"speedup": Stat(speedup, 0.01),
                                                           "mac_limit": Stat(limit, 0.0)})

    groups = [group("rgp", 0.5, 1.2, 1.9), group("rgp", 0.9, 1.5, 8.0), group("filter_norm", 0.5, 1.8, 2.0),
              group("filter_norm", 0.9, 4.0, 9.5)]
    lines: list[object] = []
    real = canvas.finish

    def spy(c, *a, **k):
        lines.extend(ln for ln in c.ax.get_lines() if ln.get_marker() == "|" and ln.get_markeredgewidth() == 1.6)
        return real(c, *a, **k)

    import pytest as _pytest

    with _pytest.MonkeyPatch.context() as mp:
        mp.setattr(canvas, "finish", spy)
        assert isinstance(speedup_plot(groups, "best_val", "t", tmp_path / "s.png"), Path)
    assert sorted(ln.get_xdata()[0] for ln in lines) == [1.9, 2.0, 8.0, 9.5]  # type: ignore[attr-defined]
