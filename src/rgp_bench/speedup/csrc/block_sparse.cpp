// RGP's block-sparse CPU kernels (conv_kernel.h, linear_kernel.h) as torch operators (rgp_bench::block_sparse_conv2d,
// rgp_bench::block_sparse_linear, registered for CPU when the library is loaded, so that an exported program using
// them runs in a plain torch process after torch.ops.load_library) and as Python bindings (the eager fast path):
// argument checks, output allocation and the split of the work over threads.

#include <ATen/ATen.h>
#include <torch/csrc/utils/pybind.h>
#include <torch/library.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "conv_kernel.h"
#include "linear_kernel.h"
#include "simd.h"

namespace {

// 64-byte aligned float scratch (phase planes), so aligned tiles start on cache-line boundaries.
struct AlignedBuffer {
  explicit AlignedBuffer(int64_t floats)
      : data(static_cast<float*>(std::aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64))) {
    TORCH_CHECK(data != nullptr, "block_sparse_conv2d: out of memory for the phase planes");
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  float* data;
};

// Every index in [lo, hi): a min/max reduction the compiler vectorises (checked on every call, so it must be cheap).
bool indices_within(const at::Tensor& index, int64_t lo, int64_t hi) {
  const int32_t* p = index.data_ptr<int32_t>();
  const int64_t count = index.numel();
  int32_t smallest = INT32_MAX, largest = INT32_MIN;
  for (int64_t i = 0; i < count; ++i) {
    smallest = std::min(smallest, p[i]);
    largest = std::max(largest, p[i]);
  }
  return count == 0 || (smallest >= lo && largest < hi);
}

const float* optional_float(const std::optional<at::Tensor>& t, int64_t numel, const char* what,
                            at::Tensor& keep) {
  if (!t.has_value() || !t->defined() || t->numel() == 0) return nullptr;
  TORCH_CHECK(t->scalar_type() == at::kFloat && t->device().is_cpu(), "block-sparse kernel: ", what,
              " must be a float32 CPU tensor");
  TORCH_CHECK(t->numel() == numel, "block-sparse kernel: ", what, " has ", t->numel(), " elements, expected ",
              numel);
  keep = t->contiguous();
  return keep.data_ptr<float>();
}

}  // namespace

// Vector width and register budget this build was compiled for (the Python side sizes its tiles with them).
std::vector<int64_t> simd_info() { return {rgp::kLanes, rgp::kVectorRegisters, rgp::kMaxTileVectors}; }

