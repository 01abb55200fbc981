"""Exact all-pairs ASPL, diameter and connectivity with a bit-parallel BFS on numpy bitsets.

``R[v]`` is the set of nodes within distance ``d`` of ``v``, stored as ``ceil(n/64)`` ``uint64`` words. One level
is ``R[v] <- R[v] | OR_{u in N(v)} R[u]``: ``d_max`` vectorised gathers over the neighbour table. The number of
ordered pairs at distance greater than ``d`` is ``n² - popcount(R_d)``, so the sum of all distances is the sum of
that count over the levels, the diameter is the number of levels until ``R`` is full, and a level that adds no
bit before ``R`` is full means the graph is disconnected (the "MATRIX" algorithm of Mori / Nakao et al.).
The same code evaluates a batch of graphs at once (the optimiser scores many candidate swaps per call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .construct import neighbour_table
from .errors import GraphError

__all__ = ["PathStats", "aspl", "batch_distance_totals", "identity_bitsets", "path_stats"]

_ONE = np.uint64(1)


def identity_bitsets(nodes: int, batch: int = 1) -> np.ndarray:
    """``(batch * nodes, ceil(nodes/64))`` uint64 bitsets with bit ``v`` set in row ``v`` of every block."""
    words = max(1, (nodes + 63) // 64)
    eye = np.zeros((nodes, words), dtype=np.uint64)
    idx = np.arange(nodes)
    eye[idx, idx // 64] = _ONE << (idx % 64).astype(np.uint64)
    return np.tile(eye, (batch, 1))


def batch_distance_totals(
    tables: np.ndarray,
    start: tuple[np.ndarray, int, int] | None = None,
    limit: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance sums of a batch of graphs on the same ``n`` nodes, scored together.

    ``tables`` has shape ``(d, batch, n)``: ``tables[s, b, v]`` is the ``s``-th neighbour of node ``v`` in graph
    ``b`` (rows of lower degree padded with ``v`` itself).

    ``start`` optionally resumes the BFS at a later level: ``(bitsets, level, base)`` with ``bitsets`` the
    ``(batch * n, words)`` reach sets at distance ``<= level`` and ``base`` the distance-sum contribution of the
    levels before ``level`` (``n² - n`` for ``level = 1``). It is not modified.

    ``limit`` (one value per graph) enables early rejection: the partial sum after each level is a lower bound on
    the final sum, so a graph whose partial sum exceeds its limit is dropped (its total is reported as ``inf``).
    Dropped and finished graphs are compacted out of the working arrays, so late levels only cost what survives.

    Returns ``(totals, diameters)``: float64 sums of ``d(u, v)`` over ordered pairs (exact integers; ``inf`` if the
    graph is disconnected or was dropped) and int64 diameters (``-1`` where the total is ``inf``).
    """
    d, batch, n = tables.shape
    if batch == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    full = n * n
    if start is None:
        reach, level, base = identity_bitsets(n, batch), 0, 0
    else:
        reach, level, base = start
    words = reach.shape[1]
    totals_out = np.full(batch, np.inf)
    diam_out = np.full(batch, -1, dtype=np.int64)
    ids = np.arange(batch)
    pop = np.bitwise_count(reach).reshape(batch, -1).sum(1, dtype=np.int64)
    totals = base + (full - pop)
    dead = np.zeros(batch, dtype=bool)  # disconnected: a level added nothing before the sets were full
    offsets = np.arange(batch, dtype=np.intp)[:, None] * n
    tmp = np.empty_like(reach)
    flat = None
    while ids.size:
        finished = pop == full
        if finished.any():
            totals_out[ids[finished]] = totals[finished]
            diam_out[ids[finished]] = level
        keep = ~finished & ~dead
        if limit is not None:
            keep &= totals <= limit[ids]
        if not keep.all():
            ids, pop, totals = ids[keep], pop[keep], totals[keep]
            tables = tables[:, keep]
            reach = reach.reshape(-1, n, words)[keep].reshape(-1, words)
            tmp = tmp[: reach.shape[0]]
            flat = None
            if not ids.size:
                break
        m = ids.size
        if flat is None:  # global row indices b * n + u into the stacked bitsets
            flat = (tables + offsets[:m]).reshape(d, m * n)
        new = reach.copy()
        for row in flat:
            reach.take(row, axis=0, out=tmp)
            new |= tmp
        newpop = np.bitwise_count(new).reshape(m, -1).sum(1, dtype=np.int64)
        dead = newpop == pop
        totals += full - newpop
        level += 1
        reach, pop = new, newpop
    return totals_out, diam_out


@dataclass(frozen=True)
class PathStats:
    """All-pairs shortest-path summary of one graph."""

    nodes: int
    total: int  # sum of d(u, v) over ordered pairs u != v (only meaningful when connected)
    diameter: int  # -1 when disconnected
    connected: bool

    @property
    def aspl(self) -> float:
        """Average shortest path length over ordered pairs ``u != v``; ``inf`` when disconnected."""
        if not self.connected:
            return float("inf")
        if self.nodes < 2:
            return 0.0
        return self.total / (self.nodes * (self.nodes - 1))


def path_stats(adjacency: np.ndarray) -> PathStats:
    """Exact distance sum, diameter and connectivity of any simple undirected graph (need not be regular)."""
    a = np.asarray(adjacency)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise GraphError(f"adjacency must be a square matrix, got shape {a.shape}")
    n = a.shape[0]
    if n == 0:
        raise GraphError("graph has no nodes: nodes must be >= 1")
    table = np.ascontiguousarray(neighbour_table(a).T)[:, None, :]
    totals, diameters = batch_distance_totals(table)
    ok = bool(np.isfinite(totals[0]))
    return PathStats(n, int(totals[0]) if ok else -1, int(diameters[0]), ok)


def aspl(adjacency: np.ndarray) -> float:
    """Exact average shortest path length (as ``networkx.average_shortest_path_length``).

    Raises :class:`GraphError` if the graph is disconnected.
    """
    stats = path_stats(adjacency)
    if not stats.connected:
        raise GraphError("graph is disconnected: the ASPL is only defined for connected graphs")
    return stats.aspl
