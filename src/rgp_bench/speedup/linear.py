"""Form "gemm": the C++ register-tiled block-sparse matrix product for masked Linear layers (``csrc/linear_kernel.h``).

Each chunk's kept block is packed as (chunk_in, outputs) with its outputs padded to whole vectors of 8 floats, so
one weight vector load feeds a row tile of fused multiply-adds; the input features are read in place through the
chunk's index (no gather copy) and the outputs are written straight into the (rows, C_out) result, with the bias
and an optional ReLU (and a folded BatchNorm) applied on the way out. Batch 1 runs the same code as a GEMV.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rgp_bench.speedup.direct import bn_scale_shift, call_kernel
from rgp_bench.speedup.errors import FormUnavailable
from rgp_bench.speedup.kernel import kernel_status, load_kernel
from rgp_bench.speedup.packing import Packing

BLOCK = 8  # outputs per weight vector in the kernel


def block_bases(out_index: np.ndarray) -> np.ndarray:
    """(chunks, blocks): the first output of each block of 8 whose outputs are 8 consecutive channels, else -1
    (such a block is stored with one vector store; others lane by lane, skipping padding)."""
    chunks, padded = out_index.shape
    blocks = out_index.reshape(chunks, padded // BLOCK, BLOCK)
    consecutive = (blocks[..., :1] >= 0) & (blocks == blocks[..., :1] + np.arange(BLOCK)).all(axis=-1, keepdims=True)
    return np.where(consecutive[..., 0], blocks[..., 0], -1)


class BlockSparseLinear(nn.Module):
    """Inference-only replacement for a masked Linear computed by the C++ block-sparse matrix product."""

    weight: torch.Tensor  # buffers, declared so that attribute access is typed
    in_index: torch.Tensor
    out_index: torch.Tensor
    out_base: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, linear: nn.Linear, packing: Packing) -> None:
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise FormUnavailable(f"{type(linear).__name__} is not a Linear")
        if load_kernel(build=False) is None:
            raise FormUnavailable(f"C++ kernel {kernel_status().detail}")
        if linear.weight.dtype != torch.float32 or linear.weight.device.type != "cpu":
            raise FormUnavailable("the C++ kernel runs float32 on CPU only")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.relu = False
        chunks, chunk_out = packing.chunks, packing.chunk_out
        padded = -(-chunk_out // BLOCK) * BLOCK
        out_index = np.full((chunks, padded), -1, dtype=np.int64)
        out_index[:, :chunk_out] = packing.out_index
        packed = packing.pack_weight(linear.weight.detach())  # (chunks, chunk_out, chunk_in)
        weight = torch.zeros(chunks, padded, packing.chunk_in, dtype=torch.float32)
        weight[:, :chunk_out] = packed
        self.register_buffer("weight", weight.transpose(1, 2).contiguous())  # (chunks, chunk_in, padded)
        self.register_buffer("in_index", torch.from_numpy(packing.in_index).to(torch.int32).contiguous())
        self.register_buffer("out_index", torch.from_numpy(out_index).to(torch.int32).contiguous())
        self.register_buffer("out_base", torch.from_numpy(block_bases(out_index)).to(torch.int32).contiguous())
        bias = None
        if linear.bias is not None:
            bias = self._per_packed_output(linear.bias.detach().float())
        self.register_buffer("bias", bias)

    def _per_packed_output(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` (one per output feature) laid out like the packed outputs, 0 for padding."""
        index = self.out_index.long()
        return torch.where(index >= 0, values[index.clamp(min=0)], torch.zeros(())).contiguous()

    def extra_repr(self) -> str:
        chunks, chunk_in, padded = self.weight.shape
        return (f"{self.in_features}->{self.out_features}, {chunks} chunks x {padded} out (padded) reading "
                f"{chunk_in} in, relu={self.relu}")

    @torch.no_grad()
    def fold_batch_norm(self, bn: nn.BatchNorm1d | nn.BatchNorm2d) -> None:
        """Make this layer compute ``bn(layer(x))`` (eval-mode BatchNorm1d over the output features)."""
        scale, shift = bn_scale_shift(bn)
        packed_scale = self._per_packed_output(scale)
        self.weight.mul_(packed_scale[:, None, :])
        packed_shift = self._per_packed_output(shift)
        self.bias = packed_shift if self.bias is None else self.bias * packed_scale + packed_shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Buffers read from the dict: `self.weight` would first fail a normal attribute lookup (raising and
        # formatting an AttributeError) before nn.Module.__getattr__ finds it, about a microsecond each.
        b = self._buffers
        rows = x if x.dim() == 2 else x.reshape(-1, self.in_features)
        y = call_kernel("block_sparse_linear", rows, b["weight"], b["in_index"], b["out_index"],
                        b["out_base"], b["bias"], self.out_features, self.relu)
        return y if x.dim() == 2 else y.reshape(*x.shape[:-1], self.out_features)
