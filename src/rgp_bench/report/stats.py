"""Seed statistics: mean/std, paired tests across seeds, rank correlation. None means 'not available'."""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from typing import Any


def _clean(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
    """(mean, sample std with ddof=1, n) over the non-None values; std is None when n < 2."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None, None, 0
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) >= 2 else None), len(xs)


CONSTANT_TOLERANCE = 1e-9  # differences closer than this (relative to the values) are equal


def paired_test(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Paired comparison of `a - b` (same seeds, same order) with scipy.stats.ttest_rel.

    Returns n_pairs, mean_diff, std_diff (ddof=1), t and p_value; the last three are None below 2 pairs
    or when the test is undefined (all differences identical).
    """
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    out: dict[str, Any] = {"n_pairs": len(diffs), "mean_diff": None, "std_diff": None, "t": None, "p_value": None}
    if not diffs:
        return out
    out["mean_diff"] = statistics.fmean(diffs)
    if len(diffs) < 2:
        return out
    out["std_diff"] = statistics.stdev(diffs)
    # Accuracies are counts over one test split, so two seeds often differ by the same count: rounding leaves their
    # differences unequal in the last bits, and ttest_rel would turn that into t ~ 1e13 and p ~ 1e-14.
    if out["std_diff"] <= CONSTANT_TOLERANCE * max(1.0, *(abs(v) for v in (*a, *b))):
        out["std_diff"] = 0.0
        return out  # ttest_rel divides by zero here; a constant difference has no meaningful p
    from scipy.stats import ttest_rel

    res = ttest_rel(a, b)
    out["t"], out["p_value"] = _clean(float(res.statistic)), _clean(float(res.pvalue))
    return out


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (family-wise error control) over the given tests, in their order; a test
    without a p-value (None) is left out of the family and stays None."""
    ranked = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m, out, running = len(ranked), [None] * len(p_values), 0.0
    adjusted: list[float | None] = list(out)
    for k, (p, i) in enumerate(ranked):
        running = max(running, min(1.0, (m - k) * p))
        adjusted[i] = running
    return adjusted


def spearman(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Spearman rank correlation (scipy.stats.spearmanr): rho, p_value, n; None when undefined."""
    n = len(x)
    if n < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return {"rho": None, "p_value": None, "n": n}
    from scipy.stats import spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = spearmanr(x, y)
    return {"rho": _clean(float(res.statistic)), "p_value": _clean(float(res.pvalue)), "n": n}


BOOTSTRAP_RESAMPLES = 2000


def bootstrap_spearman_ci(
    x: Sequence[float], y: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95,
    seed: int = 0
) -> tuple[float, float] | None:
    """Percentile bootstrap confidence interval of Spearman's rho: (low, high), or None when rho is undefined.

    Pairs (x_i, y_i) are resampled with replacement `resamples` times from a generator seeded with `seed`, so
    the interval is the same on every call; resamples in which x or y is constant (rho undefined) are dropped.
    """
    if spearman(x, y)["rho"] is None:
        return None
    import numpy as np
    from scipy.stats import rankdata

    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(xs), size=(resamples, len(xs)))
    rx, ry = rankdata(xs[idx], axis=1), rankdata(ys[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    norm = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    ok = norm > 0
    rhos = (rx * ry).sum(axis=1)[ok] / norm[ok]
    if not rhos.size:
        return None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(rhos, [tail, 100 - tail])
    return float(np.clip(low, -1.0, 1.0)), float(np.clip(high, -1.0, 1.0))
