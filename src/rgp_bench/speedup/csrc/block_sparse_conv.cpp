// Register-tiled block-sparse direct convolution for RGP's regular block masks (CPU, float32).
//
// Layout. The input is first copied into "phase planes": for stride s, the padded input splits into s_h*s_w
// phases (py, px) and each used phase is stored as a flat plane of Hq*Wq floats (plus zero slack), so every tap
// (dy, dx) of every output row becomes a contiguous run at a fixed flat offset. An output row is computed Wq wide
// (the Wq - W_out extra columns are garbage and never stored), which lets one vector loop run over the whole
// flattened map of an image.
//
// Work. Output channels come in chunks of GO channels that read the same K input channels (the packed block
// structure). For one image and one chunk, a tile of V vectors of 16 floats is accumulated in registers for a
// block of GB output channels: each loaded input vector feeds GB fused multiply-adds. Each (image, chunk) pair is
// independent and always summed in the same order, so results do not depend on the thread count.

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

constexpr int kLanes = 16;
typedef float vf __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(kLanes * sizeof(int32_t))));

struct Geometry {
  int64_t n, c_in, c_out, h, w, h_out, w_out;
  int64_t stride_h, stride_w, pad_h, pad_w;
  int64_t hq, wq, plane_stride, length, tile;
  int64_t phases, taps, chunks, slots, chunk_out;
};

// Kernel taps grouped into rows: taps row_end[r-1] .. row_end[r]-1 read from row_base[r] + shift[t].
struct Taps {
  int64_t rows;
  std::vector<int64_t> row_base, row_end;
  std::vector<int> shift;
  std::vector<vi> shift_index;
};

// Copy image n's zero-padded input into its phase planes: prep[c][p][i * wq + j].
void prepare_image(const float* x, float* prep, const Geometry& g, const int32_t* phase_yx, int64_t n) {
  for (int64_t c = 0; c < g.c_in; ++c) {
    const float* src = x + (n * g.c_in + c) * g.h * g.w;
    for (int64_t p = 0; p < g.phases; ++p) {
      float* dst = prep + (c * g.phases + p) * g.plane_stride;
      std::memset(dst, 0, sizeof(float) * g.plane_stride);
      const int64_t py = phase_yx[2 * p], px = phase_yx[2 * p + 1];
      for (int64_t i = 0; i < g.hq; ++i) {
        const int64_t y = py + i * g.stride_h - g.pad_h;
        if (y < 0 || y >= g.h) continue;
        const float* row = src + y * g.w;
        float* out_row = dst + i * g.wq;
        if (g.stride_w == 1) {
          const int64_t j0 = std::max<int64_t>(0, g.pad_w - px);
          const int64_t j1 = std::min<int64_t>(g.wq, g.w + g.pad_w - px);
          if (j1 > j0) std::memcpy(out_row + j0, row + px + j0 - g.pad_w, sizeof(float) * (j1 - j0));
        } else {
          for (int64_t j = 0; j < g.wq; ++j) {
            const int64_t xx = px + j * g.stride_w - g.pad_w;
            if (xx >= 0 && xx < g.w) out_row[j] = row[xx];
          }
        }
      }
    }
  }
}

