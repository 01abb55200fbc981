"""Map a graph onto a layer: nodes are contiguous channel groups, edges keep whole kernels between groups."""

from __future__ import annotations

import numpy as np

from .errors import GraphError, is_int

__all__ = ["block_mask", "split_sizes"]


def split_sizes(channels: int, nodes: int) -> np.ndarray:
    """Sizes of ``nodes`` contiguous channel groups: ``channels // nodes`` each, the first ``channels % nodes``
    groups one more. Raises :class:`GraphError` if ``nodes > channels`` or either is < 1."""
    for name, value in (("channels", channels), ("nodes", nodes)):
        if not is_int(value):
            raise GraphError(f"{name} must be an integer, got {value!r}")
    if nodes < 1:
        raise GraphError(f"nodes {nodes} is out of range: it must be >= 1")
    if channels < nodes:
        raise GraphError(f"nodes {nodes} exceeds channels {channels}: each node needs at least one channel")
    sizes = np.full(nodes, channels // nodes, dtype=np.int64)
    sizes[: channels % nodes] += 1
    return sizes


def block_mask(
    adjacency: np.ndarray,
    out_channels: int,
    in_channels: int,
    kernel_size: tuple[int, ...] | int = (),
    *,
    self_loops: bool = False,
) -> np.ndarray:
    """Boolean mask of shape ``(out_channels, in_channels, *kernel_size)``.

    Entry ``(o, i, ...)`` is True iff the group of output channel ``o`` is adjacent to the group of input channel
    ``i`` (or is the same group when ``self_loops``). Groups come from :func:`split_sizes`, identically on both
    sides. An integer ``kernel_size`` means a square 2-D kernel. Raises :class:`GraphError` if the adjacency is not
    square or ``nodes`` exceeds either channel count.
    """
    a = np.asarray(adjacency)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise GraphError(f"adjacency must be a non-empty square matrix, got shape {a.shape}")
    if isinstance(kernel_size, (int, np.integer)) and not isinstance(kernel_size, bool):
        kernel_size = (int(kernel_size), int(kernel_size))
    kernel = tuple(kernel_size)
    if any(not is_int(s) or s < 1 for s in kernel):
        raise GraphError(f"kernel_size {kernel_size!r} is invalid: every entry must be an integer >= 1")
    n = a.shape[0]
    out_sizes = split_sizes(out_channels, n)
    in_sizes = split_sizes(in_channels, n)
    connect = a != 0
    if self_loops:
        connect = connect | np.eye(n, dtype=bool)
    mask = np.repeat(np.repeat(connect, out_sizes, axis=0), in_sizes, axis=1)
    if kernel:
        mask = np.broadcast_to(mask.reshape(mask.shape + (1,) * len(kernel)), mask.shape + kernel)
    return np.ascontiguousarray(mask)
