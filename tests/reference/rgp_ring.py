"""The RGP authors' hand-built regular graphs, the optimiser's start M0 (transcription).

Source: Holidays1999/Neural-Network-Pruning-through-its-RegularGraph-Structure, commit
45a9d0856284e07cf5f7e32c5ff1781a3f75ef64, `graph/regular.py`: `first_regular_graph` (even degree: each node joined
to the degree/2 nodes on either side) and `last_regular_graph` (odd degree: the complement of the ring lattice of
degree nodes − degree − 1).
"""

from __future__ import annotations

import numpy as np


def first_regular_graph(degree: int, nodes: int) -> np.ndarray:
    """`first_regular_graph`: the ring lattice of an even degree (float adjacency, zero diagonal)."""
    assert degree % 2 == 0 and nodes % 2 == 0
    matrix = np.zeros([nodes, nodes])
    for line in range(matrix.shape[0]):
        for d in range(-degree // 2, degree // 2 + 1):
            matrix[line, (line + d) % nodes] = 1
    return matrix - np.diag(np.ones(nodes))


def last_regular_graph(degree: int, nodes: int) -> np.ndarray:
    """`last_regular_graph`: an odd-degree regular graph, the complement of a ring lattice."""
    assert degree % 2 == 1 and nodes % 2 == 0
    degree = nodes - degree - 1
    matrix = np.zeros([nodes, nodes])
    for line in range(matrix.shape[0]):
        for d in range(-degree // 2, degree // 2 + 1):
            matrix[line, (line + d) % nodes] = 1
    matrix = matrix - np.diag(np.ones(nodes))
    return np.ones([nodes, nodes]) - matrix - np.diag(np.ones(nodes))
