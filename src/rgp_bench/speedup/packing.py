"""Pack a block structure into equal-sized chunks, the layout every fast form computes on.

A grouped conv needs every group to have the same number of outputs and inputs. Uneven structures (channels not
divisible by n, or two nodes with the same neighbourhood) are made uniform by splitting output groups into chunks
of ``chunk_out`` channels and padding: missing outputs are computed and dropped, missing inputs read channel 0 (or
the chunk's first input) with a zero weight. ``padding_overhead`` is the MAC cost of that padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rgp_bench.speedup.structure import BlockStructure

# Largest fraction of padded (computed, then dropped) output channels accepted when choosing the chunk size.
MAX_OUT_PADDING = 0.125


@dataclass(frozen=True)
class Packing:
    """``chunks`` chunks of ``chunk_out`` outputs, each reading ``chunk_in`` (padded) input channels."""

    out_channels: int
    in_channels: int
    in_index: np.ndarray  # (chunks, chunk_in) int64: input channel read in each slot
    in_valid: np.ndarray  # (chunks, chunk_in) bool: False for padding slots
    out_index: np.ndarray  # (chunks, chunk_out) int64: output channel of each slot, -1 for padding

    @property
    def chunks(self) -> int:
        return int(self.in_index.shape[0])

    @property
    def chunk_in(self) -> int:
        return int(self.in_index.shape[1])

    @property
    def chunk_out(self) -> int:
        return int(self.out_index.shape[1])

    @property
    def kept_connections(self) -> int:
        """Channel-to-channel connections of the mask (real, unpadded)."""
        valid_out = (self.out_index >= 0).sum(axis=1)
        return int((valid_out * self.in_valid.sum(axis=1)).sum())

    @property
    def padding_overhead(self) -> float:
        """Computed connections over real ones (1.0 = no padding)."""
        kept = self.kept_connections
        return self.chunks * self.chunk_out * self.chunk_in / kept if kept else float("inf")

    @property
    def output_is_ordered(self) -> bool:
        """The packed outputs are exactly channels 0..C_out-1 in order (no permutation or padding to undo)."""
        return np.array_equal(self.out_index.reshape(-1), np.arange(self.out_channels))

    def output_positions(self) -> np.ndarray:
        """For each output channel, its position among the ``chunks * chunk_out`` packed outputs."""
        flat = self.out_index.reshape(-1)
        positions = np.empty(self.out_channels, dtype=np.int64)
        real = flat >= 0
        positions[flat[real]] = np.flatnonzero(real)
        return positions

    def pack_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """Kept blocks of ``weight`` (C_out, C_in, *kernel) as (chunks, chunk_out, chunk_in, *kernel), zero-padded."""
        out_idx = torch.from_numpy(np.maximum(self.out_index, 0)).to(weight.device)
        in_idx = torch.from_numpy(self.in_index).to(weight.device)
        packed = weight[out_idx[:, :, None], in_idx[:, None, :]]
        keep = torch.from_numpy((self.out_index >= 0)[:, :, None] & self.in_valid[:, None, :]).to(weight.device)
        return packed * keep.reshape(keep.shape + (1,) * (weight.dim() - 2)).to(weight.dtype)

    def pack_bias(self, bias: torch.Tensor | None) -> torch.Tensor | None:
        """Bias of each packed output (0 for padding), shape (chunks * chunk_out,)."""
        if bias is None:
            return None
        flat = torch.from_numpy(self.out_index.reshape(-1)).to(bias.device)
        return torch.where(flat >= 0, bias[flat.clamp(min=0)], torch.zeros((), dtype=bias.dtype, device=bias.device))


def choose_chunk_out(out_sizes: list[int], max_out_padding: float = MAX_OUT_PADDING) -> int:
    """Largest chunk size whose padded output count stays within ``max_out_padding`` of the real one."""
    total = sum(out_sizes)
    for size in range(max(out_sizes), 1, -1):
        padded = sum(-(-m // size) * size for m in out_sizes)
        if padded <= (1.0 + max_out_padding) * total:
            return size
    return 1


def pack_blocks(structure: BlockStructure, max_out_padding: float = MAX_OUT_PADDING) -> Packing:
    """Split the output groups into equal chunks and pad every chunk's inputs to the largest input set."""
    chunk_out = choose_chunk_out(structure.out_sizes, max_out_padding)
    chunk_in = max(structure.in_sizes)
    in_rows, valid_rows, out_rows = [], [], []
    for group in structure.groups:
        ins = list(group.in_channels)
        pad_channel = ins[0] if ins else 0
        in_row = ins + [pad_channel] * (chunk_in - len(ins))
        valid_row = [True] * len(ins) + [False] * (chunk_in - len(ins))
        outs = list(group.out_channels)
        for start in range(0, len(outs), chunk_out):
            part = outs[start : start + chunk_out]
            out_rows.append(part + [-1] * (chunk_out - len(part)))
            in_rows.append(in_row)
            valid_rows.append(valid_row)
    return Packing(
        out_channels=structure.out_channels,
        in_channels=structure.in_channels,
        in_index=np.asarray(in_rows, dtype=np.int64).reshape(len(out_rows), chunk_in),
        in_valid=np.asarray(valid_rows, dtype=bool).reshape(len(out_rows), chunk_in),
        out_index=np.asarray(out_rows, dtype=np.int64).reshape(len(out_rows), chunk_out),
    )
