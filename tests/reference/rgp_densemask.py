"""The RGP authors' mapping of a graph onto a layer: `compute_size` and `compute_densemask` (transcription).

Source: Holidays1999/Neural-Network-Pruning-through-its-RegularGraph-Structure, commit
45a9d0856284e07cf5f7e32c5ff1781a3f75ef64, `utils/conv_type.py`: `GraphConv2D.compute_size` and
`GraphConv2D.compute_densemask` (`utils/linear_type.py::GraphLinear` is the same without the kernel dims).

Semantics kept: node i gets `channel // nodes` channels, plus one for the first `channel % nodes` nodes, and that
size vector is then permuted with `np.random.seed(1); np.random.permutation` (a no-op when the channels divide
evenly); the (nodes, nodes) matrix is repeated along the inputs, then along the outputs, and broadcast over the
kernel. The reference reseeds numpy's global generator; here its state is restored afterwards.
"""

from __future__ import annotations

import numpy as np


def compute_size(channel: int, nodes: int, seed: int = 1) -> np.ndarray:
    """`compute_size`: group sizes, permuted by numpy's global generator seeded with `seed`."""
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        divide = channel // nodes
        remain = channel % nodes
        out = np.zeros(nodes, dtype=int)
        out[:remain] = divide + 1
        out[remain:] = divide
        return np.random.permutation(out)
    finally:
        np.random.set_state(state)


def compute_densemask(scores: np.ndarray, out_channels: int, in_channels: int,
                      kernel: tuple[int, ...] = ()) -> np.ndarray:
    """`compute_densemask` of an (n, n) matrix, broadcast to (out, in, *kernel) as the layer's weight sees it."""
    nodes = scores.shape[0]
    repeat_in = compute_size(in_channels, nodes)
    repeat_out = compute_size(out_channels, nodes)
    scores = np.repeat(scores, repeat_in, axis=1)
    scores = np.repeat(scores, repeat_out, axis=0)
    return np.broadcast_to(scores.reshape(scores.shape + (1,) * len(kernel)), scores.shape + tuple(kernel))