// x: (N, C_in, H, W); weight: (chunks, slots, taps, chunk_out); in_index: (chunks, slots) int32;
// out_index: (chunks, chunk_out) int32, -1 = padding; bias: (C_out,) or None; residual: (N, C_out, H_out, W_out)
// or None, added before the ReLU; phase_yx: (py, px) pairs, the padded-input phase of each plane; row_base /
// row_end: flat offset (plane * plane_stride + offset) of each kernel row and one past its last tap; tap_shift:
// shift (0..kLanes-1) of each tap within its row. Taps are in weight order, grouped by row. tile_kind: 0 = flat
// tiles of tile_block channels x tile_vectors vectors; 1 = row tiles of tile_rows x tile_vectors vectors (3x3
// stride 1 only); 2 = pixel tiles of 8 channels x tile_rows rows x tile_vectors pixels (chunk_out % 8 == 0).
at::Tensor block_sparse_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& in_index,
                                  const at::Tensor& out_index, const std::optional<at::Tensor>& bias,
                                  const std::optional<at::Tensor>& residual, const std::vector<int64_t>& phase_yx,
                                  const std::vector<int64_t>& row_base, const std::vector<int64_t>& row_end,
                                  const std::vector<int64_t>& tap_shift, int64_t c_out, int64_t h_out, int64_t w_out,
                                  int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t hq,
                                  int64_t wq, int64_t plane_stride, int64_t tile_kind, int64_t tile_vectors,
                                  int64_t tile_block, int64_t tile_rows, bool shift_loads, bool relu) {
  using rgp::kLanes;
  TORCH_CHECK(x.dim() == 4 && x.scalar_type() == at::kFloat && x.device().is_cpu(),
              "block_sparse_conv2d: x must be a 4-D float32 CPU tensor");
  TORCH_CHECK(weight.dim() == 4 && weight.is_contiguous() && weight.scalar_type() == at::kFloat,
              "block_sparse_conv2d: weight must be contiguous 4-D float32");
  TORCH_CHECK(in_index.scalar_type() == at::kInt && out_index.scalar_type() == at::kInt,
              "block_sparse_conv2d: indices must be int32");
  const at::Tensor input = x.contiguous();
  rgp::ConvGeometry g{};
  g.n = input.size(0);
  g.c_in = input.size(1);
  g.h = input.size(2);
  g.w = input.size(3);
  g.c_out = c_out;
  g.h_out = h_out;
  g.w_out = w_out;
  g.stride_h = stride_h;
  g.stride_w = stride_w;
  g.pad_h = pad_h;
  g.pad_w = pad_w;
  g.hq = hq;
  g.wq = wq;
  g.plane_stride = plane_stride;
  g.length = h_out * wq;
  g.tile = tile_vectors * kLanes;
  TORCH_CHECK(phase_yx.size() % 2 == 0 && !phase_yx.empty(), "block_sparse_conv2d: phase_yx must hold (py, px) pairs");
  g.phases = static_cast<int64_t>(phase_yx.size() / 2);
  g.taps = static_cast<int64_t>(tap_shift.size());
  g.chunks = weight.size(0);
  g.slots = weight.size(1);
  g.chunk_out = weight.size(3);
  TORCH_CHECK(weight.size(2) == g.taps, "block_sparse_conv2d: weight taps do not match the tap table");
  TORCH_CHECK(in_index.size(0) == g.chunks && in_index.size(1) == g.slots, "block_sparse_conv2d: bad in_index");
  TORCH_CHECK(out_index.size(0) == g.chunks && out_index.size(1) == g.chunk_out, "block_sparse_conv2d: bad out_index");
  TORCH_CHECK(g.length > 0 && g.chunk_out > 0, "block_sparse_conv2d: empty output");
  if (tile_kind == rgp::kRowTiles) {
    TORCH_CHECK(rgp::pick_rows_tile(static_cast<int>(tile_rows), static_cast<int>(tile_vectors)) && !shift_loads,
                "block_sparse_conv2d: no row tile of ", tile_rows, " rows x ", tile_vectors, " vectors in this build");
    TORCH_CHECK(g.taps == 9 && stride_h == 1 && stride_w == 1 && wq == w_out + 2 && hq == h_out + 2 &&
                    phase_yx.size() == 2,
                "block_sparse_conv2d: row tiles are for 3x3 stride-1 convolutions");
    // The last row tile reads rows up to a multiple of tile_rows (+2) and columns up to a whole tile (+2).
    const int64_t rows_read = (h_out + tile_rows - 1) / tile_rows * tile_rows + 2;
    const int64_t cols_read = (w_out + tile_vectors * kLanes - 1) / (tile_vectors * kLanes) * tile_vectors * kLanes;
    TORCH_CHECK((rows_read - 1) * wq + cols_read + 2 <= plane_stride,
                "block_sparse_conv2d: plane_stride too small for the row tiles");
  } else if (tile_kind == rgp::kPixelTiles) {
    TORCH_CHECK(rgp::pick_pixel_tile(static_cast<int>(tile_rows), static_cast<int>(tile_vectors)) && !shift_loads,
                "block_sparse_conv2d: no pixel tile of ", tile_rows, " rows x ", tile_vectors, " pixels in this build");
    TORCH_CHECK(g.chunk_out % 8 == 0, "block_sparse_conv2d: pixel tiles need chunks of a multiple of 8 outputs");
  } else {
    TORCH_CHECK(tile_kind == rgp::kFlatTiles, "block_sparse_conv2d: tile_kind must be 0, 1 or 2");
    TORCH_CHECK(rgp::pick_conv_tile(static_cast<int>(tile_block), static_cast<int>(tile_vectors), shift_loads),
                "block_sparse_conv2d: no tile of ", tile_block, " channels x ", tile_vectors,
                " vectors fits this build (", rgp::kLanes, " lanes, ", rgp::kVectorRegisters, " vector registers)");
  }

  rgp::ConvTaps taps;
  taps.rows = static_cast<int64_t>(row_base.size());
  TORCH_CHECK(row_end.size() == row_base.size(), "block_sparse_conv2d: row_base and row_end differ in length");
  taps.row_base = row_base;
  taps.row_end = row_end;
  TORCH_CHECK(taps.rows > 0 && taps.row_end.back() == g.taps, "block_sparse_conv2d: rows must cover every tap");
  for (int64_t t = 0; t < g.taps; ++t) {
    const int shift = static_cast<int>(tap_shift[t]);
    TORCH_CHECK(shift >= 0 && shift < kLanes, "block_sparse_conv2d: tap shift out of range");
    taps.shift.push_back(shift);
  }
  for (int64_t r = 0, t = 0; r < taps.rows; ++r)
    for (; t < taps.row_end[r]; ++t) taps.offset.push_back(taps.row_base[r] + taps.shift[t]);
  // Every read (one vector past the tile with shifted loads, up to kLanes-1 floats past it otherwise) stays in the
  // image's planes.
  const int64_t last_start = (g.length - 1) / g.tile * g.tile;
  const int64_t max_base = *std::max_element(taps.row_base.begin(), taps.row_base.end());
  TORCH_CHECK(tile_kind != rgp::kFlatTiles || last_start + max_base + g.tile + kLanes <= g.phases * plane_stride,
              "block_sparse_conv2d: plane_stride too small for the tile and taps");
  if (tile_kind == rgp::kPixelTiles) {  // the last pixel tile reads whole tiles past the map's last row and column
    const int64_t max_offset = *std::max_element(taps.offset.begin(), taps.offset.end());
    const int64_t last_row = (h_out + tile_rows - 1) / tile_rows * tile_rows - 1;
    const int64_t last_col = (w_out + tile_vectors - 1) / tile_vectors * tile_vectors - 1;
    TORCH_CHECK(max_offset + last_row * wq + last_col < g.phases * plane_stride,
                "block_sparse_conv2d: plane_stride too small for the pixel tiles");
  }

  at::Tensor out = at::empty({g.n, c_out, h_out, w_out}, input.options());
  at::Tensor bias_keep, residual_keep;
  rgp::ConvEpilogue e{};
  e.bias = optional_float(bias, c_out, "bias", bias_keep);
  e.residual = optional_float(residual, g.n * c_out * h_out * w_out, "residual", residual_keep);
  e.out = out.data_ptr<float>();
  e.relu = relu;
  const float* x_ptr = input.data_ptr<float>();
  const std::vector<int32_t> phase_pairs(phase_yx.begin(), phase_yx.end());
  const int32_t* phase_ptr = phase_pairs.data();
  const float* w_ptr = weight.data_ptr<float>();
  const at::Tensor ins = in_index.contiguous(), outs = out_index.contiguous();
  TORCH_CHECK(indices_within(ins, 0, g.c_in), "block_sparse_conv2d: in_index out of range");
  TORCH_CHECK(indices_within(outs, -1, c_out), "block_sparse_conv2d: out_index out of range");
  const int32_t* in_ptr = ins.data_ptr<int32_t>();
  const int32_t* out_ptr = outs.data_ptr<int32_t>();
  const int v = static_cast<int>(tile_vectors);
  const int block = static_cast<int>(tile_block);
  const int rows = static_cast<int>(tile_rows);
  const int kind = static_cast<int>(tile_kind);
  const int64_t image_floats = g.c_in * g.phases * plane_stride;

  if (g.n >= at::get_num_threads()) {
    // One image at a time per thread: its planes are prepared into a buffer that stays in cache.
    at::parallel_for(0, g.n, 1, [&](int64_t begin, int64_t end) {
      AlignedBuffer planes(image_floats);
      for (int64_t n = begin; n < end; ++n) {
        rgp::prepare_image(x_ptr, planes.data, g, phase_ptr, n);
        for (int64_t chunk = 0; chunk < g.chunks; ++chunk)
          rgp::conv_chunk(planes.data, n, chunk, w_ptr, in_ptr, out_ptr, taps, g, kind, block, v, rows, shift_loads,
                          e);
      }
    });
  } else {
    // Fewer images than threads: prepare all images, then share the (image, chunk) pairs out.
    AlignedBuffer planes(g.n * image_floats);
    at::parallel_for(0, g.n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) rgp::prepare_image(x_ptr, planes.data + n * image_floats, g, phase_ptr, n);
    });
    at::parallel_for(0, g.n * g.chunks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const int64_t n = item / g.chunks;
        rgp::conv_chunk(planes.data + n * image_floats, n, item % g.chunks, w_ptr, in_ptr, out_ptr, taps, g, kind,
                        block, v, rows, shift_loads, e);
      }
    });
  }
  return out;
}

