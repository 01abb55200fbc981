"""Geometry shared by the plots: the Pareto front, dodging coinciding points, the compression scale and ticks."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from rgp_bench.report.plots.canvas import Canvas

Transform = Callable[[Any], Any]

# Tick candidates, most wanted first: a tick is kept when it is far enough from those kept before it.
REDUCTION_TICKS = (50, 75, 90, 95, 98, 99, 0, 99.5, 99.8, 99.9, 25, 60, 70, 80, 85, 97, 10, 20, 30, 40, 99.95)
# Compression ticks: powers of two, or (over a narrow range) the finer list.
POWERS_OF_TWO = tuple(2.0**k for k in range(21))
COMPRESSION_TICKS = (2, 4, 1.5, 3, 8, 1.25, 1.75, 2.5, 6, 1.1, 5, 10, 12, 16, 24, 32, 48, 64)
SPEEDUP_TICKS = (1, 2, 4, 8, 16, 32, 1.5, 3, 6, 12, 24, 0.5, 0.25, 0.75, 1.25, 1.75, 2.5, 64)
DODGE = 0.012  # horizontal offset between coinciding points, as a fraction of the axis span


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points that no other point matches or beats on both x and y (higher is better), by x."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front, best_y = [], -math.inf
    for i in order:
        if points[i][1] > best_y:
            front.append(i)
            best_y = points[i][1]
    return sorted(front, key=lambda i: points[i][0])


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
