"""RGP: one low-ASPL k-regular graph, mapped as a block mask onto every prunable layer."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rgp_bench.config.choices import Choice, Regime
from rgp_bench.config.fields import AutoOr, Number, setting
from rgp_bench.core.errors import UserError
from rgp_bench.graphs import (
    DEFAULT_STRATEGY,
    STARTS,
    STRATEGIES,
    GraphError,
    block_mask,
    build_graph,
    check_feasible,
    feasible_degree,
)
from rgp_bench.graphs.masks import GROUP_SIZES
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer

log = logging.getLogger(__name__)
MAX_AUTO_NODES = 64
if TYPE_CHECKING:
    # Built from the graph engine's tuples (their one home), so mypy cannot see the members: to it each is an
    # enum without any.
    class Strategy(Choice): ...

    class Start(Choice): ...

    class GroupSizes(Choice): ...
else:
    Strategy = Choice.of("Strategy", STRATEGIES)
    Start = Choice.of("Start", STARTS)
    GroupSizes = Choice.of("GroupSizes", GROUP_SIZES)


@dataclass
class GraphCfg(MethodCfg):
    """The graph settings of rgp and of its block-graph controls (ramanujan, block_random)."""

    # "auto" = 64 capped at the narrowest masked layer; an int is used as is (error if too large).
    nodes: Any = setting("auto", check=AutoOr(3))
    # None = derived from the ratio (nearest feasible degree); an int overrides the ratio.
    degree: int | None = setting(None, check=Number(lo=2, integer=True, nullable=True))
    # true = graph2nn variant: every node also keeps its own group, keep (k+1)/n.
    self_loops: bool = False


@dataclass
class RGPCfg(GraphCfg):
    """Defaults: no self-loops, n = 64 capped at the narrowest layer, k from the ratio, the same graph and channel
    map in every layer (the authors' `compute_densemask`), the engine's annealing optimiser (see README, "Methods")."""

    name: str = "rgp"
    # The graph engine's benchmarked default (see BENCHMARKS.md); reference = the authors' bounded random walk.
    strategy: Strategy = Strategy[DEFAULT_STRATEGY]
    start: Start = Start["random"]
    # null = the engine's default, reproducible swap budget; graph_seconds caps wall time (machine-dependent).
    graph_iters: int | None = setting(None, check=Number(lo=0, integer=True, nullable=True))
    graph_seconds: float | None = setting(None, check=Number(lo=0, lo_open=True, nullable=True))
    # Channels not divisible by n: larger_first = the first channels % n groups get one more channel; permuted = the
    # authors' compute_size (those groups picked by np.random.seed(1)). Identical when every layer divides evenly.
    group_sizes: GroupSizes = GroupSizes["larger_first"]
    # Ablation: permute the node->channel map independently in every layer.
    permute_layers: bool = False
    # Scratch regime only: rescale the init by 1/sqrt(density) to keep the dense fan-in variance.
    rescale_init: bool = False


def choose_nodes(requested: int | str, layers: Sequence[PrunableLayer]) -> tuple[int, str | None]:
    """Node count: `auto` is 64 capped at the narrowest masked layer; an explicit count must fit every layer."""
    narrow = min(layers, key=lambda layer: min(layer.out_channels, layer.in_channels))
    width = min(narrow.out_channels, narrow.in_channels)
    if requested == "auto":
        nodes = min(MAX_AUTO_NODES, width)
        note = None if nodes == MAX_AUTO_NODES else (
            f"nodes=auto capped at {nodes}: the narrowest masked layer {narrow.name} has {width} channels")
        return nodes, note
    nodes = int(requested)
    if nodes > width:
        raise UserError(
            f"method.nodes={nodes} is larger than masked layer {narrow.name} ({width} channels); "
            f"valid choices: auto or an integer in [3, {width}]"
        )
    return nodes, None


def choose_degree(cfg: GraphCfg, nodes: int, ratio: float) -> int:
    """Degree from the ratio (kept fraction k/n, or (k+1)/n with self-loops) unless set explicitly."""
    if cfg.degree is not None:
        return int(cfg.degree)
    if cfg.self_loops:
        # keep (k+1)/n = 1 - ratio  <=>  k/n = 1 - ratio - 1/n
        return feasible_degree(nodes, min(1.0, ratio + 1.0 / nodes))
    return feasible_degree(nodes, ratio)


def graph_layer_masks(adjacency: np.ndarray, layers: Sequence[PrunableLayer], *, self_loops: bool = False,
                      permute: np.random.Generator | None = None,
                      group_sizes: str = "larger_first") -> dict[str, torch.Tensor]:
    """One block mask per layer from a graph's adjacency (whole kernels kept between adjacent channel groups).

    `group_sizes` says which groups get the extra channels of a layer not divisible by the node count
    (`rgp_bench.graphs.masks`). With `permute`, each layer's output and input channels are permuted independently
    (the permute_layers ablation).
    """
    masks: dict[str, torch.Tensor] = {}
    for layer in layers:
        mask = block_mask(adjacency, layer.out_channels, layer.in_channels, self_loops=self_loops,
                          group_sizes=group_sizes)
        if permute is not None:
            mask = mask[permute.permutation(layer.out_channels)][:, permute.permutation(layer.in_channels)]
        kernel = layer.weight_shape[2:]
        block = torch.from_numpy(np.array(mask, dtype=bool)).reshape(mask.shape + (1,) * len(kernel))
        masks[layer.name] = block.expand(layer.weight_shape).contiguous()
    return masks


def check_rgp(cfg: GraphCfg, layers: Sequence[PrunableLayer], ratio: float, model: object,
              example: object) -> None:
    """Pre-flight: the node count fits every masked layer, and the degree gives a feasible regular graph."""
    nodes, _ = choose_nodes(cfg.nodes, layers)
    try:
        check_feasible(nodes, choose_degree(cfg, nodes, ratio))
    except GraphError as exc:
        raise UserError(str(exc)) from None


def graph_shape(cfg: GraphCfg, layers: Sequence[PrunableLayer], ratio: float) -> tuple[int, int, str | None]:
    """RGP's node count and degree for `ratio`, checked feasible, and the note (logged) where `auto` capped the node
    count: what the block-graph controls (ramanujan, block_random) share with rgp."""
    nodes, note = choose_nodes(cfg.nodes, layers)
    if note:
        log.info(note)
    try:
        degree = choose_degree(cfg, nodes, ratio)
        check_feasible(nodes, degree)
    except GraphError as exc:
        raise UserError(str(exc)) from None
    return nodes, degree, note


@register_method(RGPCfg, canonical_regime=Regime.scratch, style=MethodStyle("#d55e00", "o"), block_structured=True,
                 check=check_rgp,
                 description="Regular Graph Pruning (Chen et al., TNNLS 2023)")
def rgp_masks(cfg: RGPCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Build (or load from cache) the graph and return one block mask per layer."""
    nodes, note = choose_nodes(cfg.nodes, layers)
    if note:
        log.info(note)
    try:
        degree = choose_degree(cfg, nodes, ratio)
        adjacency, graph = build_graph(
            nodes, degree, strategy=str(cfg.strategy), start=str(cfg.start), seed=ctx.seed,
            iters=cfg.graph_iters, seconds=cfg.graph_seconds, cache_dir=ctx.cache_dir, progress=ctx.progress,
        )
    except GraphError as exc:
        raise UserError(str(exc)) from None
    log.info("graph: n=%d k=%d %s/%s, ASPL %.4f (bound %.4f), %s", nodes, degree, cfg.start, cfg.strategy,
             graph["aspl"], graph["lower_bound"],
             "from the cache" if graph.get("cache_hit") else f"built in {graph['seconds']:.2f} s")
    kept = (degree + int(cfg.self_loops)) / nodes
    nominal = 1.0 - kept
    if cfg.degree is None and abs(nominal - ratio) > 0.01:
        log.warning("ratio %.4f is not reachable with %d nodes; using degree %d, nominal ratio %.4f",
                    ratio, nodes, degree, nominal)
    permute = np.random.default_rng(ctx.seed) if cfg.permute_layers else None
    masks = graph_layer_masks(adjacency, layers, self_loops=cfg.self_loops, permute=permute,
                              group_sizes=str(cfg.group_sizes))
    info = {"nodes": nodes, "degree": degree, "nominal_ratio": nominal, "nodes_note": note,
            "group_sizes": str(cfg.group_sizes), **graph}
    init_scale = {layer.name: 1.0 / math.sqrt(kept) for layer in layers} if cfg.rescale_init else {}
    return MaskResult(masks, info, init_scale)

