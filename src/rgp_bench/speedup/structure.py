"""Block structure of a layer's weight mask: which output channels read which input channels.

A mask has block structure when it is constant over each kernel (whole 2-D/1-D kernels are kept or removed).
Output channels whose rows of the (C_out, C_in) channel mask are identical form one *output group*; RGP gives n of
them, each reading k of the n input groups. Nothing here assumes contiguous groups, so per-layer channel
permutations (``method.permute_layers``) and uneven group sizes (channels not divisible by n) are found as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


class NotBlockStructured(ValueError):
    """The mask is not constant over each kernel, so no channel-group form can reproduce it."""


@dataclass(frozen=True)
class OutputGroup:
    """Output channels that read exactly the same input channels (both sorted ascending)."""

    out_channels: tuple[int, ...]
    in_channels: tuple[int, ...]


@dataclass(frozen=True)
class BlockStructure:
    """The output groups of one layer's mask, in order of their first output channel."""

    out_channels: int
    in_channels: int
    groups: tuple[OutputGroup, ...]

    @property
    def out_sizes(self) -> list[int]:
        return [len(g.out_channels) for g in self.groups]

    @property
    def in_sizes(self) -> list[int]:
        return [len(g.in_channels) for g in self.groups]

    @property
    def uniform(self) -> bool:
        """Every group has the same number of outputs and of inputs: a grouped conv fits without padding."""
        return len(set(self.out_sizes)) == 1 and len(set(self.in_sizes)) == 1

    @property
    def kept_fraction(self) -> float:
        kept = sum(len(g.out_channels) * len(g.in_channels) for g in self.groups)
        return kept / (self.out_channels * self.in_channels)

    def describe(self) -> str:
        """One line, e.g. ``64 groups x 8 out, each reading 64 in`` or the size ranges when uneven."""
        outs, ins = sorted(set(self.out_sizes)), sorted(set(self.in_sizes))

        def span(values: list[int]) -> str:
            return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"

        return f"{len(self.groups)} groups x {span(outs)} out, each reading {span(ins)} in"


def channel_mask(mask: torch.Tensor | np.ndarray) -> np.ndarray:
    """The (C_out, C_in) boolean channel mask of a weight mask of shape (C_out, C_in, *kernel).

    Raises :class:`NotBlockStructured` if the mask differs between taps of one kernel.
    """
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    m = m != 0
    if m.ndim < 2:
        raise NotBlockStructured(f"a weight mask needs at least 2 dimensions, got shape {m.shape}")
    flat = m.reshape(m.shape[0], m.shape[1], -1)
    first = flat[:, :, :1]
    if not np.array_equal(flat, np.broadcast_to(first, flat.shape)):
        raise NotBlockStructured("mask varies within kernels (not whole-kernel block sparsity)")
    return np.ascontiguousarray(first[:, :, 0])


def analyse_mask(mask: torch.Tensor | np.ndarray) -> BlockStructure:
    """Find the output groups of a conv (C_out, C_in, kh, kw), Conv1d (C_out, C_in, k) or Linear (C_out, C_in) mask.

    Raises :class:`NotBlockStructured` if the mask varies within a kernel.
    """
    rows = channel_mask(mask)
    c_out, c_in = rows.shape
    _, first_row, inverse = np.unique(np.packbits(rows, axis=1), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    groups = []
    for label in np.argsort(first_row, kind="stable"):
        outs = np.flatnonzero(inverse == label)
        ins = np.flatnonzero(rows[outs[0]])
        groups.append(OutputGroup(tuple(int(o) for o in outs), tuple(int(i) for i in ins)))
    return BlockStructure(c_out, c_in, tuple(groups))
