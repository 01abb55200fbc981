"""Low-ASPL connected k-regular graphs for RGP pruning masks.

Pipeline: :func:`build_graph` constructs a connected k-regular graph (seeded random, or the ring lattice),
lowers its average shortest path length with degree-preserving double-edge swaps (:mod:`.optimizer`: the swap state
in :mod:`.swaps`, the acceptance rules in :mod:`.acceptance`, the search loop and its budget in :mod:`.search`;
every ASPL is exact, from a bit-parallel BFS, :mod:`.aspl`), measures it (:mod:`.metrics`, Cerf/Moore bound in
:mod:`.bounds`) and caches it on disk (:mod:`.cache`). :func:`block_mask` maps the adjacency onto a layer.

``info`` keys returned by :func:`build_graph`: nodes, degree, strategy, start, seed, iters (the swap-trial budget
used, ``None`` for a pure time budget or the reference schedule), seconds_budget, aspl, lower_bound, gap,
diameter, diameter_lower_bound, connected, clustering, spectral_gap, algebraic_connectivity, start_aspl, seconds,
swaps_tried, swaps_accepted, evaluations, stop_reason ("lower_bound" or "budget"), reached_lower_bound, cache_hit,
algorithm_version.
"""

from .aspl import PathStats, aspl, path_stats
from .bounds import aspl_lower_bound, diameter_lower_bound, gap
from .build import STARTS, build_graph
from .construct import (
    check_feasible,
    feasible_degree,
    is_connected,
    random_regular,
    ring_lattice,
    validate_regular,
)
from .errors import GraphError
from .masks import block_mask, split_sizes
from .metrics import average_clustering, graph_metrics, spectral_gaps
from .optimizer import ALGORITHM_VERSION, DEFAULT_STRATEGY, STRATEGIES, default_iters, optimize

__all__ = [
    "ALGORITHM_VERSION",
    "DEFAULT_STRATEGY",
    "STARTS",
    "STRATEGIES",
    "GraphError",
    "PathStats",
    "aspl",
    "aspl_lower_bound",
    "average_clustering",
    "block_mask",
    "build_graph",
    "check_feasible",
    "default_iters",
    "diameter_lower_bound",
    "feasible_degree",
    "gap",
    "graph_metrics",
    "is_connected",
    "optimize",
    "path_stats",
    "random_regular",
    "ring_lattice",
    "spectral_gaps",
    "split_sizes",
    "validate_regular",
]
