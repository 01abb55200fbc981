"""Form "tapsum": the convolution written as a sum over (input slot, kernel tap) terms, fused by torch.compile.

Each packed output channel p reads slots s = 0..chunk_in-1 (input channel ``index[s, p]``). For every slot and
every kernel tap the gathered, shifted input is multiplied by that tap's per-output-channel weight and
accumulated; Inductor fuses the whole sum into one loop over the output. This wins on narrow layers, where a grouped
conv leaves most vector lanes idle (rgp-speedup.md: 3.1x / 1.7x on 64@32x32 at k = 4 / 8 of 64).

Pitfalls handled here (all measured): padding happens once, *outside* the compiled graph (inside it, boundary masks
end up in the fused loop, 0.84x instead of 1.74x); every layer is a new compiled instance, so Dynamo's recompile
limit is raised (with the default of 8 the 9th layer silently runs eager, at 0.02x); compilation uses
``freezing`` (weights become constants) and must first run without autograd (``torch.no_grad`` /
``torch.inference_mode``). Compiling takes seconds per layer, so the number of terms is capped.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from rgp_bench.speedup.errors import FormUnavailable
from rgp_bench.speedup.packing import Packing

MAX_TERMS = 160  # slots x taps; compile time grows with it and wide layers are better served by other forms
RECOMPILE_LIMIT = 1024
_compiled: weakref.WeakKeyDictionary[nn.Module, Callable[[torch.Tensor], torch.Tensor]] = weakref.WeakKeyDictionary()


def raise_recompile_limit(limit: int = RECOMPILE_LIMIT) -> None:
    """Let Dynamo compile ``limit`` instances of one forward (process-wide; never lowers a higher setting)."""
    config = torch._dynamo.config
    config.cache_size_limit = max(config.cache_size_limit, limit)
    config.accumulated_cache_size_limit = max(config.accumulated_cache_size_limit, limit)


@torch.compiler.disable
def pad_outside_graph(x: torch.Tensor, pads: tuple[int, ...]) -> torch.Tensor:
    """Zero padding that stays eager even when a caller compiles the surrounding model."""
    return F.pad(x, pads) if any(pads) else x


def _tap_offsets(kernel: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every kernel position, row-major (the order of the flattened kernel)."""
    offsets: list[tuple[int, ...]] = [()]
    for k in kernel:
        offsets = [(*o, i) for o in offsets for i in range(k)]
    return offsets


class TapSumCore(nn.Module):
    """The compiled part: sum of slot x tap terms over an already padded input."""

    index: torch.Tensor  # buffers, declared so that attribute access is typed
    out_positions: torch.Tensor | None

    def __init__(self, weight: torch.Tensor, index: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...],
                 dilation: tuple[int, ...], bias: torch.Tensor | None, out_positions: torch.Tensor | None) -> None:
        super().__init__()
        # weight: (slots, taps, packed outputs); index: (slots, packed outputs). Parameters so freezing folds them.
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.register_buffer("index", index)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.register_buffer("out_positions", out_positions)
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.tap_offsets = _tap_offsets(kernel)

    def forward(self, xp: torch.Tensor) -> torch.Tensor:
        dims = len(self.stride)
        out_size = [(xp.shape[2 + d] - self.dilation[d] * (self.kernel[d] - 1) - 1) // self.stride[d] + 1
                    for d in range(dims)]
        view = (1, -1) + (1,) * dims
        acc = None
        for s in range(self.weight.shape[0]):
            gathered = xp.index_select(1, self.index[s])
            for t, offsets in enumerate(self.tap_offsets):
                window = [slice(None), slice(None)]
                for d in range(dims):
                    start = offsets[d] * self.dilation[d]
                    window.append(slice(start, start + self.stride[d] * (out_size[d] - 1) + 1, self.stride[d]))
                term = gathered[tuple(window)] * self.weight[s, t].view(view)
                acc = term if acc is None else acc + term
        acc = cast(torch.Tensor, acc)  # every layer has at least one slot and one tap
        if self.bias is not None:
            acc = acc + self.bias.view(view)
        return acc if self.out_positions is None else acc.index_select(1, self.out_positions)



class TapSumConv(nn.Module):
    """Inference-only replacement for a masked Conv1d / Conv2d: eager padding + a compiled tap-sum core."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, packing: Packing, max_terms: int = MAX_TERMS) -> None:
        super().__init__()
        if not isinstance(conv, nn.Conv1d | nn.Conv2d):
            raise FormUnavailable(f"{type(conv).__name__} is not a Conv1d/Conv2d")
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise FormUnavailable("only ungrouped convolutions with explicit zero padding are supported")
        kernel = tuple(conv.kernel_size)
        taps = 1
        for k in kernel:
            taps *= k
        terms = packing.chunk_in * taps
        if terms > max_terms:
            raise FormUnavailable(f"{packing.chunk_in} slots x {taps} taps = {terms} terms > {max_terms} "
                                  "(compile time)")
        packed = packing.pack_weight(conv.weight.detach())  # (chunks, chunk_out, chunk_in, *kernel)
        outputs = packing.chunks * packing.chunk_out
        weight = packed.reshape(outputs, packing.chunk_in, taps).permute(1, 2, 0).contiguous()
        index = torch.from_numpy(packing.in_index).repeat_interleave(packing.chunk_out, dim=0).t().contiguous()
        bias = packing.pack_bias(conv.bias.detach() if conv.bias is not None else None)
        positions = None if packing.output_is_ordered else torch.from_numpy(packing.output_positions())
        self.core = TapSumCore(weight, index, kernel, tuple(conv.stride), tuple(conv.dilation), bias, positions)
        # F.pad takes (last dim left, right, previous dim left, right, ...).
        self.pads = tuple(p for pad in reversed(conv.padding) for p in (pad, pad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_compiling():  # the whole model is being compiled: trace the core into that graph
            return self.core(pad_outside_graph(x, self.pads))
        compiled = _compiled.get(self)
        if compiled is None:
            raise_recompile_limit()
            compiled = torch.compile(self.core, dynamic=False, fullgraph=True, options={"freezing": True})
            _compiled[self] = compiled
        return compiled(pad_outside_graph(x, self.pads))
