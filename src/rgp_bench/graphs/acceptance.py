"""Acceptance rules: which scored swaps the search keeps.

Scores are distance sums ``S`` over ordered pairs (the ASPL times ``n (n - 1)``). Per batch a rule draws one
*threshold* per candidate before scoring, gives the scorer a *limit* per candidate (a candidate above it cannot be
accepted, so its BFS may stop early), and then says which scored candidates it accepts and whether the walk ends.

``Greedy``
    Hill climbing: a move is acceptable if the distance sum does not increase (equal moves drift along plateaus).
``Anneal``
    Hill climbing for the first 10 % of the budget, then Metropolis acceptance ``ΔS <= -T log U`` with the start
    temperature calibrated from the median uphill change of random moves at that point, falling geometrically
    over the rest of the budget.
``ReferenceCall``
    One call of the authors' bounded random walk (their ``graph/optimizer.py`` + ``Adjacency/Generator.py`` at
    commit 20a9de9): ``P0`` (the ASPL at the start of the call) is fixed, a move is undone if ``P > P0`` or
    ``P0 - P > 0.2``, and the call returns as soon as ``0.05 < P0 - P < 0.2``. :func:`reference_calls` is their
    number of calls.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .swaps import SwapState

__all__ = ["REFERENCE_SPLITS", "AcceptanceRule", "Anneal", "Greedy", "Progress", "ReferenceCall", "reference_calls"]

# Authors' reference walk: bounds on the per-call ASPL decrease (Generator.py overrides args.py's 0.02/0.01), and
# the number of trajectories their calls are split into.
REFERENCE_UP, REFERENCE_DOWN, REFERENCE_SPLITS = 0.2, 0.05, 6

# Simulated annealing, in units of the distance sum over ordered pairs (a move changes it by an even amount):
# plain hill climbing for the first ANNEAL_GREEDY_FRAC of the budget (reaches the bound outright when it is
# attainable, and brings the graph near a local optimum), then a calibration batch measures the median uphill
# change there, and the temperature falls geometrically from ANNEAL_T0_SCALE times that median to ANNEAL_T1.
ANNEAL_GREEDY_FRAC, ANNEAL_T0_SCALE, ANNEAL_T1 = 0.1, 0.06, 0.3


class Progress(Protocol):
    """How far the search has got: drives the anneal schedule (see :class:`rgp_bench.graphs.search.SwapBudget`)."""

    def fraction(self) -> float: ...


class AcceptanceRule(Protocol):
    """What the search loop asks of a rule, once per batch (see the module docs)."""

    def thresholds(self, state: SwapState, rng: np.random.Generator, progress: Progress, size: int) -> np.ndarray:
        """One threshold per candidate of the next batch, drawn before scoring."""
        ...

    def limits(self, state: SwapState, thresholds: np.ndarray) -> np.ndarray:
        """Per candidate of a batch of alternatives to the current graph: the highest acceptable distance sum."""
        ...

    def chain_limits(self, state: SwapState, thresholds: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Per valid step of a chain (indices ``valid``): a distance sum above which the step cannot be accepted."""
        ...

    def accepts(self, new: np.ndarray, prev: float, thresholds: np.ndarray) -> np.ndarray:
        """Whether a move from distance sum ``prev`` to ``new`` is accepted (elementwise)."""
        ...

    def ends(self, new: float) -> bool:
        """Whether the walk ends after accepting a move to distance sum ``new``."""
        ...


class _Uphill:
    """Greedy and anneal: accept ``S_new - S_prev <= threshold``; the walk never ends by itself."""

    def limit_sums(self, state: SwapState, rng: np.random.Generator, progress: Progress, size: int) -> np.ndarray:
        raise NotImplementedError

    def thresholds(self, state: SwapState, rng: np.random.Generator, progress: Progress, size: int) -> np.ndarray:
        return self.limit_sums(state, rng, progress, size) - state.total

    def limits(self, state: SwapState, thresholds: np.ndarray) -> np.ndarray:
        return state.total + thresholds

    def chain_limits(self, state: SwapState, thresholds: np.ndarray, valid: np.ndarray) -> np.ndarray:
        # along an all-accepted prefix S_i <= S_0 + sum of thresholds so far: a valid limit for early rejection
        return state.total + np.cumsum(np.maximum(thresholds, 0.0))[valid]

    def accepts(self, new: np.ndarray, prev: float, thresholds: np.ndarray) -> np.ndarray:
        return new - prev <= thresholds

    def ends(self, new: float) -> bool:
        return False


