"""Forms "grouped" and "bmm": gather the input channels each chunk reads, then one grouped conv / batched matmul.

The gathered input has ``chunks * chunk_in`` channels (n * k * C_in/n for uniform RGP masks). The weights are the
packed kept blocks, so the convolution is dense per group. Padded or permuted outputs are put back in channel
order with one ``index_select``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rgp_bench.speedup.errors import FormUnavailable
from rgp_bench.speedup.packing import Packing

_CONV = {nn.Conv1d: F.conv1d, nn.Conv2d: F.conv2d}


def _output_positions(packing: Packing) -> torch.Tensor | None:
    return None if packing.output_is_ordered else torch.from_numpy(packing.output_positions())


class GatherGroupedConv(nn.Module):
    """Inference-only replacement for a masked Conv1d / Conv2d: gather + grouped conv (+ output reorder)."""

    weight: torch.Tensor  # buffers, declared so that attribute access is typed
    in_index: torch.Tensor
    bias: torch.Tensor | None
    out_positions: torch.Tensor | None

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, packing: Packing) -> None:
        super().__init__()
        if type(conv) not in _CONV:
            raise FormUnavailable(f"{type(conv).__name__} is not a Conv1d/Conv2d")
        if conv.groups != 1:
            raise FormUnavailable("the layer is already a grouped convolution")
        if conv.padding_mode != "zeros":
            raise FormUnavailable(f"padding_mode={conv.padding_mode!r} is not supported")
        self.conv_fn = _CONV[type(conv)]
        self.stride, self.padding, self.dilation = conv.stride, conv.padding, conv.dilation
        self.groups = packing.chunks
        packed = packing.pack_weight(conv.weight.detach())  # (chunks, chunk_out, chunk_in, *kernel)
        self.register_buffer("weight", packed.reshape(-1, *packed.shape[2:]).contiguous())
        self.register_buffer("in_index", torch.from_numpy(packing.in_index.reshape(-1)))
        self.register_buffer("bias", packing.pack_bias(conv.bias.detach() if conv.bias is not None else None))
        self.register_buffer("out_positions", _output_positions(packing))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv_fn(x.index_select(1, self.in_index), self.weight, self.bias, self.stride, self.padding,
                         self.dilation, self.groups)
        return y if self.out_positions is None else y.index_select(1, self.out_positions)


class GatherBmmLinear(nn.Module):
    """Inference-only replacement for a masked Linear: gather + one batched matmul over the chunks."""

    weight: torch.Tensor  # buffers, declared so that attribute access is typed
    in_index: torch.Tensor
    bias: torch.Tensor | None
    out_positions: torch.Tensor | None

    def __init__(self, linear: nn.Linear, packing: Packing) -> None:
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise FormUnavailable(f"{type(linear).__name__} is not a Linear")
        self.chunks, self.chunk_in, self.chunk_out = packing.chunks, packing.chunk_in, packing.chunk_out
        self.in_features, self.out_features = linear.in_features, linear.out_features
        packed = packing.pack_weight(linear.weight.detach())  # (chunks, chunk_out, chunk_in)
        self.register_buffer("weight", packed.transpose(1, 2).contiguous())  # (chunks, chunk_in, chunk_out)
        self.register_buffer("in_index", torch.from_numpy(packing.in_index.reshape(-1)))
        self.register_buffer("bias", packing.pack_bias(linear.bias.detach() if linear.bias is not None else None))
        self.register_buffer("out_positions", _output_positions(packing))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        rows = x.reshape(-1, self.in_features)
        gathered = rows.index_select(1, self.in_index).view(-1, self.chunks, self.chunk_in).transpose(0, 1)
        y = torch.bmm(gathered, self.weight).transpose(0, 1).reshape(rows.shape[0], -1)
        if self.bias is not None:
            y = y + self.bias
        if self.out_positions is not None:
            y = y.index_select(1, self.out_positions)
        return y.reshape(*lead, self.out_features)
