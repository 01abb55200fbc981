"""Graph metrics reported next to every generated graph."""

from __future__ import annotations

import numpy as np

from .aspl import PathStats, path_stats
from .bounds import aspl_lower_bound, diameter_lower_bound, gap
from .errors import GraphError

__all__ = ["average_clustering", "graph_metrics", "spectral_gaps"]


def average_clustering(adjacency: np.ndarray) -> float:
    """Mean local clustering coefficient (as ``networkx.average_clustering``; nodes of degree < 2 count 0)."""
    a = (np.asarray(adjacency) != 0).astype(np.float64)
    deg = a.sum(1)
    triangles = ((a @ a) * a).sum(1) / 2.0
    pairs = deg * (deg - 1) / 2.0
    local = np.divide(triangles, pairs, out=np.zeros_like(triangles), where=pairs > 0)
    return float(local.mean()) if local.size else 0.0


def spectral_gaps(adjacency: np.ndarray) -> tuple[float, float]:
    """``(spectral_gap, algebraic_connectivity)``.

    The spectral gap is ``λ1(A) - λ2(A)`` of the adjacency matrix; the algebraic connectivity is the second
    smallest eigenvalue of the Laplacian ``D - A``. For a k-regular graph both equal ``k - λ2(A)``; larger means
    better expansion (faster mixing of information across layers).
    """
    a = (np.asarray(adjacency) != 0).astype(np.float64)
    n = a.shape[0]
    if n < 2:
        return 0.0, 0.0
    adj_eigs = np.linalg.eigvalsh(a)
    lap_eigs = np.linalg.eigvalsh(np.diag(a.sum(1)) - a)
    return float(adj_eigs[-1] - adj_eigs[-2]), float(max(lap_eigs[1], 0.0))


def graph_metrics(adjacency: np.ndarray, stats: PathStats | None = None) -> dict:
    """ASPL, Cerf/Moore lower bound, relative gap, diameter (and its lower bound), clustering and spectral gaps.

    ``degree`` is the maximum degree (the graphs here are regular). Pass ``stats`` to reuse a
    :func:`~rgp_bench.graphs.aspl.path_stats` result. ``aspl`` is ``inf`` (and ``diameter`` -1) for a disconnected
    graph. When no connected graph with that maximum degree exists (``k < 2`` and ``n > 2``, or ``k = 0`` and
    ``n = 2``) there is no finite bound: ``lower_bound`` is ``inf``, ``gap`` NaN and ``diameter_lower_bound`` -1.
    """
    a = np.asarray(adjacency)
    n = int(a.shape[0])
    k = int((a != 0).sum(1).max()) if n else 0
    stats = stats if stats is not None else path_stats(a)
    spec, alg = spectral_gaps(a)
    if n < 2:
        lb, lb_gap, lb_diameter = 0.0, gap(stats.aspl, 0.0), 0
    else:
        try:
            lb = aspl_lower_bound(n, k)
            lb_gap, lb_diameter = gap(stats.aspl, lb), diameter_lower_bound(n, k)
        except GraphError:  # k too small for any connected graph on n nodes
            lb, lb_gap, lb_diameter = float("inf"), float("nan"), -1
    return {
        "nodes": n,
        "degree": k,
        "aspl": stats.aspl,
        "lower_bound": lb,
        "gap": lb_gap,
        "diameter": stats.diameter,
        "diameter_lower_bound": lb_diameter,
        "connected": stats.connected,
        "clustering": average_clustering(a),
        "spectral_gap": spec,
        "algebraic_connectivity": alg,
    }
