"""Map a graph onto a layer: nodes are contiguous channel groups, edges keep whole kernels between groups.

This is the RGP authors' `GraphConv2D.compute_densemask` (Holidays1999/Neural-Network-Pruning-through-its-
RegularGraph-Structure, `utils/conv_type.py`): the adjacency repeated along the inputs and the outputs by the
group sizes. When the channels do not divide evenly, `channels % nodes` groups get one channel more: the first
ones (``larger_first``, the default), or those the authors' `compute_size` picks by permuting the size vector with
``np.random.seed(1)`` (``permuted``). With evenly divisible channels both are the same.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from .errors import GraphError, is_int

__all__ = ["GROUP_SIZES", "block_mask", "split_sizes"]

# Which groups get the extra channels when channels % nodes != 0 (see the module docstring).
GROUP_SIZES: tuple[str, ...] = ("larger_first", "permuted")
_AUTHORS_SEED = 1  # compute_size(channel, nodes, seed=1)


def split_sizes(channels: int, nodes: int, group_sizes: str = "larger_first") -> np.ndarray:
    """Sizes of ``nodes`` contiguous channel groups: ``channels // nodes`` each, ``channels % nodes`` of them one
    more: the first ones (``larger_first``) or the authors' seed-1 permutation of that vector (``permuted``).
    Raises :class:`GraphError` if ``nodes > channels``, either is < 1, or ``group_sizes`` is unknown."""
    for name, value in (("channels", channels), ("nodes", nodes)):
        if not is_int(value):
            raise GraphError(f"{name} must be an integer, got {value!r}")
    if nodes < 1:
        raise GraphError(f"nodes {nodes} is out of range: it must be >= 1")
    if channels < nodes:
        raise GraphError(f"nodes {nodes} exceeds channels {channels}: each node needs at least one channel")
    if group_sizes not in GROUP_SIZES:
        raise GraphError(f"unknown group_sizes {group_sizes!r}: choose one of {', '.join(GROUP_SIZES)}")
    sizes = np.full(nodes, channels // nodes, dtype=np.int64)
    sizes[: channels % nodes] += 1
    if group_sizes == "permuted":
        # np.random.seed(1); np.random.permutation(sizes), without touching numpy's global generator.
        sizes = np.random.RandomState(_AUTHORS_SEED).permutation(sizes)
    return sizes


def block_mask(
    adjacency: np.ndarray,
    out_channels: int,
    in_channels: int,
    kernel_size: tuple[int, ...] | int = (),
    *,
    self_loops: bool = False,
    group_sizes: str = "larger_first",
) -> np.ndarray:
    """Boolean mask of shape ``(out_channels, in_channels, *kernel_size)``.

    Entry ``(o, i, ...)`` is True iff the group of output channel ``o`` is adjacent to the group of input channel
    ``i`` (or is the same group when ``self_loops``). Groups come from :func:`split_sizes` (with ``group_sizes``),
    identically on both sides. An integer ``kernel_size`` means a square 2-D kernel. Raises :class:`GraphError` if
    the adjacency is not square or ``nodes`` exceeds either channel count.
    """
    a = np.asarray(adjacency)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise GraphError(f"adjacency must be a non-empty square matrix, got shape {a.shape}")
    if isinstance(kernel_size, (int, np.integer)) and not isinstance(kernel_size, bool):
        kernel_size = (int(kernel_size), int(kernel_size))
    # mypy keeps `bool` in the type after the `and not` above; a bool still fails tuple() here, as before.
    kernel = tuple(cast("tuple[int, ...]", kernel_size))
    if any(not is_int(s) or s < 1 for s in kernel):
        raise GraphError(f"kernel_size {kernel_size!r} is invalid: every entry must be an integer >= 1")
    n = a.shape[0]
    out_sizes = split_sizes(out_channels, n, group_sizes)
    in_sizes = split_sizes(in_channels, n, group_sizes)
    connect = a != 0
    if self_loops:
        connect = connect | np.eye(n, dtype=bool)
    mask = np.repeat(np.repeat(connect, out_sizes, axis=0), in_sizes, axis=1)
    if kernel:
        mask = np.broadcast_to(mask.reshape(mask.shape + (1,) * len(kernel)), mask.shape + kernel)
    return np.ascontiguousarray(mask)
