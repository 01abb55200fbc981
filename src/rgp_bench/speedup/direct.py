"""Form "direct": the C++ register-tiled block-sparse direct convolution (see ``csrc/conv_kernel.h``).

Conv2d runs as is; Conv1d as a conv over a 1-row image; Linear as a 1x1 conv over a 1-row "image" whose columns
are the batch rows. This module computes the phase-plane geometry for each input size (cached), the register tile
for the build's vector width (a cost model, :func:`choose_tile`), and packs the kept weights as (chunks, slots, taps,
chunk_out) with the taps grouped into kernel rows, the order the kernel reads them.

Eager calls go straight to the extension. Under torch.compile and torch.export the kernel is the operator
``rgp_bench::block_sparse_conv2d`` (defined in C++, with a shape-only fake implementation registered from Python), so
a materialised model can itself be compiled (Inductor then fuses what is around it) or exported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from rgp_bench.core.layer_types import WeightLayer
from rgp_bench.speedup import kernel as kernel_state
from rgp_bench.speedup.errors import FormUnavailable
from rgp_bench.speedup.kernel import SimdInfo, kernel_op, kernel_status, load_kernel, simd_info
from rgp_bench.speedup.packing import Packing

# Cost model of one register tile (cycles, for choosing its shape; fitted to tile sweeps on an AVX2 machine): two
# FMAs and two vector loads per cycle, an unaligned input load counted as LOAD_COST loads, and a per-vector and
# per-tile cost of the epilogue. With more vectors than output channels the compiler feeds each FMA straight from
# memory, so every input vector is loaded once per output channel (a repeat load counted as RELOAD_COST loads).
LOAD_COST = 1.25
RELOAD_COST = 0.5
STORE_COST = 4.0
TILE_OVERHEAD = 30.0
BLOCKS = (8, 4, 2, 1)  # output channels per register tile the kernel is compiled for


def _blocks_of(chunk_out: int, block: int) -> list[int]:
    """The kernel's split of a chunk's outputs: blocks of ``block``, halved where fewer channels are left."""
    sizes, o0 = [], 0
    while o0 < chunk_out:
        gb = block
        while gb > 1 and o0 + gb > chunk_out:
            gb //= 2
        sizes.append(gb)
        o0 += gb
    return sizes


def tile_cost(length: int, chunk_out: int, terms: int, lanes: int, vectors: int, block: int) -> float:
    """Modelled cycles for one (image, chunk): every output block over every tile of ``vectors`` vectors."""
    tiles = math.ceil(length / (lanes * vectors))
    total = 0.0
    for gb in _blocks_of(chunk_out, block):
        loads = LOAD_COST * vectors + gb
        if vectors > gb:
            loads += RELOAD_COST * LOAD_COST * (gb - 1) * vectors
        inner = terms * max(gb * vectors, loads) / 2
        total += tiles * (inner + STORE_COST * gb * vectors + TILE_OVERHEAD)
    return total


def choose_tile(length: int, chunk_out: int, terms: int, simd: SimdInfo) -> tuple[int, int]:
    """(vectors, output channels) of the register tile with the least modelled time; ``terms`` = slots x taps."""
    shapes = [(v, gb) for gb in BLOCKS for v in range(1, simd.max_tile_vectors + 1) if simd.tile_fits(gb, v)]
    return min(shapes, key=lambda s: (tile_cost(length, chunk_out, terms, simd.lanes, *s), -s[0] * s[1]))


ROW_TILE_VECTORS = (1, 2, 4)  # vectors per row of a row tile the kernel is compiled for
MAX_TILE_ROWS = 6


def rows_tile_fits(rows: int, vectors: int, simd: SimdInfo) -> bool:
    """Mirrors the kernel's rows_tile_fits: rows x vectors partial sums, one row of loaded vectors, a weight."""
    return rows <= MAX_TILE_ROWS and rows * vectors + vectors + 1 <= simd.registers


