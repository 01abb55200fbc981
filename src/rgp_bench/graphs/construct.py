"""Constructors and validation for connected simple k-regular graphs.

Graphs are passed around as dense ``(n, n)`` ``uint8`` adjacency matrices (symmetric, zero diagonal). The optimiser
works on the equivalent ``(n, k)`` neighbour table, see :func:`neighbour_table`.
"""

from __future__ import annotations

import numpy as np

from .errors import GraphError, is_int

__all__ = [
    "check_feasible",
    "edge_list",
    "feasible_degree",
    "from_edges",
    "is_connected",
    "neighbour_table",
    "random_regular",
    "ring_lattice",
    "validate_regular",
]


# Exact all-pairs ASPL keeps n x n bitsets (several at once while optimising): 16384 nodes is 32 MiB each.
MAX_NODES = 16384


def check_nodes(nodes: int) -> None:
    """Raise :class:`GraphError` unless ``nodes`` is an integer in [3, MAX_NODES]."""
    if not is_int(nodes):
        raise GraphError(f"nodes must be an integer, got {nodes!r}")
    if nodes < 3:
        raise GraphError(f"nodes {nodes} is too small: a connected regular graph needs nodes >= 3")
    if nodes > MAX_NODES:
        raise GraphError(f"nodes {nodes} is too large: at most {MAX_NODES} (the exact ASPL keeps n x n bit matrices, "
                         f"{nodes * nodes // 8 // 2**20} MiB each at this size)")


def check_feasible(nodes: int, degree: int) -> None:
    """Raise :class:`GraphError` unless a connected simple ``degree``-regular graph on ``nodes`` nodes exists.

    That is the case exactly when ``2 <= degree <= nodes - 1`` and ``nodes * degree`` is even.
    """
    check_nodes(nodes)
    if not is_int(degree):
        raise GraphError(f"degree must be an integer, got {degree!r}")
    if degree < 2:
        raise GraphError(
            f"degree {degree} with {nodes} nodes is infeasible: degree must be in [2, {nodes - 1}]"
            " (degree 1 cannot be connected)"
        )
    if degree >= nodes:
        raise GraphError(f"degree {degree} with {nodes} nodes is infeasible: degree must be in [2, {nodes - 1}]")
    if (nodes * degree) % 2:
        raise GraphError(f"degree {degree} with {nodes} nodes is infeasible: n·k must be even")


def feasible_degree(nodes: int, ratio: float) -> int:
    """Degree for a pruning ratio.

    Among the feasible degrees (``2 <= k <= n - 1`` with ``n * k`` even) the one nearest to the unrounded
    target ``n * (1 - ratio)``; ties go to the larger ``k``. Raises :class:`GraphError` if none exists
    (e.g. ``n < 3``) or the ratio is outside ``[0, 1]``.
    """
    check_nodes(nodes)
    try:
        ratio = float(ratio)
    except (TypeError, ValueError):
        raise GraphError(f"pruning ratio must be a number in [0, 1], got {ratio!r}") from None
    if not 0.0 <= ratio <= 1.0:
        raise GraphError(f"pruning ratio {ratio} is out of range: it must be in [0, 1]")
    target = nodes * (1.0 - ratio)
    candidates = [k for k in range(2, nodes) if (nodes * k) % 2 == 0]
    if not candidates:  # pragma: no cover - n >= 3 always has k = 2
        raise GraphError(f"no feasible degree exists for {nodes} nodes")
    # distances rounded to 9 decimals so that float noise in the target (e.g. 63 * (1 - (1 - 5/63))) cannot
    # break a tie
    return min(candidates, key=lambda k: (round(abs(k - target), 9), -k))


