"""Swap state: the current graph, its degrees, candidate double-edge swaps and their exact evaluation.

A move picks two edge slots ``u -> v`` and ``x -> y`` uniformly (a uniform directed edge each) and rewires
``{u, v}, {x, y}`` to ``{u, y}, {x, v}`` when the four nodes are distinct and the new edges are absent, which keeps
the graph simple and k-regular. ``j`` and ``jx`` are the slots of ``v`` in ``u``'s row and of ``y`` in ``x``'s row
of the neighbour table.

When the diameter is 3, half of the proposals are aimed at a random pair at distance 3 (they link a neighbour of
one end to the other end); for such graphs the distance sum is a constant plus the number of those pairs.

Scoring is a stacked bitset BFS (:mod:`.aspl`) started from the patched radius-1 balls, that drops a candidate as
soon as its partial distance sum exceeds its limit, preceded (at diameter <= 3) by an exact O(k) count of the pairs
within distance 2 that rejects most candidates without any BFS. Every score is exact.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .aspl import batch_distance_totals, identity_bitsets
from .construct import neighbour_table

__all__ = ["Move", "SwapState", "Swaps", "max_batch"]


class Move(NamedTuple):
    """One double-edge swap ``{u, v}, {x, y} -> {u, y}, {x, v}`` in the slots of the graph it applies to."""

    u: int
    j: int
    v: int
    x: int
    jx: int
    y: int


class Swaps(NamedTuple):
    """A batch of candidate swaps, one entry per candidate (integer arrays of equal length)."""

    u: np.ndarray
    j: np.ndarray
    v: np.ndarray
    x: np.ndarray
    jx: np.ndarray
    y: np.ndarray

    def take(self, index: np.ndarray) -> Swaps:
        """The candidates at ``index``."""
        return Swaps(*(a[index] for a in self))

    def move(self, i: int) -> Move:
        """Candidate ``i`` as a :class:`Move`."""
        return Move(*(int(a[i]) for a in self))


def max_batch(nodes: int) -> int:
    """Most candidates scored by one BFS call: one bitset array stays around 256 KiB, in cache."""
    words = max(1, (nodes + 63) // 64)
    return int(max(4, min(512, 32_768 // (nodes * words))))


def flip(bits: np.ndarray, rows: np.ndarray, nodes: np.ndarray) -> None:
    """Toggle bit ``nodes[i]`` in row ``rows[i]``; (row, word) pairs must be distinct within one call."""
    nodes = np.asarray(nodes)
    bits[rows, nodes // 64] ^= np.left_shift(np.uint64(1), (nodes % 64).astype(np.uint64))


def swap_in_place(nbr: np.ndarray, adj: np.ndarray, move: Move) -> None:
    """Rewire edges (u, v), (x, y) to (u, y), (x, v) in a neighbour table and adjacency matrix."""
    u, j, v, x, jx, y = move
    pv = int(np.flatnonzero(nbr[v] == u)[0])
    py = int(np.flatnonzero(nbr[y] == x)[0])
    nbr[u, j], nbr[v, pv], nbr[x, jx], nbr[y, py] = y, x, v, u
    adj[u, v] = adj[v, u] = adj[x, y] = adj[y, x] = False
    adj[u, y] = adj[y, u] = adj[x, v] = adj[v, x] = True


class SwapState:
    """Current graph as an (n, k) neighbour table plus a boolean adjacency matrix, with batched move scoring.

    ``total`` and ``diameter`` are the current graph's distance sum over ordered pairs and its diameter.
    """

    use_filter = True  # the exact distance-2 pre-filter (switchable to test that it changes nothing)

    # Share of proposals aimed at a pair at distance 3 when the diameter is 3: for such graphs the distance sum is
    # a constant plus the number of those pairs, and a move that links a neighbour of one end to the other end
    # brings them to distance 2. Measured to lower the ASPL reached at n = 64, k = 8 and 10; neutral otherwise.
    target_fraction = 0.5

    def __init__(self, adjacency: np.ndarray, batch: int) -> None:
        self.n = n = adjacency.shape[0]
        self.nbr: np.ndarray = neighbour_table(adjacency).astype(np.intp)
        self.k = k = self.nbr.shape[1]
        self.adj: np.ndarray = adjacency.astype(bool)
        self.max_batch = batch
        # reach sets at distance <= 1 (self + neighbours); candidates start their BFS from a patched copy
        self.r1 = identity_bitsets(n)
        for s in range(k):
            flip(self.r1, np.arange(n), self.nbr[:, s])
        self.words = self.r1.shape[1]
        self._start = np.empty((batch * n, self.words), dtype=np.uint64)
        self._tables = np.empty((k, batch, n), dtype=np.intp)
        totals, diam = batch_distance_totals(np.ascontiguousarray(self.nbr.T)[:, None, :])
        self.total, self.diameter = int(totals[0]), int(diam[0])
        # radius-2 balls, their sizes and U2 (ordered pairs at distance > 2): computed lazily, dropped by apply()
        self.r2: np.ndarray | None = None
        self.r2_count = np.zeros(n, dtype=np.int64)
        self.u2 = 0

    def adjacency(self) -> np.ndarray:
        """The current graph as a ``uint8`` adjacency matrix (a new array)."""
        return self.adj.astype(np.uint8)

    def apply(self, move: Move, total: int, diameter: int) -> None:
        """Make ``move``, whose graph has distance sum ``total`` and diameter ``diameter``."""
        u, _, v, x, _, y = move
        swap_in_place(self.nbr, self.adj, move)
        rows = np.array([u, v, x, y])
        flip(self.r1, rows, np.array([v, u, y, x]))  # two calls: a row may hold both bits in one word
        flip(self.r1, rows, np.array([y, x, v, u]))
        self.r2 = None  # recomputed lazily when needed
        self.total, self.diameter = total, diameter

    def max_proposals(self) -> int:
        """Largest useful batch: the cheap distance-2 pre-filter affords bigger batches than the full BFS."""
        if self.diameter <= 3:  # (not tied to use_filter, so that switch cannot change results)
            return min(2048, 4 * self.max_batch)
        return self.max_batch

    # --- proposals ---------------------------------------------------------------------------------------------

    def propose(self, rng: np.random.Generator, size: int) -> tuple[Swaps, np.ndarray]:
        """``size`` random swaps of the current graph, and which of them are valid (keep the graph simple)."""
        n, k = self.n, self.k
        e = rng.integers(0, n * k, size=(2, size))
        u, j = np.divmod(e[0], k)
        x, jx = np.divmod(e[1], k)
        targets = int(size * self.target_fraction) if self.diameter == 3 else 0
        if targets:
            w, z = self._far_pairs(rng, targets)
            t = w.size
            u[:t] = self.nbr[w, rng.integers(0, k, t)]  # new edge {u, z}: u is a neighbour of w
            x[:t] = self.nbr[z, rng.integers(0, k, t)]  # ... replacing {x, z}
            jx[:t] = np.argmax(self.nbr[x[:t]] == z[:, None], axis=1)
        v, y = self.nbr[u, j], self.nbr[x, jx]
        valid = (u != x) & (u != y) & (v != x) & (v != y) & ~self.adj[u, y] & ~self.adj[x, v]
        return Swaps(u, j, v, x, jx, y), valid

    def propose_chain(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``size`` swaps proposed one after another, each valid one applied to the graph left by the previous.

        Returns ``(moves, valid, tables)``: ``moves[i] = (u, j, v, x, jx, y)`` in the slots of the graph current
        at step ``i``, and the neighbour tables ``(k, size, n)`` of the graph after each step. Used when most
        moves are accepted: one batched BFS then scores a whole run of consecutive acceptances.
        """
        n, k = self.n, self.k
        e = rng.integers(0, n * k, size=(2, size)).tolist()
        nbr = self.nbr.copy()
        adj = self.adj.copy()
        tables = self._tables[:, :size]
        moves = np.zeros((size, 6), dtype=np.intp)
        valid = np.zeros(size, dtype=bool)
        for i in range(size):
            u, j = divmod(e[0][i], k)
            x, jx = divmod(e[1][i], k)
            v, y = int(nbr[u, j]), int(nbr[x, jx])
            if u != x and u != y and v != x and v != y and not adj[u, y] and not adj[x, v]:
                swap_in_place(nbr, adj, Move(u, j, v, x, jx, y))
                moves[i] = (u, j, v, x, jx, y)
                valid[i] = True
            tables[:, i, :] = nbr.T
        return moves, valid, tables

    def _far_pairs(self, rng: np.random.Generator, count: int, tries: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``count`` random pairs ``(w, z)`` at distance > 2 (rejection sampling, no n² scan)."""
        r2 = self._radius2()
        far = self.n - self.r2_count
        total = far.sum()
        if total == 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        w = rng.choice(self.n, size=count, p=far / total)
        z = rng.integers(0, self.n, size=(count, tries))
        bit = (r2[w[:, None], z // 64] >> (z % 64).astype(np.uint64)) & np.uint64(1)
        hit = bit == 0
        ok = hit.any(1)
        return w[ok], z[ok, np.argmax(hit, axis=1)[ok]]

    # --- exact evaluation --------------------------------------------------------------------------------------

    def score(self, swaps: Swaps, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance sums after each swap (``inf`` if disconnected or above ``limit``) and diameters."""
        m = swaps.u.size
        totals = np.full(m, np.inf)
        diameters = np.full(m, -1, dtype=np.int64)
        if m == 0:
            return totals, diameters
        pv, py = self.reverse_slots(swaps)
        todo = np.arange(m)
        if self.use_filter and self.diameter <= 3:
            # near diameter 3 nearly all of the distance sum is fixed by distances <= 2, which a move changes
            # only around its four endpoints: an exact O(k) bound rejects most candidates before any BFS
            todo = np.flatnonzero(self.level2_bound(swaps, pv, py) <= limit)
        for lo in range(0, todo.size, self.max_batch):
            c = todo[lo : lo + self.max_batch]
            totals[c], diameters[c] = self._bfs(swaps.take(c), pv[c], py[c], limit[c])
        return totals, diameters

    def reverse_slots(self, swaps: Swaps) -> tuple[np.ndarray, np.ndarray]:
        """Slots of ``u`` in ``v``'s row and of ``x`` in ``y``'s row, per candidate."""
        pv = np.argmax(self.nbr[swaps.v] == swaps.u[:, None], axis=1)
        py = np.argmax(self.nbr[swaps.y] == swaps.x[:, None], axis=1)
        return pv, py

    def level2_bound(self, swaps: Swaps, pv: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Exact ``U0 + U1 + U2`` of each candidate (``U_d`` = ordered pairs at distance > d): a lower bound on
        its distance sum, equal to it when the candidate has diameter <= 3.

        Only pairs with an endpoint in ``P = {u, v, x, y}`` can change distance-2 status. With ``B2`` the radius-2
        ball, ``ΔU2 = -(2 Σ_p Δ|B2(p) \\ P| + Σ_p Δ|B2(p) ∩ P|)``. Outside ``P``, the new ball of ``p`` is the union
        of the *old* radius-1 balls over ``p``'s new closed neighbourhood (old and new radius-1 balls differ only
        in bits of ``P``), and ``q ∈ B2(p)`` for ``p, q ∈ P`` iff their closed neighbourhoods intersect.
        """
        u, j, v, x, jx, y = swaps
        n, k, m = self.n, self.k, u.size
        r2 = self._radius2()
        b = np.arange(m)
        P = np.stack([u, v, x, y], axis=1)  # (m, 4)
        closed = np.empty((m, 4, k + 1), dtype=np.intp)  # new closed neighbourhoods of the endpoints
        closed[:, :, 0] = P
        closed[:, :, 1:] = self.nbr[P]
        closed[b, 0, 1 + j] = y
        closed[b, 1, 1 + pv] = x
        closed[b, 2, 1 + jx] = v
        closed[b, 3, 1 + py] = u
        r1 = self.r1
        ball = r1[closed[:, :, 0]]
        for s in range(1, k + 1):
            ball |= r1[closed[:, :, s]]  # (m, 4, W), exact outside P
        # bits of P inside each ball: (m, 4 rows, 4 endpoints)
        rows4, cols4 = b[:, None, None], np.arange(4)[None, :, None]
        word, shift = (P // 64)[:, None, :], (P % 64).astype(np.uint64)[:, None, :]
        one = np.uint64(1)
        in_ball = ((ball[rows4, cols4, word] >> shift) & one).sum(2, dtype=np.int64)
        old_in = (r2[P][rows4, cols4, word] >> shift) & one  # (m, 4, 4), old B2 membership within P
        d_out = (np.bitwise_count(ball).sum(2, dtype=np.int64) - in_ball).sum(1) - (
            self.r2_count[P].sum(1) - old_in.sum((1, 2), dtype=np.int64)
        )
        r1p = r1[P]  # new radius-1 balls of the endpoints
        flat = r1p.reshape(m * 4, -1)
        rows = np.arange(m * 4)
        flip(flat, rows, P[:, [1, 0, 3, 2]].reshape(-1))  # removed edges (u,v), (x,y)
        flip(flat, rows, P[:, [3, 2, 1, 0]].reshape(-1))  # added edges (u,y), (x,v)
        if self.words == 1:  # skip a slow reduction over a length-1 axis
            meet = (r1p[:, :, None, 0] & r1p[:, None, :, 0]) != 0
        else:
            meet = (r1p[:, :, None, :] & r1p[:, None, :, :]).any(-1)
        new_in = meet.sum((1, 2), dtype=np.int64)
        d_in = new_in - old_in.sum((1, 2), dtype=np.int64)
        d_u2 = -(2 * d_out + d_in)
        return (2 * n * n - 2 * n - n * k + self.u2 + d_u2).astype(np.float64)

    def _bfs(self, swaps: Swaps, pv: np.ndarray, py: np.ndarray, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact distance sums and diameters of the swapped graphs, by a BFS resumed at level 1."""
        u, j, v, x, jx, y = swaps
        m, n = u.size, self.n
        tables = self._tables[:, :m]
        tables[:] = self.nbr.T[:, None, :]
        b = np.arange(m, dtype=np.intp)
        tables[j, b, u] = y
        tables[pv, b, v] = x
        tables[jx, b, x] = v
        tables[py, b, y] = u
        start = self._start[: m * n]
        start.reshape(m, n, self.words)[:] = self.r1
        rows = np.concatenate((u, v, x, y)) + np.tile(b * n, 4)
        flip(start, rows, np.concatenate((v, u, y, x)))  # removed edges
        flip(start, rows, np.concatenate((y, x, v, u)))  # added edges
        return batch_distance_totals(tables, start=(start, 1, n * n - n), limit=limit)

    def _radius2(self) -> np.ndarray:
        """The radius-2 balls of the current graph (and their sizes in ``r2_count``, ``U2`` in ``u2``)."""
        if self.r2 is None:
            r2 = self.r1.copy()
            for s in range(self.k):
                r2 |= self.r1[self.nbr[:, s]]
            self.r2 = r2
            self.r2_count = np.bitwise_count(r2).sum(1, dtype=np.int64)
            self.u2 = self.n * self.n - int(self.r2_count.sum())
        return self.r2