// x: (rows, C_in); weight: (chunks, chunk_in, blocks * 8); in_index: (chunks, chunk_in) int32; out_index:
// (chunks, blocks * 8) int32, -1 = padding; out_base: (chunks, blocks) int32, first output of a block of 8
// consecutive outputs or -1; bias: packed like out_index, or None. Returns relu?(x W^T + bias), (rows, C_out).
at::Tensor block_sparse_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& in_index,
                                  const at::Tensor& out_index, const at::Tensor& out_base,
                                  const std::optional<at::Tensor>& bias, int64_t c_out, bool relu) {
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == at::kFloat && x.device().is_cpu(),
              "block_sparse_linear: x must be a 2-D float32 CPU tensor");
  TORCH_CHECK(weight.dim() == 3 && weight.is_contiguous() && weight.scalar_type() == at::kFloat &&
                  weight.size(2) % 8 == 0,
              "block_sparse_linear: weight must be contiguous (chunks, chunk_in, blocks * 8) float32");
  TORCH_CHECK(in_index.scalar_type() == at::kInt && out_index.scalar_type() == at::kInt &&
                  out_base.scalar_type() == at::kInt && in_index.is_contiguous() && out_index.is_contiguous() &&
                  out_base.is_contiguous(),
              "block_sparse_linear: indices must be contiguous int32");
  const at::Tensor input = x.contiguous();
  rgp::LinearArgs a{};
  a.rows = input.size(0);
  a.ldx = input.size(1);
  a.chunks = weight.size(0);
  a.chunk_in = weight.size(1);
  a.blocks = weight.size(2) / 8;
  TORCH_CHECK(in_index.size(0) == a.chunks && in_index.size(1) == a.chunk_in, "block_sparse_linear: bad in_index");
  TORCH_CHECK(out_index.size(0) == a.chunks && out_index.size(1) == a.blocks * 8, "block_sparse_linear: bad out_index");
  TORCH_CHECK(out_base.size(0) == a.chunks && out_base.size(1) == a.blocks, "block_sparse_linear: bad out_base");
  TORCH_CHECK(indices_within(in_index, 0, a.ldx), "block_sparse_linear: in_index out of range");
  TORCH_CHECK(indices_within(out_index, -1, c_out) && indices_within(out_base, -1, std::max<int64_t>(c_out - 7, 0)),
              "block_sparse_linear: out_index or out_base out of range");
  at::Tensor out = at::empty({a.rows, c_out}, input.options());
  at::Tensor bias_keep;
  a.x = input.data_ptr<float>();
  a.weight = weight.data_ptr<float>();
  a.in_index = in_index.data_ptr<int32_t>();
  a.out_index = out_index.data_ptr<int32_t>();
  a.out_base = out_base.data_ptr<int32_t>();
  a.bias = optional_float(bias, a.chunks * a.blocks * 8, "bias", bias_keep);
  a.y = out.data_ptr<float>();
  a.ldy = c_out;
  a.relu = relu;
  if (a.rows == 0) return out;
  const int64_t tiles = (a.rows + rgp::kLinearRows1 - 1) / rgp::kLinearRows1;
  at::parallel_for(0, tiles * a.chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t tile = item / a.chunks, chunk = item % a.chunks;
      const int64_t r0 = tile * rgp::kLinearRows1;
      rgp::linear_chunk(a, r0, std::min<int64_t>(rgp::kLinearRows1, a.rows - r0), chunk);
    }
  });
  return out;
}