def ring_lattice(nodes: int, degree: int) -> np.ndarray:
    """Deterministic connected ``degree``-regular graph with the largest ASPL of the usual starts.

    Even ``k``: the ring lattice (Watts–Strogatz with p = 0), node ``i`` adjacent to ``i ± 1 … i ± k/2``.
    Odd ``k`` (then ``n`` is even): the ring lattice of degree ``k - 1`` plus the diameter chords
    ``(i, i + n/2)``, i.e. the circulant graph ``C_n(1, …, (k-1)/2, n/2)`` (a Möbius ladder for ``k = 3``).
    """
    check_feasible(nodes, degree)
    offsets = list(range(1, degree // 2 + 1))
    if degree % 2:
        offsets.append(nodes // 2)
    adj = np.zeros((nodes, nodes), dtype=np.uint8)
    idx = np.arange(nodes)
    for off in offsets:
        adj[idx, (idx + off) % nodes] = 1
        adj[(idx + off) % nodes, idx] = 1
    return adj


def _pairing(nodes: int, degree: int, rng: np.random.Generator) -> np.ndarray | None:
    """One attempt of the Steger–Wormald pairing algorithm; returns an edge array or None on a dead end."""
    edges: set[tuple[int, int]] = set()
    stubs = np.repeat(np.arange(nodes), degree)
    while stubs.size:
        rng.shuffle(stubs)
        leftover: list[int] = []
        for a, b in zip(stubs[0::2].tolist(), stubs[1::2].tolist(), strict=True):
            e = (a, b) if a < b else (b, a)
            if a != b and e not in edges:
                edges.add(e)
            else:
                leftover += [a, b]
        if not leftover:
            break
        # Dead end when every remaining pair of distinct stub nodes is already an edge.
        rest = sorted(set(leftover))
        if not any((a, b) not in edges for i, a in enumerate(rest) for b in rest[i + 1 :]):
            return None
        stubs = np.asarray(leftover)
    return np.array(sorted(edges), dtype=np.int64).reshape(-1, 2)


def _random_regular_any(nodes: int, degree: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly-ish random simple ``degree``-regular graph (possibly disconnected), as adjacency."""
    if degree > (nodes - 1) // 2:
        # Dense: complement of a sparse random regular graph, which pairs far more reliably.
        comp = nodes - 1 - degree
        adj = np.ones((nodes, nodes), dtype=np.uint8)
        np.fill_diagonal(adj, 0)
        if comp:
            adj -= _random_regular_any(nodes, comp, rng)
        return adj
    if degree == 1:
        perm = rng.permutation(nodes)
        adj = np.zeros((nodes, nodes), dtype=np.uint8)
        adj[perm[0::2], perm[1::2]] = 1
        adj[perm[1::2], perm[0::2]] = 1
        return adj
    for _ in range(1000):
        edges = _pairing(nodes, degree, rng)
        if edges is not None:
            return from_edges(nodes, edges)
    raise GraphError(f"could not sample a random {degree}-regular graph on {nodes} nodes")  # pragma: no cover


def random_regular(nodes: int, degree: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """A connected random simple ``degree``-regular graph, reproducible from ``seed``.

    Sparse graphs use Steger–Wormald pairing, dense ones (``k > (n-1)/2``) the complement of a sparse one;
    disconnected draws are rejected. For ``k = 2`` the only connected graph is the cycle, so a random
    Hamiltonian cycle is returned.
    """
    check_feasible(nodes, degree)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if degree == 2:
        perm = rng.permutation(nodes)
        return from_edges(nodes, np.stack([perm, np.roll(perm, -1)], axis=1))
    for _ in range(10_000):
        adj = _random_regular_any(nodes, degree, rng)
        if is_connected(adj):
            return adj
    raise GraphError(f"could not sample a connected {degree}-regular graph on {nodes} nodes")  # pragma: no cover


def from_edges(nodes: int, edges: np.ndarray) -> np.ndarray:
    """Adjacency matrix (``uint8``) from an ``(m, 2)`` integer edge array."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    adj = np.zeros((nodes, nodes), dtype=np.uint8)
    adj[edges[:, 0], edges[:, 1]] = 1
    adj[edges[:, 1], edges[:, 0]] = 1
    return adj


def edge_list(adjacency: np.ndarray) -> np.ndarray:
    """Sorted ``(m, 2)`` array of the edges ``u < v``."""
    u, v = np.nonzero(np.triu(np.asarray(adjacency), 1))
    return np.stack([u, v], axis=1).astype(np.int64)


def neighbour_table(adjacency: np.ndarray) -> np.ndarray:
    """``(n, d_max)`` table of sorted neighbours; rows of lower degree are padded with the node itself.

    Padding with the node's own index is harmless for reachability (OR-ing a set with itself), so the same table
    drives the bitset BFS for irregular graphs too.
    """
    a = np.asarray(adjacency) != 0
    n = a.shape[0]
    rows, cols = np.divmod(np.flatnonzero(a), n)  # row-major order; much faster than np.nonzero on 2-D
    deg = np.bincount(rows, minlength=n)
    dmax = int(deg.max()) if n else 0
    if n and dmax and (deg == dmax).all():
        return cols.reshape(n, dmax)
    table = np.repeat(np.arange(n)[:, None], max(dmax, 1), axis=1)
    pos = np.arange(rows.size) - np.repeat(np.cumsum(deg) - deg, deg)  # slot of each neighbour in its row
    table[rows, pos] = cols
    return table


def is_connected(adjacency: np.ndarray) -> bool:
    """True if the graph is connected (a single-source bitset-free BFS over the boolean matrix)."""
    a = np.asarray(adjacency) != 0
    n = a.shape[0]
    if n <= 1:
        return True
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    frontier = seen.copy()
    while frontier.any():
        nxt = a[frontier].any(0) & ~seen
        seen |= nxt
        frontier = nxt
    return bool(seen.all())


def validate_regular(adjacency: np.ndarray, degree: int | None = None) -> np.ndarray:
    """Check that ``adjacency`` is a simple, connected, regular graph (of ``degree`` if given).

    Returns the matrix as ``uint8``; raises :class:`GraphError` naming the first violated property.
    """
    a = np.asarray(adjacency)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise GraphError(f"adjacency must be a square matrix, got shape {a.shape}")
    if not np.isin(a, (0, 1)).all():
        raise GraphError("adjacency entries must be 0 or 1 (a simple graph has no multi-edges)")
    a = a.astype(np.uint8)
    if a.diagonal().any():
        raise GraphError("adjacency has self-loops: the diagonal must be zero")
    if not np.array_equal(a, a.T):
        raise GraphError("adjacency is not symmetric: the graph must be undirected")
    deg = a.sum(1, dtype=np.int64)
    k = int(deg[0]) if a.shape[0] else 0
    if not (deg == k).all():
        raise GraphError(f"graph is not regular: degrees range over [{deg.min()}, {deg.max()}]")
    if degree is not None and k != degree:
        raise GraphError(f"graph has degree {k}, expected {degree}")
    if not is_connected(a):
        raise GraphError("graph is disconnected: a connected graph is required")
    return a