// Accumulate one tile (V vectors) for GB output channels of one chunk, then store the valid outputs.
// Taps come grouped into kernel rows: one row's taps read the same flat run at shifts 0..15 floats. With
// kShift, a row loads V + 1 vectors once and forms each shifted tap with a two-source permute; otherwise every
// tap is its own (unaligned, usually cache-line splitting) load.
template <int GB, int V, bool kShift>
void tile(const float* image, const int32_t* slots, const float* weight, const Taps& taps, const Geometry& g,
          int64_t o0, int64_t start, const int32_t* out_index, const float* bias, float* out_image) {
  vf acc[GB][V];
  for (int o = 0; o < GB; ++o)
    for (int u = 0; u < V; ++u) acc[o][u] = vf{};
  const int64_t channel_stride = g.phases * g.plane_stride;
  for (int64_t s = 0; s < g.slots; ++s) {
    const float* channel = image + slots[s] * channel_stride + start;
    const float* ws = weight + s * g.taps * g.chunk_out + o0;
    int64_t t = 0;
    for (int64_t r = 0; r < taps.rows; ++r) {
      const float* src = channel + taps.row_base[r];
      vf a[V + 1];
      if (kShift)
        for (int u = 0; u <= V; ++u) std::memcpy(&a[u], src + u * kLanes, sizeof(vf));
      for (; t < taps.row_end[r]; ++t) {
        vf v[V];
        const int shift = taps.shift[t];
        if (!kShift) {
          for (int u = 0; u < V; ++u) std::memcpy(&v[u], src + shift + u * kLanes, sizeof(vf));
        } else if (shift == 0) {
          for (int u = 0; u < V; ++u) v[u] = a[u];
        } else {
          const vi index = taps.shift_index[t];
          for (int u = 0; u < V; ++u) v[u] = __builtin_shuffle(a[u], a[u + 1], index);
        }
        const float* wt = ws + t * g.chunk_out;
        for (int o = 0; o < GB; ++o) {
          const float wo = wt[o];
          for (int u = 0; u < V; ++u) acc[o][u] += wo * v[u];
        }
      }
    }
  }
  alignas(64) float buf[V * kLanes];
  const int64_t end = std::min(start + V * kLanes, g.length);
  for (int o = 0; o < GB; ++o) {
    const int64_t oc = out_index[o0 + o];
    if (oc < 0) continue;
    std::memcpy(buf, &acc[o][0], sizeof(buf));
    const float b = bias ? bias[oc] : 0.0f;
    float* dst = out_image + oc * g.h_out * g.w_out;
    for (int64_t p = start; p < end;) {
      const int64_t y = p / g.wq;
      const int64_t row_end = std::min(end, (y + 1) * g.wq);
      const int64_t x_end = std::min(row_end - y * g.wq, g.w_out);
      for (int64_t x = p - y * g.wq; x < x_end; ++x) dst[y * g.w_out + x] = buf[y * g.wq + x - start] + b;
      p = row_end;
    }
  }
}

using TileFn = void (*)(const float*, const int32_t*, const float*, const Taps&, const Geometry&, int64_t, int64_t,
                        const int32_t*, const float*, float*);

template <int V, bool kShift>
TileFn pick_block(int gb) {
  switch (gb) {
    case 8: return &tile<8, V, kShift>;
    case 4: return &tile<4, V, kShift>;
    case 2: return &tile<2, V, kShift>;
    default: return &tile<1, V, kShift>;
  }
}

template <bool kShift>
TileFn pick_vectors(int gb, int v) {
  switch (v) {
    case 1: return pick_block<1, kShift>(gb);
    case 2: return pick_block<2, kShift>(gb);
    case 3: return pick_block<3, kShift>(gb);
    case 4: return pick_block<4, kShift>(gb);
    case 5: return pick_block<5, kShift>(gb);
    case 6: return pick_block<6, kShift>(gb);
    case 7: return pick_block<7, kShift>(gb);
    default: return pick_block<8, kShift>(gb);
  }
}

TileFn pick(int gb, int v, bool shift) { return shift ? pick_vectors<true>(gb, v) : pick_vectors<false>(gb, v); }

// Largest output block for a tile of V vectors that keeps the accumulators within the 32 vector registers.
int max_block(int v) { return v <= 3 ? 8 : (v <= 6 ? 4 : 2); }

}  // namespace

