"""Seed statistics of the report: the bootstrap confidence interval of Spearman's rho, and where it is shown."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from tests.test_report import build_report, record, write_job

from rgp_bench.report import stats


def _noisy(n: int = 30, seed: int = 1) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return list(x), list(x + 1.5 * rng.normal(size=n))


def test_bootstrap_ci_of_a_perfect_rank_correlation_is_a_point() -> None:
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert stats.bootstrap_spearman_ci(x, [10 * v for v in x]) == (1.0, 1.0)
    assert stats.bootstrap_spearman_ci(x, [-v for v in x]) == (-1.0, -1.0)


def test_bootstrap_ci_contains_rho_and_is_deterministic() -> None:
    x, y = _noisy()
    rho = stats.spearman(x, y)["rho"]
    low, high = stats.bootstrap_spearman_ci(x, y)
    assert low < rho < high and low >= -1 and high <= 1
    assert stats.bootstrap_spearman_ci(x, y) == (low, high)
    assert stats.bootstrap_spearman_ci(x, y, seed=1) != (low, high)
    narrow = stats.bootstrap_spearman_ci(x, y, level=0.5)
    assert low < narrow[0] < narrow[1] < high


def test_bootstrap_ci_agrees_with_scipy_bootstrap() -> None:
    """Same percentile method as scipy.stats.bootstrap over paired resamples (different random draws)."""
    x, y = _noisy()
    ref = sps.bootstrap((x, y), lambda a, b: sps.spearmanr(a, b).statistic, paired=True, vectorized=False,
                        method="percentile", n_resamples=2000, random_state=0).confidence_interval
    low, high = stats.bootstrap_spearman_ci(x, y)
    assert low == pytest.approx(ref.low, abs=0.05) and high == pytest.approx(ref.high, abs=0.05)


def test_bootstrap_ci_undefined() -> None:
    assert stats.bootstrap_spearman_ci([1.0, 2.0], [1.0, 2.0]) is None  # fewer than 3 runs
    assert stats.bootstrap_spearman_ci([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None  # constant x


def test_aspl_table_and_plot_legend_show_the_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rgp_bench.report.plots import canvas

    legends: list[str] = []
    real_finish = canvas.finish
    monkeypatch.setattr(canvas, "finish", lambda c, *a: (legends.extend(t for _, t in c.handles),
                                                         real_finish(c, *a))[1])
    for i, aspl in enumerate((3.0, 4.0, 5.0)):
        for seed, acc in enumerate((92.0 - i, 91.5 - i)):
            rec = record("rgp", 0.9, seed, acc, acc, info={"nodes": 16, "degree": 4, "aspl": aspl})
            write_job(tmp_path / "o" / f"{i}-{seed}", None, rec)
    report = build_report([tmp_path / "o"], tmp_path / "r")
    (study,) = report.aspl
    low, high = study["rho_ci"]
    assert low <= study["rho"] <= high
    md = report.files["markdown"].read_text()
    assert "| 95 % CI |" in md and f"[{low:+.3f}, {high:+.3f}]" in md
    (legend,) = [t for t in legends if "Spearman" in t]
    assert f"(95 % CI [{low:+.2f}, {high:+.2f}])" in legend


def test_a_constant_difference_up_to_rounding_has_no_p_value() -> None:
    """Two seeds each 1 test image (1/359) apart: the differences match up to float rounding, so no t-test."""
    a, b = [100 * 300 / 359, 100 * 301 / 359], [100 * 299 / 359, 100 * 300 / 359]
    one = 100 / 359
    assert statistics.stdev([x - y for x, y in zip(a, b, strict=True)]) != 0  # rounding, not a real spread
    res = stats.paired_test(a, b)
    assert res["mean_diff"] == pytest.approx(one) and res["std_diff"] == 0.0
    assert res["t"] is None and res["p_value"] is None
    spread = stats.paired_test([90.0, 91.0, 93.0], [89.0, 90.5, 91.0])
    assert spread["p_value"] == pytest.approx(sps.ttest_rel([90.0, 91.0, 93.0], [89.0, 90.5, 91.0]).pvalue)
