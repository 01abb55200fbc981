"""RGP ablation `block_random`: RGP's block masks from an Erdős–Rényi graph instead of a regular one.

Same nodes n, degree k (hence n·k/2 edges), layers and training as `rgp`; the graph is G(n, m): m = n·k/2 edges
drawn uniformly without replacement among the n(n−1)/2 node pairs (seeded, symmetric, no self-loops). Degrees
are then not regular (and the graph may be disconnected), which separates the effect of regularity from the
effect of block structure.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rgp_bench.config.choices import Regime
from rgp_bench.core.errors import UserError
from rgp_bench.graphs import GraphError, average_clustering, path_stats
from rgp_bench.methods.base import MaskContext, MaskResult, MethodStyle
from rgp_bench.methods.registry import register_method
from rgp_bench.methods.rgp import GraphCfg, check_rgp, graph_layer_masks, graph_shape
from rgp_bench.pruning.layers import PrunableLayer

log = logging.getLogger(__name__)


@dataclass
class BlockRandomCfg(GraphCfg):
    """`nodes`, `degree` and `self_loops` mean exactly what they mean for rgp (GraphCfg)."""

    name: str = "block_random"


def erdos_renyi_graph(nodes: int, edges: int, seed: int) -> np.ndarray:
    """A G(n, m) graph: `edges` distinct node pairs drawn uniformly; symmetric uint8 adjacency, zero diagonal."""
    rows, cols = np.triu_indices(nodes, k=1)
    if not 0 <= edges <= rows.size:
        raise GraphError(f"{edges} edges do not fit a simple graph on {nodes} nodes (at most {rows.size})")
    pick = np.random.default_rng(seed).choice(rows.size, size=edges, replace=False)
    adjacency = np.zeros((nodes, nodes), dtype=np.uint8)
    adjacency[rows[pick], cols[pick]] = 1
    return adjacency | adjacency.T


def graph_facts(adjacency: np.ndarray) -> dict[str, Any]:
    """Degree spread, connectivity, ASPL (None when disconnected) and clustering of any simple graph."""
    degrees = adjacency.sum(axis=1)
    stats = path_stats(adjacency)
    return {"edges": int(adjacency.sum()) // 2, "degree_min": int(degrees.min()), "degree_max": int(degrees.max()),
            "degree_std": float(degrees.std()), "regular": bool(degrees.min() == degrees.max()),
            "isolated_nodes": int((degrees == 0).sum()), "connected": stats.connected,
            "aspl": stats.aspl if stats.connected else None, "clustering": average_clustering(adjacency)}


@register_method(BlockRandomCfg, canonical_regime=Regime.scratch, style=MethodStyle("#aa4499", "8"),
                 block_structured=True, check=check_rgp,
                 description="RGP ablation: block masks from an Erdős–Rényi graph with RGP's edge count")
def block_random_masks(cfg: BlockRandomCfg, layers: Sequence[PrunableLayer], ratio: float,
                       ctx: MaskContext) -> MaskResult:
    """RGP's node count and degree, a seeded G(n, n·k/2) graph, and RGP's block masks from it."""
    nodes, degree, note = graph_shape(cfg, layers, ratio)  # the same (n, k) rgp accepts
    try:
        adjacency = erdos_renyi_graph(nodes, nodes * degree // 2, ctx.seed)
    except GraphError as exc:
        raise UserError(str(exc)) from None
    masks = graph_layer_masks(adjacency, layers, self_loops=cfg.self_loops)
    info = {"nodes": nodes, "degree": degree, "nominal_ratio": 1.0 - (degree + int(cfg.self_loops)) / nodes,
            "nodes_note": note, "seed": ctx.seed, **graph_facts(adjacency)}
    return MaskResult(masks, info)