class Greedy(_Uphill):
    """Hill climbing: a move is acceptable if the distance sum does not increase."""

    def limit_sums(self, state: SwapState, rng: np.random.Generator, progress: Progress, size: int) -> np.ndarray:
        return np.full(size, float(state.total))


class Anneal(_Uphill):
    """Hill climbing, then Metropolis acceptance ``delta <= -T log U`` on a calibrated geometric schedule."""

    def __init__(self) -> None:
        self.t0: float | None = None
        self.t1 = ANNEAL_T1

    def temperature(self, fraction: float) -> float:
        """The temperature at ``fraction`` of the budget (after calibration)."""
        assert self.t0 is not None, "calibrate() first"
        f = min(1.0, max(0.0, (fraction - ANNEAL_GREEDY_FRAC) / (1.0 - ANNEAL_GREEDY_FRAC)))
        return self.t0 * (self.t1 / self.t0) ** f

    def calibrate(self, state: SwapState, rng: np.random.Generator) -> None:
        """Set T0 from the median uphill change of random moves."""
        swaps, valid = state.propose(rng, state.max_batch)
        idx = np.flatnonzero(valid)
        totals, _ = state.score(swaps.take(idx), np.full(idx.size, np.inf))
        delta = totals - state.total
        uphill = delta[np.isfinite(delta) & (delta > 0)]
        median = float(np.median(uphill)) if uphill.size else 0.0
        self.t0 = max(self.t1, ANNEAL_T0_SCALE * median)

    def limit_sums(self, state: SwapState, rng: np.random.Generator, progress: Progress, size: int) -> np.ndarray:
        fraction = progress.fraction()
        if fraction < ANNEAL_GREEDY_FRAC:
            return np.full(size, float(state.total))
        if self.t0 is None:
            self.calibrate(state, rng)
        # thresholds are drawn before scoring so the BFS can drop hopeless candidates early
        return state.total - self.temperature(fraction) * np.log1p(-rng.random(size))


class ReferenceCall:
    """The authors' rule within one call: keep if ``0 <= P0 - P <= up``; the call returns if ``down < P0-P < up``.

    ASPLs are compared as floats, as in the authors' code.
    """

    def __init__(self, start_total: int, pairs: int) -> None:
        self.start_total, self.pairs, self.p0 = start_total, pairs, start_total / pairs

    def thresholds(self, state: SwapState, rng: np.random.Generator, progress: Progress, size: int) -> np.ndarray:
        return np.zeros(size)

    def limits(self, state: SwapState, thresholds: np.ndarray) -> np.ndarray:
        return np.full(thresholds.size, float(self.start_total))

    def chain_limits(self, state: SwapState, thresholds: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return np.full(valid.size, float(self.start_total))

    def accepts(self, new: np.ndarray, prev: float, thresholds: np.ndarray) -> np.ndarray:
        drop = self.p0 - np.asarray(new) / self.pairs
        return np.isfinite(new) & (drop >= 0) & (drop <= REFERENCE_UP)

    def ends(self, new: float) -> bool:
        return REFERENCE_DOWN < self.p0 - new / self.pairs < REFERENCE_UP


def reference_calls(nodes: int, degree: int) -> int:
    """Number of PathOptimizer calls in the authors' Generator.py (``iter_num``).

    120 for every k at n = 16; otherwise (their n = 64 schedule) 270 for k <= 4, 30 fewer per +2, at least 120.
    """
    if nodes == 16:
        return 120
    return max(120, 270 - 15 * (degree - 4)) if degree >= 4 else 270
