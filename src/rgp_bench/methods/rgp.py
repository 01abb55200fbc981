"""RGP: one low-ASPL k-regular graph, mapped as a block mask onto every prunable layer."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import torch
from omegaconf import DictConfig

from rgp_bench.config.schema import RGPCfg
from rgp_bench.errors import UserError
from rgp_bench.graphs import GraphError, block_mask, build_graph, feasible_degree
from rgp_bench.methods.base import MaskContext, MaskResult, Method
from rgp_bench.pruning.layers import PrunableLayer

log = logging.getLogger(__name__)
MAX_AUTO_NODES = 64


def choose_nodes(requested: object, layers: Sequence[PrunableLayer]) -> tuple[int, str | None]:
    """Node count: `auto` is 64 capped at the narrowest masked layer; an explicit count must fit every layer."""
    narrow = min(layers, key=lambda layer: min(layer.out_channels, layer.in_channels))
    width = min(narrow.out_channels, narrow.in_channels)
    if requested == "auto":
        nodes = min(MAX_AUTO_NODES, width)
        note = None if nodes == MAX_AUTO_NODES else (
            f"nodes=auto capped at {nodes}: the narrowest masked layer {narrow.name} has {width} channels")
        return nodes, note
    nodes = int(requested)  # type: ignore[call-overload]
    if nodes > width:
        raise UserError(
            f"method.nodes={nodes} is larger than masked layer {narrow.name} ({width} channels); "
            f"valid choices: auto or an integer in [3, {width}]"
        )
    return nodes, None


def choose_degree(cfg: DictConfig, nodes: int, ratio: float) -> int:
    """Degree from the ratio (kept fraction k/n, or (k+1)/n with self-loops) unless set explicitly."""
    if cfg.degree is not None:
        return int(cfg.degree)
    if cfg.self_loops:
        # keep (k+1)/n = 1 - ratio  <=>  k/n = 1 - ratio - 1/n
        return feasible_degree(nodes, min(1.0, ratio + 1.0 / nodes))
    return feasible_degree(nodes, ratio)


def rgp_masks(cfg: DictConfig, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Build (or load from cache) the graph and return one block mask per layer."""
    nodes, note = choose_nodes(cfg.nodes, layers)
    if note:
        log.info(note)
    try:
        degree = choose_degree(cfg, nodes, ratio)
        adjacency, graph = build_graph(
            nodes, degree, strategy=cfg.strategy, start=cfg.start, seed=ctx.seed,
            iters=cfg.graph_iters, seconds=cfg.graph_seconds, cache_dir=ctx.cache_dir, progress=ctx.progress,
        )
    except GraphError as exc:
        raise UserError(str(exc)) from None
    kept = (degree + int(cfg.self_loops)) / nodes
    nominal = 1.0 - kept
    if cfg.degree is None and abs(nominal - ratio) > 0.01:
        log.warning("ratio %.4f is not reachable with %d nodes; using degree %d, nominal ratio %.4f",
                    ratio, nodes, degree, nominal)
    rng = np.random.default_rng(ctx.seed)
    masks: dict[str, torch.Tensor] = {}
    for layer in layers:
        mask = block_mask(adjacency, layer.out_channels, layer.in_channels, self_loops=cfg.self_loops)
        if cfg.permute_layers:
            mask = mask[rng.permutation(layer.out_channels)][:, rng.permutation(layer.in_channels)]
        kernel = layer.weight_shape[2:]
        block = torch.from_numpy(np.array(mask, dtype=bool)).reshape(mask.shape + (1,) * len(kernel))
        masks[layer.name] = block.expand(layer.weight_shape).contiguous()
    info = {"nodes": nodes, "degree": degree, "nominal_ratio": nominal, "nodes_note": note, **graph}
    init_scale = {layer.name: 1.0 / math.sqrt(kept) for layer in layers} if cfg.rescale_init else {}
    return MaskResult(masks, info, init_scale)


METHOD = Method("rgp", RGPCfg, rgp_masks, "Regular Graph Pruning (Chen et al., TNNLS 2023)")