def rows_cost(h_out: int, w_out: int, chunk_out: int, slots: int, lanes: int, rows: int, vectors: int) -> float:
    """Modelled cycles for one (image, chunk) with row tiles (3x3 stride 1): each input row of the window is loaded
    once per horizontal tap and feeds up to three output rows; every FMA takes a broadcast weight."""
    tiles = math.ceil(h_out / rows) * math.ceil(w_out / (vectors * lanes))
    loads = LOAD_COST * vectors * (rows + 2) * 3 + 9 * rows
    per_slot = max(9 * rows * vectors, loads) / 2
    return chunk_out * tiles * (slots * per_slot + STORE_COST * rows * vectors + TILE_OVERHEAD)


def choose_rows_tile(h_out: int, w_out: int, chunk_out: int, slots: int, simd: SimdInfo) -> tuple[int, int, float]:
    """(rows, vectors, modelled cycles) of the cheapest row tile."""
    shapes = [(r, v) for v in ROW_TILE_VECTORS for r in range(1, MAX_TILE_ROWS + 1) if rows_tile_fits(r, v, simd)]
    costs = [(rows_cost(h_out, w_out, chunk_out, slots, simd.lanes, r, v), r, v) for r, v in shapes]
    cost, rows, vectors = min(costs)
    return rows, vectors, cost


@dataclass(frozen=True)
class TapLayout:
    """Kernel taps as the kernel reads them: phase planes, and taps grouped into rows of one plane and offset."""

    phases: tuple[tuple[int, int], ...]  # (py, px) of each phase plane, in padded-input coordinates
    order: tuple[int, ...]  # tap indices (dy * kw + dx) in row order; the packed weight follows it
    rows: tuple[tuple[int, int, int], ...]  # (plane, qy, qx // lanes) of each row
    row_of_tap: tuple[int, ...]  # row of each tap, in ``order``
    shift: tuple[int, ...]  # qx % lanes of each tap, in ``order``
    offsets: tuple[tuple[int, int], ...]  # (qy, qx) of each tap in its plane, in ``order``
    max_qy: int
    max_qx: int