namespace {

std::vector<int64_t> as_vector(c10::IntArrayRef values) { return values.vec(); }

at::Tensor block_sparse_conv2d_op(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& in_index,
                                  const at::Tensor& out_index, const std::optional<at::Tensor>& bias,
                                  const std::optional<at::Tensor>& residual, c10::IntArrayRef phase_yx,
                                  c10::IntArrayRef row_base, c10::IntArrayRef row_end, c10::IntArrayRef tap_shift,
                                  int64_t c_out, int64_t h_out, int64_t w_out, int64_t stride_h, int64_t stride_w,
                                  int64_t pad_h, int64_t pad_w, int64_t hq, int64_t wq, int64_t plane_stride,
                                  int64_t tile_kind, int64_t tile_vectors, int64_t tile_block, int64_t tile_rows,
                                  bool shift_loads, bool relu) {
  return block_sparse_conv2d(x, weight, in_index, out_index, bias, residual, as_vector(phase_yx), as_vector(row_base),
                             as_vector(row_end), as_vector(tap_shift), c_out, h_out, w_out, stride_h, stride_w, pad_h,
                             pad_w, hq, wq, plane_stride, tile_kind, tile_vectors, tile_block, tile_rows, shift_loads,
                             relu);
}

}  // namespace

// The schemas; the Python side registers their shape-only (fake) implementations for tracing.
TORCH_LIBRARY(rgp_bench, m) {
  m.def(
      "block_sparse_conv2d(Tensor x, Tensor weight, Tensor in_index, Tensor out_index, Tensor? bias, "
      "Tensor? residual, int[] phases, int[] row_base, int[] row_end, int[] tap_shift, int c_out, int h_out, "
      "int w_out, int stride_h, int stride_w, int pad_h, int pad_w, int hq, int wq, int plane_stride, int tile_kind, "
      "int tile_vectors, int tile_block, int tile_rows, bool shift_loads, bool relu) -> Tensor");
  m.def(
      "block_sparse_linear(Tensor x, Tensor weight, Tensor in_index, Tensor out_index, Tensor out_base, "
      "Tensor? bias, int c_out, bool relu) -> Tensor");
}

TORCH_LIBRARY_IMPL(rgp_bench, CPU, m) {
  m.impl("block_sparse_conv2d", &block_sparse_conv2d_op);
  m.impl("block_sparse_linear", &block_sparse_linear);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("simd_info", &simd_info, "(lanes, vector registers, max tile vectors) of this build");
  m.def("block_sparse_conv2d", &block_sparse_conv2d, "Register-tiled block-sparse direct convolution (CPU)");
  m.def("block_sparse_linear", &block_sparse_linear, "Register-tiled block-sparse matrix product (CPU)");
}
