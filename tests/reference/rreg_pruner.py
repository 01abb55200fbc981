"""RReg's per-layer tiling (compact transcription).

Source: the `RReg(RandERK)` pruner of a public `pruners` package in the code index (module with `__all__ = ["RReg"]`
importing `pruners.RandERK` and `tools.named_params`; its repository is not named there): `bipartite_d_regular_graph`
and the per-layer loop of `RReg.custom_mask`, default `regular_d = 15`.

Semantics kept: the tile is `networkx.bipartite.havel_hakimi_graph([d] * v, [d] * v)` as a v × v biadjacency; the
loop adds tiles on `randperm(C_out)[:v]` × `randperm(C_in)[:v]` (OR-ed) while the mask has fewer than
`max_edges = int(density · C_in · C_out)` pairs, with d = min(regular_d, min(C_out, C_in)) and
v = max(min(int(missing / d), min(C_out, C_in)), d). Adapted: `randperm` is passed in (the reference uses torch's
global generator), and the target is given as a pair count; the loop returns its tiles as well as the mask.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import numpy as np


def bipartite_d_regular_graph(n: int, d: int) -> np.ndarray:
    if d > n:
        raise ValueError(f"d={d} cannot exceed n={n} in a bipartite d-regular graph.")
    graph = nx.bipartite.havel_hakimi_graph([d] * n, [d] * n)
    mask = np.zeros((n, n), dtype=int)
    for u, v in graph.edges():
        if u < n <= v:
            mask[u, v - n] = 1
        elif v < n <= u:
            mask[v, u - n] = 1
    return mask


def rreg_layer(cout: int, cin: int, max_edges: int, regular_d: int,
               randperm: Callable[[int], np.ndarray]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray, int]]]:
    """The reference's channel mask of one layer with density < 1, and its tiles (rows, cols, degree)."""
    max_vertices = min(cout, cin)
    bool_mask = np.zeros((cout, cin), dtype=bool)
    tiles = []
    while bool_mask.sum() < max_edges:
        connections = int(max_edges - bool_mask.sum())
        d = min(regular_d, max_vertices)
        vertices = max(min(int(connections / d), max_vertices), d)
        regular_mask = bipartite_d_regular_graph(vertices, d).astype(bool)
        out_idx = randperm(cout)[:vertices]
        in_idx = randperm(cin)[:vertices]
        bool_mask[out_idx[:, None], in_idx] |= regular_mask
        tiles.append((out_idx, in_idx, d))
    return bool_mask, tiles