// x: (N, C_in, H, W); weight: (chunks, slots, taps, chunk_out); in_index: (chunks, slots) int32;
// out_index: (chunks, chunk_out) int32, -1 = padding; bias: (C_out,) or empty; phase_yx: (py, px) pairs, the
// padded-input phase of each plane; row_base / row_end: flat offset (plane * plane_stride + offset) of each kernel
// row and one past its last tap; tap_shift: shift (0..15) of each tap within its row. Taps are in weight order,
// grouped by row.
torch::Tensor block_sparse_conv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& in_index,
                                  const torch::Tensor& out_index, const torch::Tensor& bias,
                                  const std::vector<int64_t>& phase_yx, const std::vector<int64_t>& row_base,
                                  const std::vector<int64_t>& row_end, const std::vector<int64_t>& tap_shift,
                                  int64_t c_out, int64_t h_out, int64_t w_out, int64_t stride_h, int64_t stride_w,
                                  int64_t pad_h, int64_t pad_w, int64_t hq, int64_t wq, int64_t plane_stride,
                                  int64_t tile_vectors, bool shift_loads) {
  TORCH_CHECK(x.dim() == 4 && x.scalar_type() == torch::kFloat32 && x.device().is_cpu(),
              "block_sparse_conv2d: x must be a 4-D float32 CPU tensor");
  TORCH_CHECK(weight.dim() == 4 && weight.is_contiguous(), "block_sparse_conv2d: weight must be contiguous 4-D");
  TORCH_CHECK(tile_vectors >= 1 && tile_vectors <= 8, "block_sparse_conv2d: tile_vectors must be in [1, 8]");
  const torch::Tensor input = x.contiguous();
  Geometry g{};
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

  Taps taps;
  taps.rows = static_cast<int64_t>(row_base.size());
  TORCH_CHECK(row_end.size() == row_base.size(), "block_sparse_conv2d: row_base and row_end differ in length");
  taps.row_base = row_base;
  taps.row_end = row_end;
  TORCH_CHECK(taps.rows > 0 && taps.row_end.back() == g.taps, "block_sparse_conv2d: rows must cover every tap");
  for (int64_t t = 0; t < g.taps; ++t) {
    const int shift = static_cast<int>(tap_shift[t]);
    TORCH_CHECK(shift >= 0 && shift < kLanes, "block_sparse_conv2d: tap shift out of range");
    taps.shift.push_back(shift);
    vi index;
    for (int lane = 0; lane < kLanes; ++lane) index[lane] = shift + lane;
    taps.shift_index.push_back(index);
  }
  // Every read (one vector past the tile with kShift, up to 15 floats past it otherwise) stays in the channel.
  const int64_t last_start = (g.length - 1) / g.tile * g.tile;
  const int64_t max_base = *std::max_element(taps.row_base.begin(), taps.row_base.end());
  TORCH_CHECK(last_start + max_base + g.tile + kLanes <= g.phases * plane_stride,
              "block_sparse_conv2d: plane_stride too small for the tile and taps");

  torch::Tensor out = torch::empty({g.n, c_out, h_out, w_out}, input.options());
  const float* x_ptr = input.data_ptr<float>();
  std::vector<int32_t> phase_pairs(phase_yx.begin(), phase_yx.end());
  const int32_t* phase_ptr = phase_pairs.data();
  const float* w_ptr = weight.data_ptr<float>();
  const torch::Tensor ins = in_index.contiguous(), outs = out_index.contiguous();
  const int32_t* in_ptr = ins.data_ptr<int32_t>();
  const int32_t* out_idx_ptr = outs.data_ptr<int32_t>();
  const torch::Tensor bias_c = bias.numel() ? bias.contiguous() : bias;
  const float* bias_ptr = bias.numel() ? bias_c.data_ptr<float>() : nullptr;
  float* out_ptr = out.data_ptr<float>();
  const int v = static_cast<int>(tile_vectors);
  const int block = max_block(v);
  const int64_t image_floats = g.c_in * g.phases * plane_stride;

  auto run_chunk = [&](const float* image, int64_t n, int64_t chunk) {
    const int32_t* slots = in_ptr + chunk * g.slots;
    const float* wc = w_ptr + chunk * g.slots * g.taps * g.chunk_out;
    const int32_t* oc = out_idx_ptr + chunk * g.chunk_out;
    float* out_image = out_ptr + n * c_out * h_out * w_out;
    for (int64_t o0 = 0; o0 < g.chunk_out;) {
      int gb = block;
      while (gb > 1 && o0 + gb > g.chunk_out) gb /= 2;
      const TileFn fn = pick(gb, v, shift_loads);
      for (int64_t start = 0; start < g.length; start += g.tile)
        fn(image, slots, wc, taps, g, o0, start, oc, bias_ptr, out_image);
      o0 += gb;
    }
  };

  if (g.n >= at::get_num_threads()) {
    // One image at a time per thread: its planes are prepared into a buffer that stays in cache.
    at::parallel_for(0, g.n, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> planes(image_floats);
      for (int64_t n = begin; n < end; ++n) {
        prepare_image(x_ptr, planes.data(), g, phase_ptr, n);
        for (int64_t chunk = 0; chunk < g.chunks; ++chunk) run_chunk(planes.data(), n, chunk);
      }
    });
  } else {
    // Fewer images than threads: prepare all images, then share the (image, chunk) pairs out.
    std::vector<float> planes(g.n * image_floats);
    at::parallel_for(0, g.n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) prepare_image(x_ptr, planes.data() + n * image_floats, g, phase_ptr, n);
    });
    at::parallel_for(0, g.n * g.chunks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const int64_t n = item / g.chunks;
        run_chunk(planes.data() + n * image_floats, n, item % g.chunks);
      }
    });
  }
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("block_sparse_conv2d", &block_sparse_conv2d, "Register-tiled block-sparse direct convolution (CPU)");
}
