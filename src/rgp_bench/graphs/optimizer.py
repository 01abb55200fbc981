"""ASPL-minimising degree-preserving double-edge swaps: the public entry point, :func:`optimize`.

Three rooms: :mod:`.swaps` holds the graph being changed, its candidate swaps and their exact evaluation;
:mod:`.acceptance` the rules that say which scored swaps are kept; :mod:`.search` the one search loop every
strategy uses and its budget (:class:`~.search.SwapBudget`).

Strategies:

``greedy``
    Hill climbing: accept a move if the ASPL does not increase (equal moves drift along plateaus).
``anneal`` (default)
    Hill climbing for the first 10 % of the budget, then simulated annealing on the distance sum: the start
    temperature is calibrated from the median uphill change of random moves at that point and falls geometrically
    over the rest of the budget; returns the best graph seen.
``reference``
    The authors' bounded random walk (their ``graph/optimizer.py`` + ``Adjacency/Generator.py`` at commit 20a9de9):
    calls of at most n(n-1) trials each; within a call ``P0`` (the ASPL at the start of the call) is fixed, a move
    is undone if ``P > P0`` or ``P0 - P > 0.2``, and the call returns as soon as ``0.05 < P0 - P < 0.2``;
    6 trajectories from the start graph of ``iter_num/6`` calls each, and the lowest-ASPL snapshot is returned.
``none``
    No swaps; the start graph is returned unchanged.

Every strategy stops early once the distance sum reaches the Cerf/Moore lower bound (the graph is then optimal);
``reference`` checks it between calls, as the authors' schedule does.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .acceptance import Anneal, Greedy, reference_calls
from .bounds import lower_bound_total
from .construct import validate_regular
from .errors import GraphError, is_int
from .search import BUDGET, LOWER_BOUND, Graph, Search, SwapBudget, run_reference, run_uphill
from .swaps import SwapState, max_batch

__all__ = [
    "ALGORITHM_VERSION",
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "OptimizeResult",
    "default_iters",
    "optimize",
    "reference_calls",
]

# Bump whenever a change alters the graph produced for the same (n, k, strategy, start, seed, budget):
# the disk cache keys on it.
ALGORITHM_VERSION = "1"

STRATEGIES: tuple[str, ...] = ("greedy", "anneal", "reference", "none")
DEFAULT_STRATEGY = "anneal"


@dataclass
class OptimizeResult:
    """Outcome of :func:`optimize`."""

    adjacency: np.ndarray
    total: int
    diameter: int
    start_total: int
    lower_bound_total: int
    swaps_tried: int = 0
    swaps_accepted: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    stop_reason: str = BUDGET

    @property
    def nodes(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def aspl(self) -> float:
        return self.total / (self.nodes * (self.nodes - 1))

    @property
    def start_aspl(self) -> float:
        return self.start_total / (self.nodes * (self.nodes - 1))


def default_iters(nodes: int, degree: int, strategy: str = DEFAULT_STRATEGY) -> int | None:
    """Default (reproducible) budget in swap trials.

    ``greedy``/``anneal``: ``min(15 (n k)², 2·10⁶ (64/n)²)``, at least 2 000. The first term is ~30 passes over the
    ~(n k)²/2 possible swaps, plenty for small graphs (n = 16, k = 4: 61k trials, a fraction of a second); the
    second keeps the time roughly constant as a BFS gets costlier with n (n = 64, k >= 6: 2M trials, a few
    seconds; n = 512: 31k). ``reference``: ``None``, i.e. the authors' own schedule (see
    :func:`reference_calls`), each call capped at ``n (n - 1)`` trials. ``none``: 0.
    """
    if strategy == "none":
        return 0
    if strategy == "reference":
        return None
    return int(max(2_000, min(15 * (nodes * degree) ** 2, 2_000_000 * (64 / nodes) ** 2)))


def _check_options(strategy: str, iters: int | None, seconds: float | None) -> None:
    if strategy not in STRATEGIES:
        raise GraphError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if iters is not None and (not is_int(iters) or iters < 0):
        raise GraphError(f"iters must be a non-negative integer, got {iters!r}")
    if seconds is not None and not (isinstance(seconds, (int, float)) and seconds > 0 and math.isfinite(seconds)):
        raise GraphError(f"seconds must be a positive number, got {seconds!r}")


def optimize(
    adjacency: np.ndarray,
    strategy: str = DEFAULT_STRATEGY,
    *,
    seed: int | np.random.Generator = 0,
    iters: int | None = None,
    seconds: float | None = None,
    progress: bool = False,
    callback: Callable[[np.ndarray, int], None] | None = None,
) -> OptimizeResult:
    """Lower the ASPL of a connected k-regular graph with degree-preserving double-edge swaps.

    ``iters`` caps the number of swap trials (the reproducible budget); ``seconds`` caps wall time (stops early,
    machine-dependent). With both, the anneal schedule follows ``iters`` alone, so the graph is the same as
    without the cap unless the cap stops the run. With both ``None`` the :func:`default_iters` budget is used.
    Stops early at the lower bound. ``progress`` shows a tqdm bar on stderr (only when it is a terminal).
    ``callback(adjacency, distance_sum)`` is called after every accepted swap (for tests and inspection; it
    slows the search down). The result's adjacency is a new array; the input is not modified.
    """
    _check_options(strategy, iters, seconds)
    adj = validate_regular(adjacency)
    n, k = adj.shape[0], int(adj[0].sum())
    if iters is None and seconds is None:
        iters = default_iters(n, k, strategy)

    budget = SwapBudget(iters, seconds)
    lb_total = lower_bound_total(n, k)
    state = SwapState(adj, max_batch(n))
    result = OptimizeResult(adj.copy(), state.total, state.diameter, state.total, lb_total)
    if strategy == "none" or state.total <= lb_total or iters == 0:
        result.stop_reason = LOWER_BOUND if state.total <= lb_total else BUDGET
        result.seconds = budget.elapsed()
        return result

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    search = Search(rng, budget, lb_total, callback, _progress_bar(strategy, n, k, iters) if progress else None)
    try:
        found, result.stop_reason = _run(strategy, search, state)
    finally:
        if search.bar is not None:
            search.bar.close()
    result.adjacency, result.total, result.diameter = found
    result.swaps_tried, result.swaps_accepted, result.evaluations = budget.tried, budget.accepted, budget.evaluations
    result.seconds = budget.elapsed()
    return result


def _run(strategy: str, search: Search, state: SwapState) -> tuple[Graph, str]:
    if strategy == "reference":
        return run_reference(search, state)
    return run_uphill(search, state, Greedy() if strategy == "greedy" else Anneal())


def _progress_bar(strategy: str, n: int, k: int, iters: int | None) -> object:
    from tqdm.auto import tqdm  # deferred: only progress bars need it

    return tqdm(total=iters, desc=f"{strategy} n={n} k={k}", unit="swap", disable=None, file=sys.stderr, leave=False)