def tap_layout(kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], lanes: int) -> TapLayout:
    """Split the padded input into stride phases; tap (dy, dx) reads phase (dy*d % s) at offset (dy*d // s).

    Taps whose offsets fall in the same ``lanes``-float vector of one plane row form one kernel row."""
    taps = []
    for dy in range(kernel[0]):
        for dx in range(kernel[1]):
            oy, ox = dy * dilation[0], dx * dilation[1]
            taps.append(((oy % stride[0], ox % stride[1]), oy // stride[0], ox // stride[1]))
    phases = tuple(dict.fromkeys(phase for phase, _, _ in taps))
    keys = [(phases.index(phase), qy, qx // lanes) for phase, qy, qx in taps]
    rows = tuple(dict.fromkeys(keys))
    order = tuple(sorted(range(len(taps)), key=lambda t: rows.index(keys[t])))
    return TapLayout(
        phases=phases, order=order, rows=rows, row_of_tap=tuple(rows.index(keys[t]) for t in order),
        shift=tuple(taps[t][2] % lanes for t in order), offsets=tuple((taps[t][1], taps[t][2]) for t in order),
        max_qy=max(qy for _, qy, _ in taps), max_qx=max(qx for _, _, qx in taps),
    )


@dataclass(frozen=True)
class PlaneGeometry:
    """Per-input-size arguments of the kernel call."""

    h_out: int
    w_out: int
    hq: int
    wq: int
    plane_stride: int
    tile_kind: int  # FLAT_TILES, ROW_TILES or PIXEL_TILES
    tile_vectors: int  # vectors per tile (flat), per tile row (rows), or pixels per tile row (pixels)
    tile_block: int  # output channels per register tile (flat; 1 for rows, 8 for pixels)
    tile_rows: int  # output rows per tile (rows and pixels; 0 for flat)
    phases: list[int]  # (py, px) of each plane, flattened
    row_base: list[int]  # flat offset of each kernel row (plane * plane_stride + offset)
    row_end: list[int]  # one past each row's last tap


FLAT_TILES, ROW_TILES, PIXEL_TILES = 0, 1, 2  # the kernel's tile kinds
PIXEL_SHAPES = ((1, 4), (1, 8), (2, 4), (2, 8), (3, 4), (3, 8), (4, 4), (4, 8))  # (rows, pixels per row) compiled
PIXEL_STORE_COST = 1.5  # cycles per output of a pixel tile's scalar epilogue
PIXEL_BROADCAST_COST = 1.2  # loads per broadcast input (fitted: pixel tiles measured 0.9x flat on 4x4 maps)


def pixel_tile_fits(rows: int, pixels: int, simd: SimdInfo) -> bool:
    """Mirrors the kernel's pixel_tile_fits: one 8-float accumulator per pixel, a weight and a broadcast input."""
    return rows * pixels + 2 <= simd.registers


def pixel_cost(h_out: int, w_out: int, chunk_out: int, terms: int, rows: int, pixels: int) -> float:
    """Modelled cycles for one (image, chunk) with pixel tiles: per (slot, tap), one weight load and one broadcast
    per pixel feed one FMA each (load-bound: two loads per cycle)."""
    tiles = math.ceil(h_out / rows) * math.ceil(w_out / pixels)
    count = rows * pixels
    per_term = (1 + PIXEL_BROADCAST_COST * count) / 2
    return chunk_out // 8 * tiles * (terms * per_term + PIXEL_STORE_COST * 8 * count + TILE_OVERHEAD)


def choose_pixel_tile(h_out: int, w_out: int, chunk_out: int, terms: int, simd: SimdInfo) -> tuple[int, int, float]:
    """(rows, pixels per row, modelled cycles) of the cheapest pixel tile."""
    costs = [(pixel_cost(h_out, w_out, chunk_out, terms, r, p), r, p) for r, p in PIXEL_SHAPES
             if pixel_tile_fits(r, p, simd)]
    cost, rows, pixels = min(costs)
    return rows, pixels, cost


def row_tiles_apply(layout: TapLayout, kernel: tuple[int, int], stride: tuple[int, int],
                    dilation: tuple[int, int]) -> bool:
    """Row tiles are compiled for 3x3, stride 1, dilation 1 (taps in dy * 3 + dx order, one plane)."""
    return kernel == (3, 3) and stride == (1, 1) and dilation == (1, 1) and layout.order == tuple(range(9))


def plane_geometry(layout: TapLayout, h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int], dilation: tuple[int, int], chunk_out: int, slots: int,
                   simd: SimdInfo, allow_rows: bool = True) -> PlaneGeometry:
    """Plane sizes for an h x w input: wide enough that every tap of a valid output reads inside its plane, and
    long enough (zero slack) that whole-vector reads past the last tile stay inside the buffer. The register tile
    is the cheapest modelled one: flat, or (with ``allow_rows``, i.e. one load per tap) row tiles for 3x3 stride 1,
    or pixel tiles where chunks have a multiple of 8 outputs."""
    lanes = simd.lanes
    h_out = (h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    w_out = (w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(f"input {h}x{w} is too small for this convolution")
    hq, wq = h_out + layout.max_qy, w_out + layout.max_qx
    length = h_out * wq
    terms = slots * len(layout.order)
    vectors, block = choose_tile(length, chunk_out, terms, simd)
    kind, tile_rows, best = FLAT_TILES, 0, tile_cost(length, chunk_out, terms, lanes, vectors, block)
    if allow_rows and row_tiles_apply(layout, kernel, stride, dilation):
        rows, row_vectors, cost = choose_rows_tile(h_out, w_out, chunk_out, slots, simd)
        if cost < best:
            kind, tile_rows, vectors, block, best = ROW_TILES, rows, row_vectors, 1, cost
    if allow_rows and chunk_out % 8 == 0:
        rows, pixels, cost = choose_pixel_tile(h_out, w_out, chunk_out, terms, simd)
        if cost < best:
            kind, tile_rows, vectors, block, best = PIXEL_TILES, rows, pixels, 8, cost
    tile = lanes * vectors
    last_start = (length - 1) // tile * tile
    rel = [qy * wq + qv * lanes for _, qy, qv in layout.rows]
    needed = max(hq * wq, last_start + max(rel) + tile + lanes)
    if kind == ROW_TILES:
        rows_read = math.ceil(h_out / tile_rows) * tile_rows + 2
        needed = max(hq * wq, (rows_read - 1) * wq + math.ceil(w_out / tile) * tile + 2)
    elif kind == PIXEL_TILES:
        last_row = math.ceil(h_out / tile_rows) * tile_rows - 1
        last_col = math.ceil(w_out / vectors) * vectors - 1
        reach = max(qy * wq + qx for qy, qx in layout.offsets)
        needed = max(hq * wq, reach + last_row * wq + last_col + 1)
    plane_stride = math.ceil(needed / lanes) * lanes
    ends = [0] * len(layout.rows)
    for position, row in enumerate(layout.row_of_tap):
        ends[row] = position + 1
    return PlaneGeometry(
        h_out=h_out, w_out=w_out, hq=hq, wq=wq, plane_stride=plane_stride, tile_kind=kind, tile_vectors=vectors,
        tile_block=block, tile_rows=tile_rows,
        phases=[c for phase in layout.phases for c in phase],
        row_base=[plane * plane_stride + r for (plane, _, _), r in zip(layout.rows, rel, strict=True)],
        row_end=ends,
    )


def call_kernel(name: str, *args):
    """Eager calls go straight to the extension's Python binding (no dispatcher); under torch.compile / export the
    operator ``torch.ops.rgp_bench.<name>`` (with its fake implementation) is traced instead, and without a loaded
    kernel it raises the reason."""
    module = kernel_state._module
    if module is None or torch.compiler.is_compiling():
        return kernel_op(name)(*args)
    return getattr(module, name)(*args)


def bn_scale_shift(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) of an eval-mode BatchNorm: bn(y) = y * scale + shift."""
    # An eval-mode BatchNorm that can be folded tracks running statistics (fuse folds only those).
    assert bn.running_var is not None and bn.running_mean is not None
    scale = torch.rsqrt(bn.running_var.detach() + bn.eps)
    shift = -bn.running_mean.detach() * scale
    if bn.weight is not None:
        scale = scale * bn.weight.detach()
        shift = shift * bn.weight.detach() + bn.bias.detach()
    return scale.float(), shift.float()


def _as_conv2d_params(module: WeightLayer) -> tuple[torch.Tensor, tuple, tuple, tuple, tuple]:
    """(weight as 4-D, kernel, stride, padding, dilation) of a Conv2d, Conv1d or Linear seen as a 2-D conv."""
    weight = module.weight.detach()
    if isinstance(module, nn.Linear):
        return weight[:, :, None, None], (1, 1), (1, 1), (0, 0), (1, 1)
    if isinstance(module.padding, str):
        raise FormUnavailable(f"padding={module.padding!r} is not supported")
    if module.padding_mode != "zeros":
        raise FormUnavailable(f"padding_mode={module.padding_mode!r} is not supported")
    if isinstance(module, nn.Conv1d):
        return (weight[:, :, None, :], (1, module.kernel_size[0]), (1, module.stride[0]), (0, module.padding[0]),
                (1, module.dilation[0]))
    return weight, tuple(module.kernel_size), tuple(module.stride), tuple(module.padding), tuple(module.dilation)


class BlockSparseConv(nn.Module):
    """Inference-only replacement for a masked Conv2d / Conv1d / Linear computed by the C++ kernel.

    ``shift_loads`` selects the kernel's inner loop: load each kernel row once and shift in registers (better for
    narrow chunks), or load every tap separately. The epilogue can take a following BatchNorm
    (:meth:`fold_batch_norm`), ReLU (``relu``) and, for Conv2d, a residual added before the ReLU (the second
    argument of ``forward``); :mod:`rgp_bench.speedup.fuse` sets these up.
    """

    weight: torch.Tensor  # buffers, declared so that attribute access is typed
    in_index: torch.Tensor
    out_index: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, module: WeightLayer, packing: Packing, shift_loads: bool) -> None:
        super().__init__()
        kernel = load_kernel(build=False)
        if kernel is None:
            raise FormUnavailable(f"C++ kernel {kernel_status().detail}")
        if module.weight.dtype != torch.float32 or module.weight.device.type != "cpu":
            raise FormUnavailable("the C++ kernel runs float32 on CPU only")
        if getattr(module, "groups", 1) != 1:
            raise FormUnavailable("grouped convolutions are not supported")
        self.simd = simd_info(kernel)
        weight, self.kernel_size, self.stride, self.padding, self.dilation = _as_conv2d_params(module)
        self.kind = type(module).__name__
        self.out_channels, self.in_channels = packing.out_channels, packing.in_channels
        self.layout = tap_layout(self.kernel_size, self.stride, self.dilation, self.simd.lanes)
        self.shift_loads = shift_loads
        self.relu = False
        packed = packing.pack_weight(weight)  # (chunks, chunk_out, chunk_in, kh, kw)
        packed = packed.reshape(packing.chunks, packing.chunk_out, packing.chunk_in, -1)[..., list(self.layout.order)]
        self.register_buffer("weight", packed.permute(0, 2, 3, 1).contiguous())
        self.register_buffer("in_index", torch.from_numpy(packing.in_index).to(torch.int32))
        self.register_buffer("out_index", torch.from_numpy(packing.out_index).to(torch.int32))
        self.register_buffer("bias", module.bias.detach().clone() if module.bias is not None else None)
        self._geometry: dict[tuple[int, int], PlaneGeometry] = {}

    def extra_repr(self) -> str:
        chunks, slots, taps, chunk_out = self.weight.shape
        return (f"{self.kind} {self.in_channels}->{self.out_channels}, {chunks} chunks x {chunk_out} out reading "
                f"{slots} in, {taps} taps, stride={self.stride}, shift_loads={self.shift_loads}, relu={self.relu}")

    @torch.no_grad()
    def fold_batch_norm(self, bn: nn.BatchNorm1d | nn.BatchNorm2d) -> None:
        """Make this layer compute ``bn(layer(x))`` (eval-mode BatchNorm over the output channels)."""
        scale, shift = bn_scale_shift(bn)
        per_packed = scale[self.out_index.clamp(min=0).long()]  # (chunks, chunk_out); padding weights stay 0
        self.weight.mul_(per_packed[:, None, None, :])
        self.bias = shift if self.bias is None else self.bias * scale + shift

    def geometry(self, h: int, w: int) -> PlaneGeometry:
        key = (h, w)
        if key not in self._geometry:
            _, slots, _, chunk_out = self.weight.shape
            self._geometry[key] = plane_geometry(self.layout, h, w, self.kernel_size, self.stride, self.padding,
                                                 self.dilation, int(chunk_out), int(slots), self.simd,
                                                 allow_rows=not self.shift_loads)
        return self._geometry[key]

    def _conv(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        g = self._geometry.get((x.shape[2], x.shape[3])) or self.geometry(x.shape[2], x.shape[3])
        b = self._buffers  # not self.weight etc.: see BlockSparseLinear.forward
        return call_kernel(
            "block_sparse_conv2d", x, b["weight"], b["in_index"], b["out_index"], b["bias"],
            residual, g.phases, g.row_base, g.row_end, list(self.layout.shift), self.out_channels, g.h_out, g.w_out,
            self.stride[0], self.stride[1], self.padding[0], self.padding[1], g.hq, g.wq, g.plane_stride,
            g.tile_kind, g.tile_vectors, g.tile_block, g.tile_rows, self.shift_loads, self.relu)

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        if self.kind == "Linear":
            lead = x.shape[:-1]
            rows = x.reshape(-1, self.in_channels)
            out = self._conv(rows.t().contiguous().view(1, self.in_channels, 1, rows.shape[0]))
            return out.view(self.out_channels, rows.shape[0]).t().reshape(*lead, self.out_channels)
        if self.kind == "Conv1d":
            res = residual.unsqueeze(2) if residual is not None else None
            return self._conv(x.unsqueeze(2), res).squeeze(2)
        return self._conv(x, residual)
