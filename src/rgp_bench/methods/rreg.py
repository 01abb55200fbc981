"""`rreg`: data-free expander masks (Stewart, Michieli, Ozay, "Data-Free Model Pruning at Initialization via
Expanders", CVPR 2023 workshops), RReg in the authors' naming.

Reference: the `RReg(RandERK)` pruner of a public `pruners` package (its repository is not named in the code index;
docs/fidelity.md quotes the functions): ERK layer densities (`RandERK.layerwise_density`, kernel dims included);
then, in every layer with density < 1, tiles of a d-regular bipartite graph built by Havel–Hakimi
(`networkx.bipartite.havel_hakimi_graph([d] * v, [d] * v)`) on v random output and v random input channels
(`torch.randperm`), OR-ed into the layer's channel mask until it holds int(density · C_out · C_in) channel pairs;
a kept pair keeps its whole kernel. d = 15 by default, capped at min(C_out, C_in); each tile has
v = max(min(missing pairs // d, min(C_out, C_in)), d) vertices a side.

Deviations: the densities are the project's ERK (`rgp_bench.pruning.densities`, exact integer counts), a layer's
pair count its ERK weight count over the kernel size, rounded; where the reference's next tile would overshoot that
count (fewer than v · d pairs missing: up to d² − 1 extra pairs, e.g. a whole 15 × 15 tile for one missing pair) the
tile's degree drops to ⌊missing / v⌋, and the last pairs, fewer than a tile's v, are drawn uniformly among the free
pairs, so every layer keeps exactly its count. Channel subsets come from numpy's generator seeded with the run's
seed (the reference draws from torch's global generator).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rgp_bench.config.choices import Regime
from rgp_bench.config.fields import Number, setting
from rgp_bench.measure.topology import density_profile
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg, MethodStyle
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.densities import erdos_renyi_densities, exact_counts
from rgp_bench.pruning.layers import PrunableLayer

# Tiles per layer before the remaining pairs are drawn at random (a nearly dense layer's tiles mostly overlap).
MAX_TILES = 1000


@dataclass
class RRegCfg(MethodCfg):
    """`degree`: the bipartite degree d of every tile (the reference's `regular_d`), capped at the layer's width."""

    name: str = "rreg"
    degree: int = setting(15, check=Number(lo=1, integer=True))


@functools.lru_cache(maxsize=256)
def havel_hakimi_bipartite(vertices: int, degree: int) -> np.ndarray:
    """The v × v biadjacency of `networkx.bipartite.havel_hakimi_graph([d] * v, [d] * v)` (read-only bool).

    Havel–Hakimi connects the left nodes in turn (largest degree first, ties to the larger index) to the `d` right
    nodes of largest remaining degree (ties to the larger index); with equal degrees that is left node v−1 first.
    """
    if not 1 <= degree <= vertices:
        raise ValueError(f"degree {degree} does not fit {vertices} vertices: it must be in [1, {vertices}]")
    remaining = np.full(vertices, degree)
    index = np.arange(vertices)
    adjacency = np.zeros((vertices, vertices), dtype=bool)
    for left in range(vertices - 1, -1, -1):
        targets = np.lexsort((index, remaining))[-degree:]  # by remaining degree, then index: take the largest
        adjacency[left, targets] = True
        remaining[targets] -= 1
    adjacency.setflags(write=False)
    return adjacency


@functools.lru_cache(maxsize=256)
def _tile_edges(vertices: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """The (left, right) endpoints of the Havel–Hakimi tile's v · d edges."""
    left, right = np.nonzero(havel_hakimi_bipartite(vertices, degree))
    return left, right


@dataclass(frozen=True)
class Tile:
    """One d-regular tile: its output and input channels (v each, tile node i -> channel rows[i]) and degree."""

    rows: np.ndarray
    cols: np.ndarray
    degree: int


def tile_channels(out_channels: int, in_channels: int, pairs: int, degree: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, list[Tile], int]:
    """A C_out × C_in boolean channel mask with exactly `pairs` kept pairs, from d-regular Havel–Hakimi tiles on
    random channel subsets. Returns (mask, tiles, pairs drawn at random at the end)."""
    if pairs >= out_channels * in_channels:
        return np.ones((out_channels, in_channels), dtype=bool), [], 0
    flat = np.zeros(out_channels * in_channels, dtype=bool)
    width = min(out_channels, in_channels)
    cap = min(degree, width)
    tiles: list[Tile] = []
    kept = 0
    while kept < pairs and len(tiles) < MAX_TILES:
        missing = pairs - kept
        vertices = max(min(missing // cap, width), cap)
        tile_degree = min(cap, missing // vertices)
        if tile_degree == 0:
            break
        rows = rng.permutation(out_channels)[:vertices]
        cols = rng.permutation(in_channels)[:vertices]
        left, right = _tile_edges(vertices, tile_degree)
        index = rows[left] * in_channels + cols[right]
        kept += int(np.count_nonzero(~flat[index]))
        flat[index] = True
        tiles.append(Tile(rows, cols, tile_degree))
    missing = pairs - kept
    if missing > 0:
        free = np.flatnonzero(~flat)
        flat[free[rng.permutation(free.size)[:missing]]] = True
    return flat.reshape(out_channels, in_channels), tiles, missing


@register_method(RRegCfg, canonical_regime=Regime.scratch, style=MethodStyle("#88ccee", "H"),
                 description="RReg: ERK densities filled with d-regular bipartite expander tiles (Stewart et al., "
                             "CVPRW 2023)")
def rreg_masks(cfg: RRegCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """ERK layer densities; each layer's channel pairs from Havel–Hakimi d-regular tiles on random channels."""
    shapes = [layer.weight_shape for layer in layers]
    sizes = [math.prod(shape) for shape in shapes]
    total = sum(sizes)
    keep = total - round(ratio * total)
    densities, epsilon = erdos_renyi_densities(shapes, keep / total, kernel=True)
    counts = exact_counts([d * n for d, n in zip(densities, sizes, strict=True)], sizes, keep)
    rng = np.random.default_rng(ctx.seed)
    masks: dict[str, torch.Tensor] = {}
    tiles: dict[str, int] = {}
    degrees: dict[str, list[int]] = {}
    random_pairs: dict[str, int] = {}
    for layer, count in zip(layers, counts, strict=True):
        kernel = math.prod(layer.weight_shape[2:])
        channels, layer_tiles, drawn = tile_channels(layer.out_channels, layer.in_channels, round(count / kernel),
                                                     int(cfg.degree), rng)
        block = torch.from_numpy(channels).reshape(channels.shape + (1,) * (len(layer.weight_shape) - 2))
        masks[layer.name] = block.expand(layer.weight_shape).contiguous()
        tiles[layer.name] = len(layer_tiles)
        degrees[layer.name] = sorted({t.degree for t in layer_tiles})
        random_pairs[layer.name] = drawn
    info = {"degree": int(cfg.degree), "epsilon": epsilon,
            "erk_densities": {layer.name: c / n for layer, c, n in zip(layers, counts, sizes, strict=True)},
            "densities": density_profile(masks),
            "tiles": tiles, "tile_degrees": degrees, "random_pairs": random_pairs}
    return MaskResult(masks, info)
