"""``build_graph``: construct, optimise, measure and (optionally) cache a low-ASPL regular graph."""

from __future__ import annotations

import logging
import math
import os
import time
from typing import Any

import numpy as np

from . import cache
from .aspl import path_stats
from .construct import check_feasible, random_regular, ring_lattice, validate_regular
from .errors import GraphError, is_int
from .metrics import graph_metrics
from .optimizer import ALGORITHM_VERSION, DEFAULT_STRATEGY, STRATEGIES, OptimizeResult, default_iters, optimize

__all__ = ["STARTS", "build_graph"]

STARTS: tuple[str, ...] = ("random", "ring")
_log = logging.getLogger(__name__)


def _check_options(strategy: str, start: str, seed: int, iters: int | None, seconds: float | None) -> None:
    if strategy not in STRATEGIES:
        raise GraphError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if start not in STARTS:
        raise GraphError(f"unknown start {start!r}: choose one of {', '.join(STARTS)}")
    if not is_int(seed) or seed < 0:
        raise GraphError(f"seed must be a non-negative integer, got {seed!r}")
    if iters is not None and (not is_int(iters) or iters < 0):
        raise GraphError(f"iters must be a non-negative integer, got {iters!r}")
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float, np.floating))
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise GraphError(f"seconds must be a positive number, got {seconds!r}")


def build_graph(
    nodes: int,
    degree: int,
    *,
    strategy: str = DEFAULT_STRATEGY,
    start: str = "random",
    seed: int = 0,
    iters: int | None = None,
    seconds: float | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Construct a connected ``degree``-regular graph on ``nodes`` nodes, lower its ASPL, and measure it.

    ``start``: ``"random"`` (seeded random regular graph) or ``"ring"`` (ring lattice; circulant with diameter
    chords for odd k; the authors' start). ``strategy``: one of :data:`STRATEGIES`; ``"none"`` returns the start
    graph unchanged. ``iters`` (swap trials) is the reproducible budget; ``seconds`` caps wall time and makes the
    result machine-dependent. With both ``None`` the iteration budget :func:`default_iters` is used (a few seconds
    at n = 64, far less at n = 16). The same arguments always give the same graph when no ``seconds`` cap binds.

    With ``cache_dir`` the result is cached on disk under (n, k, strategy, start, seed, budget, algorithm version,
    numpy version). Caching is best-effort: an entry that cannot be written is logged as a warning and the graph is
    still returned.

    Returns ``(adjacency, info)``: an ``(n, n)`` ``uint8`` symmetric zero-diagonal matrix whose rows sum to k, and
    a JSON-serialisable dict (see the module docs for the keys).
    """
    check_feasible(nodes, degree)
    _check_options(strategy, start, seed, iters, seconds)
    nodes, degree, seed = int(nodes), int(degree), int(seed)
    seconds = None if seconds is None else float(seconds)
    budget = iters if iters is not None else (default_iters(nodes, degree, strategy) if seconds is None else None)
    budget = None if budget is None else int(budget)
    key = cache.cache_key(nodes, degree, strategy, start, seed, budget, seconds, ALGORITHM_VERSION)
    if cache_dir is not None:
        hit = cache.load(cache_dir, key)
        if hit is not None:
            adj, info = hit
            info["cache_hit"] = True
            return adj, info

    t0 = time.perf_counter()
    start_rng, opt_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    adj0 = random_regular(nodes, degree, start_rng) if start == "random" else ring_lattice(nodes, degree)
    result = optimize(adj0, strategy, seed=opt_rng, iters=budget, seconds=seconds, progress=progress)
    elapsed = time.perf_counter() - t0
    adj = validate_regular(result.adjacency, degree)
    info = _info(adj, result, {"strategy": strategy, "start": start, "seed": seed, "iters": budget,
                               "seconds_budget": seconds}, elapsed)
    if cache_dir is not None:
        try:
            cache.store(cache_dir, key, adj, info)
        except OSError as exc:
            _log.warning("graph cache: cannot write to %s (%s); the graph is not cached", cache_dir, exc)
    return adj, info


def _info(adj: np.ndarray, result: OptimizeResult, options: dict[str, Any], elapsed: float) -> dict[str, Any]:
    """The info dict of a built graph: its metrics, the options that made it and what the optimiser did."""
    stats = path_stats(adj)
    if stats.total != result.total:  # pragma: no cover - the optimiser's bookkeeping is exact
        raise RuntimeError("internal error: optimiser distance sum disagrees with a fresh evaluation")
    return {
        **graph_metrics(adj, stats),
        **options,
        "start_aspl": result.start_aspl,
        "seconds": elapsed,
        "swaps_tried": result.swaps_tried,
        "swaps_accepted": result.swaps_accepted,
        "evaluations": result.evaluations,
        "stop_reason": result.stop_reason,
        "reached_lower_bound": result.total <= result.lower_bound_total,
        "cache_hit": False,
        "algorithm_version": ALGORITHM_VERSION,
    }
