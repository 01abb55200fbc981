"""Geometry shared by the plots: the Pareto front, dodging coinciding points, the compression scale and ticks."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from rgp_bench.report.plots.canvas import Canvas

Transform = Callable[[Any], Any]

DODGE = 0.012  # horizontal offset between coinciding points, as a fraction of the axis span


# Pareto ties: accuracies closer than the larger seed std of the two groups (and at least ACCURACY_TIE points) are
# equal; so are x values within a relative X_TIE (compression) or SPEEDUP_TIE (measured speed-up).
ACCURACY_TIE = 0.1
X_TIE = 0.01
SPEEDUP_TIE = 0.05


def pareto_front(points: Sequence[tuple[float, float]], x_tol: float = 0.0,
                 y_tol: Sequence[float] | float = 0.0) -> list[int]:
    """Indices of the points that no other point dominates (higher is better on both x and y), sorted by x.

    Point j dominates i when it is at least as good on both axes up to the tolerances and better by more than the
    tolerance on one: x_j >= x_i - x_tol, y_j >= y_i - t and (x_j > x_i + x_tol or y_j > y_i + t), with t the
    larger of the two points' `y_tol` (one value for all, or one per point). Differences within the tolerances are
    ties, so noise never decides the front; with zero tolerances this is the ordinary Pareto front.
    """
    tol = [float(y_tol)] * len(points) if isinstance(y_tol, int | float) else [float(t) for t in y_tol]

    def dominates(j: int, i: int) -> bool:
        (xj, yj), (xi, yi), t = points[j], points[i], max(tol[i], tol[j])
        return xj >= xi - x_tol and yj >= yi - t and (xj > xi + x_tol or yj > yi + t)

    front = [i for i in range(len(points)) if not any(dominates(j, i) for j in range(len(points)) if j != i)]
    return sorted(front, key=lambda i: (points[i][0], points[i][1]))


def dodge(xs: Sequence[Sequence[float]], width: float) -> list[list[float]]:
    """Spread points of different series that share an x: series k of m at one x moves by (k - (m-1)/2) * width.

    `xs[s]` are the x positions of series s (in the axis' own linear units, e.g. log compression); points
    closer than width/2 count as the same x. Returns the shifted positions, same shape as `xs`.
    """
    flat = sorted((x, s, i) for s, row in enumerate(xs) for i, x in enumerate(row))
    out = [list(row) for row in xs]
    cluster: list[tuple[float, int, int]] = []
    for item in [*flat, (math.inf, -1, -1)]:
        if cluster and item[0] - cluster[-1][0] > width / 2:
            members = sorted({s for _, s, _ in cluster})
            for x, s, i in cluster:
                out[s][i] = x + (members.index(s) - (len(members) - 1) / 2) * width
            cluster = []
        cluster.append(item)
    return out


def log_compression(x: Any) -> Any:
    """Reduction in % -> log2 of the compression 1 / (1 - reduction)."""
    return -np.log2(np.clip(1 - np.asarray(x, dtype=float) / 100, 1e-9, None))


def from_log_compression(u: Any) -> Any:
    return 100 * (1 - np.exp2(-np.asarray(u, dtype=float)))


def compression(x: Any) -> Any:
    """Reduction in % -> compression (dense ÷ remaining)."""
    return 1 / np.clip(1 - np.asarray(x, dtype=float) / 100, 1e-9, None)


def from_compression(c: Any) -> Any:
    return 100 * (1 - 1 / np.clip(np.asarray(c, dtype=float), 1e-9, None))


def log2_ticks(lo: float, hi: float) -> list[float]:
    """Evenly spaced ticks on a log2 axis spanning [lo, hi] (log2 units): powers of two (1×, 2×, 4×, ...) when 3 to
    8 of them fall in the range, else every second power (wide ranges) or powers of 2^(1/2), 2^(1/4) (narrow ones).
    """
    for step in (1.0, 2.0, 0.5, 4.0, 0.25):
        ks = range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1)
        if 3 <= len(ks) <= 8:
            return [2.0 ** (k * step) for k in ks]
    return [2.0**k for k in range(math.ceil(lo), math.floor(hi) + 1)] or [2.0**lo, 2.0**hi]


def times(v: float) -> str:
    """A factor as a tick label: '2×', '1.41×'."""
    return f"{v:.3g}×"


def spaced(candidates: Sequence[float], fwd: Transform, lo: float, hi: float, gap: float) -> list[float]:
    """Ticks: the candidates inside [lo, hi] (axis units), in order of preference, each kept when it is at least
    `gap` from every one kept before it; sorted."""
    kept: list[float] = []
    for c in candidates:
        u = float(fwd(c))
        if lo <= u <= hi and all(abs(u - float(fwd(k))) >= gap for k in kept):
            kept.append(c)
    return sorted(kept)


def set_x_axis(c: Canvas, xs: Sequence[float], fwd: Transform, inv: Transform, ticks: Sequence[float],
               fmt: Callable[[float], str]) -> tuple[float, float]:
    """Limits (padded, in the axis' units) and ticks spread at least a tenth of the span apart."""
    us = [float(fwd(x)) for x in xs]
    lo, hi = min(us), max(us)
    pad = max(0.08 * (hi - lo), 0.25)
    lo, hi = lo - pad, hi + pad
    c.ax.set_xlim(float(inv(lo)), float(inv(hi)))
    c.ax.xaxis.set_major_locator(FixedLocator(spaced(ticks, fwd, lo, hi, (hi - lo) / 10)))
    c.ax.xaxis.set_minor_locator(NullLocator())
    c.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
    return lo, hi
