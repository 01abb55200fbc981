"""The search loop every strategy uses, its budget, and the two ways strategies drive it.

:func:`walk` runs batches of swaps on a :class:`~.swaps.SwapState` under an acceptance rule (:mod:`.acceptance`)
until the budget is spent, the graph reaches the lower bound, the rule ends the walk or the walk's own trial cap is
reached. Low acceptance: ``B`` alternative moves are drawn from the current graph and scored together; the first
acceptable one is applied and the later ones are dropped (they count as not tried), so a batch is exactly a run of
rejected sequential trials followed by one acceptance. High acceptance: a *chain* of moves, each applied to the
graph left by the previous, is scored together and its accepted prefix is kept. ``B`` and the mode follow the
recent acceptance rate, computed from counts only, so results depend on the seed and the iteration budget, not on
timing. A ``seconds`` budget stops the run early and is therefore machine-dependent.

``greedy`` and ``anneal`` are one walk that keeps the best graph seen (:func:`run_uphill`); ``reference`` is the
authors' schedule of short walks (:func:`run_reference`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .acceptance import REFERENCE_SPLITS, AcceptanceRule, ReferenceCall, reference_calls
from .aspl import batch_distance_totals
from .swaps import Move, SwapState

__all__ = ["Graph", "Search", "SwapBudget", "run_reference", "run_uphill", "walk"]

LOWER_BOUND, BUDGET, ENDED = "lower_bound", "budget", "ended"


def _now() -> float:
    return time.perf_counter()


@dataclass
class SwapBudget:
    """The limits of one search (swap trials and/or wall seconds) and what it has spent.

    ``iterations`` is the reproducible budget; ``seconds`` caps wall time (machine-dependent). ``evaluations``
    counts the candidate graphs scored (a cost, not a limit).
    """

    iterations: int | None
    seconds: float | None
    started: float = field(default_factory=lambda: _now())
    tried: int = 0
    accepted: int = 0
    evaluations: int = 0

    def exhausted(self) -> bool:
        """Whether the trials or the seconds are spent."""
        if self.iterations is not None and self.tried >= self.iterations:
            return True
        return self.seconds is not None and self.elapsed() >= self.seconds

    def fraction(self) -> float:
        """Share of the budget used, which drives the anneal schedule.

        With ``iterations`` it is the iteration share only, so the graph does not depend on the machine's speed (a
        ``seconds`` cap then only stops the run early); the time share is used only for a pure time budget.
        """
        if self.iterations:
            return self.tried / self.iterations
        if self.seconds:
            return self.elapsed() / self.seconds
        return 0.0

    def room(self, size: int) -> int:
        """``size`` trials, or fewer if fewer iterations are left."""
        return size if self.iterations is None else min(size, self.iterations - self.tried)

    def elapsed(self) -> float:
        return _now() - self.started


class BatchSizer:
    """Batch size and mode from an exponential moving average of the acceptance rate (deterministic).

    Low acceptance: score ``c / rate`` alternative moves from the current graph and take the first acceptable one
    (proposals after it are wasted; c ~ 1 balances that against numpy's per-call overhead). High acceptance:
    score a *chain* of moves applied one after another and keep its accepted prefix.
    """

    spread = 1.2
    chain_above = 0.5

    def __init__(self) -> None:
        self.rate = 0.5

    def chain(self) -> bool:
        return self.rate > self.chain_above

    def size(self, state: SwapState) -> int:
        if self.chain():
            return int(min(state.max_batch, max(4, round(2.0 / max(1.0 - self.rate, 1e-6)))))
        return int(min(state.max_proposals(), max(4, round(self.spread / max(self.rate, 1e-6)))))

    def update(self, tried: int, accepted: int) -> None:
        self.rate = 0.8 * self.rate + 0.2 * (accepted / max(tried, 1))


class Graph(NamedTuple):
    """A snapshot of a graph with its distance sum and diameter."""

    adjacency: np.ndarray
    total: int
    diameter: int

    @classmethod
    def of(cls, state: SwapState) -> Graph:
        return cls(state.adjacency(), state.total, state.diameter)


@dataclass
class Search:
    """What one search shares across its walks: randomness, budget, batch sizing, bound and observers.

    ``callback(adjacency, distance_sum)`` is called after every accepted swap; ``bar`` is a tqdm-like progress bar.
    """

    rng: np.random.Generator
    budget: SwapBudget
    lower_bound_total: int
    callback: Callable[[np.ndarray, int], None] | None = None
    bar: Any = None
    sizer: BatchSizer = field(default_factory=BatchSizer)


class Accepted(NamedTuple):
    """An accepted move with the distance sum and diameter of the graph it leads to."""

    move: Move
    total: int
    diameter: int


@dataclass
class Batch:
    """One batch's outcome: trials used, accepted moves in order, and whether the rule ended the walk."""

    tried: int
    accepted: list[Accepted]
    ended: bool = False


class BestSeen:
    """The lowest-distance-sum graph of a walk, copied only when the walk leaves it (ties go to the latest)."""

    def __init__(self, state: SwapState) -> None:
        self.total = state.total
        self.saved: Graph | None = None

    def leaving(self, state: SwapState, new_total: int) -> None:
        """Before a move to ``new_total``: keep a copy if it leaves the best graph seen."""
        if new_total > self.total and state.total == self.total:
            self.saved = Graph.of(state)

    def arrived(self, new_total: int) -> bool:
        """After a move to ``new_total``; whether it is a new best."""
        improved = new_total < self.total
        if improved:
            self.total = new_total
        if new_total <= self.total:
            self.saved = None
        return improved

    def graph(self, state: SwapState) -> Graph:
        return Graph.of(state) if self.saved is None else Graph(self.saved.adjacency, self.total, self.saved.diameter)


def one_batch(state: SwapState, rule: AcceptanceRule, search: Search, size: int) -> Batch:
    """Propose, score and accept one batch; applying the accepted moves in turn reproduces sequential trials."""
    thresholds = rule.thresholds(state, search.rng, search.budget, size)
    if not search.sizer.chain():
        return _alternatives(state, rule, search, size, thresholds)
    moves, valid, tables = state.propose_chain(search.rng, size)
    idx = np.flatnonzero(valid)
    totals, diams = batch_distance_totals(tables[:, idx], limit=rule.chain_limits(state, thresholds, idx))
    search.budget.evaluations += idx.size
    accepted: list[Accepted] = []
    prev = float(state.total)
    for pos, i in enumerate(idx.tolist()):
        new = float(totals[pos])
        if not rule.accepts(np.array([new]), prev, thresholds[i : i + 1])[0]:
            return Batch(i + 1, accepted)
        accepted.append(Accepted(Move(*(int(t) for t in moves[i])), int(new), int(diams[pos])))
        prev = new
        if rule.ends(new):
            return Batch(i + 1, accepted, ended=True)
    return Batch(size, accepted)


def _alternatives(state: SwapState, rule: AcceptanceRule, search: Search, size: int,
                  thresholds: np.ndarray) -> Batch:
    """``size`` alternative moves from the current graph; the first acceptable one is taken."""
    swaps, valid = state.propose(search.rng, size)
    cand = np.full(size, np.inf)
    diam = np.zeros(size, dtype=np.int64)
    idx = np.flatnonzero(valid)
    cand[idx], diam[idx] = state.score(swaps.take(idx), rule.limits(state, thresholds)[idx])
    search.budget.evaluations += idx.size
    hits = np.flatnonzero(rule.accepts(cand, state.total, thresholds))
    if not hits.size:
        return Batch(size, [])
    h = int(hits[0])
    return Batch(h + 1, [Accepted(swaps.move(h), int(cand[h]), int(diam[h]))], rule.ends(float(cand[h])))


def walk(search: Search, state: SwapState, rule: AcceptanceRule, *, cap: int | None = None,
         stop_at_bound: bool = True, best: BestSeen | None = None) -> str:
    """Run batches until one of: the rule ends the walk or ``cap`` trials are used (``"ended"``), the graph is at
    the lower bound (``"lower_bound"``, only with ``stop_at_bound``), or the budget is spent (``"budget"``).

    ``best`` follows the best graph seen. Returns the reason the walk stopped.
    """
    walked, ended = 0, False
    budget = search.budget
    while True:
        if ended or (cap is not None and walked >= cap):
            return ENDED
        if stop_at_bound and state.total <= search.lower_bound_total:
            return LOWER_BOUND
        if budget.exhausted():
            return BUDGET
        size = budget.room(search.sizer.size(state))
        if cap is not None:
            size = min(size, cap - walked)
        batch = one_batch(state, rule, search, size)
        walked += batch.tried
        budget.tried += batch.tried
        search.sizer.update(batch.tried, len(batch.accepted))
        if search.bar is not None:
            search.bar.update(batch.tried)
        for step in batch.accepted:
            if best is not None:
                best.leaving(state, step.total)
            state.apply(step.move, step.total, step.diameter)
            budget.accepted += 1
            if search.callback is not None:
                search.callback(state.adjacency(), state.total)
            if best is not None and best.arrived(step.total) and search.bar is not None:
                search.bar.set_postfix(aspl=f"{best.total / (state.n * (state.n - 1)):.4f}", refresh=False)
            if stop_at_bound and step.total <= search.lower_bound_total:
                break
        ended = batch.ended


def run_uphill(search: Search, state: SwapState, rule: AcceptanceRule) -> tuple[Graph, str]:
    """Greedy or anneal: one walk over the whole budget; returns the best graph seen and why the walk stopped."""
    best = BestSeen(state)
    stop = walk(search, state, rule, best=best)
    return best.graph(state), stop


def run_reference(search: Search, state: SwapState) -> tuple[Graph, str]:
    """The authors' bounded random walk: REFERENCE_SPLITS trajectories from the start graph, each of
    ``reference_calls / REFERENCE_SPLITS`` calls of at most ``n (n - 1)`` trials; the lowest-ASPL snapshot (taken
    before every call and after each trajectory, as they do) is returned, with the reason the search stopped."""
    pairs = state.n * (state.n - 1)
    start = state.adjacency()
    calls_per_trajectory = max(1, reference_calls(state.n, state.k) // REFERENCE_SPLITS)
    best = Graph.of(state)
    stop = None
    for trajectory in range(REFERENCE_SPLITS):
        if trajectory:
            state = SwapState(start, state.max_batch)
        for _call in range(calls_per_trajectory):
            if state.total < best.total:
                best = Graph.of(state)
            if state.total <= search.lower_bound_total:
                stop = LOWER_BOUND
            elif search.budget.exhausted():
                stop = BUDGET
            if stop:
                break
            walk(search, state, ReferenceCall(state.total, pairs), cap=pairs, stop_at_bound=False)
        if state.total < best.total:
            best = Graph.of(state)
        if stop:
            break
    return best, stop or BUDGET
