// Register-tiled block-sparse direct convolution for RGP's regular block masks (CPU, float32), on raw pointers.
//
// Layout. The input is first copied into "phase planes": for stride s, the padded input splits into s_h*s_w
// phases (py, px) and each used phase is stored as a flat plane of Hq*Wq floats (plus zero slack), so every tap
// (dy, dx) of every output row becomes a contiguous run at a fixed flat offset. An output row is computed Wq wide
// (the Wq - W_out extra columns are garbage and never stored), which lets one vector loop run over the whole
// flattened map of an image.
//
// Work. Output channels come in chunks of chunk_out channels that read the same chunk_in input channels (the
// packed block structure). For one image and one chunk, a tile of V vectors is accumulated in registers for a
// block of GB output channels (tile_fits(GB, V)): each loaded input vector feeds GB fused multiply-adds.
// The epilogue adds the bias and an optional residual, applies an optional ReLU and stores the valid outputs.
// Each (image, chunk) pair is independent and always summed in the same order, so results do not depend on the
// thread count.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "simd.h"

namespace rgp {

constexpr int kMaxTileVectors = 12;

struct ConvGeometry {
  int64_t n, c_in, c_out, h, w, h_out, w_out;
  int64_t stride_h, stride_w, pad_h, pad_w;
  int64_t hq, wq, plane_stride, length, tile;
  int64_t phases, taps, chunks, slots, chunk_out;
};

// Kernel taps grouped into rows: taps row_end[r-1] .. row_end[r]-1 read from row_base[r] + shift[t]
// (offset[t] = that sum, for the loop that loads every tap on its own).
struct ConvTaps {
  int64_t rows;
  std::vector<int64_t> row_base, row_end, offset;
  std::vector<int> shift;
};

// What the tile stores: out = relu?(acc + bias[oc] + residual), all (N, C_out, H_out, W_out) contiguous.
struct ConvEpilogue {
  const float* bias;      // (C_out,) or null
  const float* residual;  // like out, or null
  float* out;
  bool relu;
};

// dst[j] = src[j] for j < count (rows are short: an inline vector loop beats a memcpy call).
inline void copy_row(float* dst, const float* src, int64_t count) {
  int64_t j = 0;
  for (; j + kLanes <= count; j += kLanes) store(dst + j, load(src + j));
  for (; j < count; ++j) dst[j] = src[j];
}

// dst[j] = src[2 * j] for j < count, reading at most `readable` floats from src.
inline void copy_even(float* dst, const float* src, int64_t count, int64_t readable) {
  int64_t j = 0;
  for (; j + kLanes <= count && 2 * (j + kLanes) <= readable; j += kLanes)
    store(dst + j, even_lanes(load(src + 2 * j), load(src + 2 * j + kLanes)));
  for (; j < count; ++j) dst[j] = src[2 * j];
}

inline void zero_row(float* dst, int64_t count) {
  for (int64_t j = 0; j < count; ++j) dst[j] = 0.0f;
}

// Copy image n's zero-padded input into its phase planes: prep[c][p][i * wq + j]. Every float of every plane is
// written once: the valid input, and zeros for the padding and the slack after the plane.
inline void prepare_image(const float* x, float* prep, const ConvGeometry& g, const int32_t* phase_yx, int64_t n) {
  const float* x_end = x + g.n * g.c_in * g.h * g.w;
  for (int64_t c = 0; c < g.c_in; ++c) {
    const float* src = x + (n * g.c_in + c) * g.h * g.w;
    for (int64_t p = 0; p < g.phases; ++p) {
      const int64_t py = phase_yx[2 * p], px = phase_yx[2 * p + 1];
      // Columns j with 0 <= px + j * stride_w - pad_w < w.
      const int64_t j0 = std::min<int64_t>(g.wq, std::max<int64_t>(0, (g.pad_w - px + g.stride_w - 1) / g.stride_w));
      const int64_t j1 =
          std::max<int64_t>(j0, std::min<int64_t>(g.wq, (g.w + g.pad_w - px + g.stride_w - 1) / g.stride_w));
      float* dst = prep + (c * g.phases + p) * g.plane_stride;
      for (int64_t i = 0; i < g.hq; ++i) {
        float* out_row = dst + i * g.wq;
        const int64_t y = py + i * g.stride_h - g.pad_h;
        if (y < 0 || y >= g.h || j1 == j0) {
          zero_row(out_row, g.wq);
          continue;
        }
        zero_row(out_row, j0);
        const float* first = src + y * g.w + px + j0 * g.stride_w - g.pad_w;
        if (g.stride_w == 1) {
          copy_row(out_row + j0, first, j1 - j0);
        } else if (g.stride_w == 2) {
          copy_even(out_row + j0, first, j1 - j0, x_end - first);
        } else {
          for (int64_t j = 0; j < j1 - j0; ++j) out_row[j0 + j] = first[j * g.stride_w];
        }
        zero_row(out_row + j1, g.wq - j1);
      }
      zero_row(dst + g.hq * g.wq, g.plane_stride - g.hq * g.wq);
    }
  }
}

template <int GB, int V>
inline void store_tile(const vf (&acc)[GB][V], const ConvGeometry& g, int64_t n, int64_t o0, int64_t start,
                       const int32_t* out_index, const ConvEpilogue& e) {
  const int64_t end = std::min<int64_t>(start + V * kLanes, g.length);
  const bool contiguous = g.wq == g.w_out && end - start == V * kLanes;
  for (int o = 0; o < GB; ++o) {
    const int64_t oc = out_index[o0 + o];
    if (oc < 0) continue;
    const float b = e.bias ? e.bias[oc] : 0.0f;
    const int64_t plane = (n * g.c_out + oc) * g.h_out * g.w_out;
    float* dst = e.out + plane;
    const float* res = e.residual ? e.residual + plane : nullptr;
    if (contiguous) {  // the tile is one contiguous run of outputs: finish it in registers
      for (int u = 0; u < V; ++u) {
        const int64_t p = start + u * kLanes;
        vf v = acc[o][u] + b;
        if (res) v += load(res + p);
        if (e.relu) v = relu(v);
        store(dst + p, v);
      }
      continue;
    }
    alignas(64) float buf[V * kLanes];
    for (int u = 0; u < V; ++u) store(buf + u * kLanes, acc[o][u]);
    for (int64_t p = start; p < end;) {
      const int64_t y = p / g.wq;
      const int64_t row_end = std::min(end, (y + 1) * g.wq);
      const int64_t x0 = p - y * g.wq, x1 = std::min(row_end - y * g.wq, g.w_out);
      const float* src = buf + y * g.wq - start;
      float* d = dst + y * g.w_out;
      if (res) {
        const float* r = res + y * g.w_out;
        if (e.relu) {
          for (int64_t x = x0; x < x1; ++x) d[x] = std::max(src[x] + b + r[x], 0.0f);
        } else {
          for (int64_t x = x0; x < x1; ++x) d[x] = src[x] + b + r[x];
        }
      } else if (e.relu) {
        for (int64_t x = x0; x < x1; ++x) d[x] = std::max(src[x] + b, 0.0f);
      } else {
        for (int64_t x = x0; x < x1; ++x) d[x] = src[x] + b;
      }
      p = row_end;
    }
  }
}

// acc[o][u] += wt[o] * src[u * kLanes ...] for one tap. The loop order keeps the smaller operand set in registers
// (V loaded vectors, or GB broadcast weights) and streams the other, so a fitting tile never spills.
template <int GB, int V>
inline void fma_tap(vf (&acc)[GB][V], const float* src, const float* wt) {
  if constexpr (V <= GB) {
    vf v[V];
    for (int u = 0; u < V; ++u) v[u] = load(src + u * kLanes);
    for (int o = 0; o < GB; ++o) {
      const float wo = wt[o];
      for (int u = 0; u < V; ++u) acc[o][u] += wo * v[u];
    }
  } else {
    vf w[GB];
    for (int o = 0; o < GB; ++o) w[o] = vf{} + wt[o];
    for (int u = 0; u < V; ++u) {
      const vf v = load(src + u * kLanes);
      for (int o = 0; o < GB; ++o) acc[o][u] += w[o] * v;
    }
  }
}

// Accumulate one tile (V vectors) for GB output channels of one chunk, then store it.
// Taps come grouped into kernel rows: one row's taps read the same flat run at shifts 0..kLanes-1. With kShift, a
// row loads V + 1 vectors once and forms each shifted tap with a compile-time shuffle; otherwise every tap is its
// own (unaligned) load, in one flat loop over the taps.
template <int GB, int V, bool kShift>
void conv_tile(const float* image, const int32_t* slots, const float* weight, const ConvTaps& taps,
               const ConvGeometry& g, int64_t n, int64_t o0, int64_t start, const int32_t* out_index,
               const ConvEpilogue& e) {
  vf acc[GB][V];
  for (int o = 0; o < GB; ++o)
    for (int u = 0; u < V; ++u) acc[o][u] = vf{};
  const int64_t channel_stride = g.phases * g.plane_stride;
  for (int64_t s = 0; s < g.slots; ++s) {
    const float* channel = image + slots[s] * channel_stride + start;
    const float* ws = weight + s * g.taps * g.chunk_out + o0;
    if constexpr (!kShift) {
      // One flat loop over the taps: one pointer per tap, every vector at a fixed displacement from it.
      const int64_t* offset = taps.offset.data();
      for (int64_t t = 0; t < g.taps; ++t) {
        const float* src = channel + offset[t];
        const float* wt = ws + t * g.chunk_out;
        fma_tap<GB, V>(acc, src, wt);
      }
    } else {
      int64_t t = 0;
      for (int64_t r = 0; r < taps.rows; ++r) {
        const float* src = channel + taps.row_base[r];
        vf a[V + 1];
        for (int u = 0; u <= V; ++u) a[u] = load(src + u * kLanes);
        for (; t < taps.row_end[r]; ++t) {
          vf v[V];
          const int shift = taps.shift[t];
          if (shift == 0) {
            for (int u = 0; u < V; ++u) v[u] = a[u];
          } else {
            shift_vectors<V>(a, v, shift);
          }
          const float* wt = ws + t * g.chunk_out;
          for (int o = 0; o < GB; ++o) {
            const float wo = wt[o];
            for (int u = 0; u < V; ++u) acc[o][u] += wo * v[u];
          }
        }
      }
    }
  }
  store_tile<GB, V>(acc, g, n, o0, start, out_index, e);
}

// Row tiles for 3x3 stride-1 convolutions with one output channel per chunk (where the flat tile's every FMA needs
// its own input load). A tile is R output rows x C vectors of one output channel; each input row of the window is
// loaded once per horizontal tap and feeds up to three output rows (vertical reuse), and no columns past W_out are
// computed except in a last partial vector. Weights must be in tap order dy * 3 + dx.
template <int R, int C>
void conv_rows_tile(const float* image, const int32_t* slots, const float* weight, const ConvGeometry& g, int64_t n,
                    int64_t o0, int64_t r0, int64_t c0, const int32_t* out_index, const ConvEpilogue& e) {
  vf acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = vf{};
  for (int64_t s = 0; s < g.slots; ++s) {
    const float* base = image + slots[s] * g.plane_stride + r0 * g.wq + c0;
    const float* ws = weight + s * 9 * g.chunk_out + o0;
    // Fully unrolled, so that every accumulator index is a constant and the tile stays in registers.
#pragma GCC unroll 8
    for (int i = 0; i < R + 2; ++i) {
      const float* row = base + i * g.wq;
#pragma GCC unroll 3
      for (int dx = 0; dx < 3; ++dx) {
        vf v[C];
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) v[c] = load(row + dx + c * kLanes);
#pragma GCC unroll 3
        for (int dy = 0; dy < 3; ++dy) {
          const int r = i - dy;
          if (r < 0 || r >= R) continue;
          const float wt = ws[(dy * 3 + dx) * g.chunk_out];
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c) acc[r][c] += wt * v[c];
        }
      }
    }
  }
  const int64_t oc = out_index[o0];
  if (oc < 0) return;
  const float b = e.bias ? e.bias[oc] : 0.0f;
  const int64_t plane = (n * g.c_out + oc) * g.h_out * g.w_out;
  for (int r = 0; r < R && r0 + r < g.h_out; ++r) {
    const int64_t at = plane + (r0 + r) * g.w_out;
    for (int c = 0; c < C; ++c) {
      const int64_t x = c0 + c * kLanes;
      if (x >= g.w_out) break;
      float* dst = e.out + at + x;
      const float* res = e.residual ? e.residual + at + x : nullptr;
      if (x + kLanes <= g.w_out) {
        vf v = acc[r][c] + b;
        if (res) v += load(res);
        if (e.relu) v = relu(v);
        store(dst, v);
      } else {
        for (int64_t l = 0; l < g.w_out - x; ++l) {
          float v = acc[r][c][l] + b + (res ? res[l] : 0.0f);
          dst[l] = e.relu ? std::max(v, 0.0f) : v;
        }
      }
    }
  }
}

constexpr int kMaxTileRows = 6;
constexpr bool rows_tile_fits(int r, int c) { return r <= kMaxTileRows && r * c + c + 1 <= kVectorRegisters; }

using ConvRowsFn = void (*)(const float*, const int32_t*, const float*, const ConvGeometry&, int64_t, int64_t, int64_t,
                            int64_t, const int32_t*, const ConvEpilogue&);

template <int R, int C>
constexpr ConvRowsFn rows_tile_or_null() {
  if constexpr (rows_tile_fits(R, C)) return &conv_rows_tile<R, C>;
  return nullptr;
}

template <int C, std::size_t... I>
constexpr std::array<ConvRowsFn, kMaxTileRows> rows_tile_row(std::index_sequence<I...>) {
  return {rows_tile_or_null<static_cast<int>(I) + 1, C>()...};
}

// The row tile of R rows x C vectors (C = 1, 2 or 4), or null if it does not fit.
inline ConvRowsFn pick_rows_tile(int r, int c) {
  constexpr auto seq = std::make_index_sequence<kMaxTileRows>{};
  static const std::array<ConvRowsFn, kMaxTileRows> rows[3] = {rows_tile_row<1>(seq), rows_tile_row<2>(seq),
                                                               rows_tile_row<4>(seq)};
  if (r < 1 || r > kMaxTileRows) return nullptr;
  const int index = c == 1 ? 0 : (c == 2 ? 1 : (c == 4 ? 2 : -1));
  return index < 0 ? nullptr : rows[index][r - 1];
}

// Pixel tiles for small maps whose chunks have 8 or more outputs (a multiple of 8): vectorised over a block of 8
// output channels instead of over pixels, so no lanes are spent on padding columns. A tile is PY output rows x PX
// pixels; every (slot, tap) step loads the 8 channels' weights once and broadcasts each pixel's input. Pixels
// past the map are computed and dropped.
template <int PY, int PX>
void conv_pixel_tile(const float* image, const int32_t* slots, const float* weight, const ConvTaps& taps,
                     const ConvGeometry& g, int64_t n, int64_t o0, int64_t y0, int64_t x0, const int32_t* out_index,
                     const ConvEpilogue& e) {
  v8 acc[PY][PX];
  for (int py = 0; py < PY; ++py)
    for (int px = 0; px < PX; ++px) acc[py][px] = v8{};
  const int64_t channel_stride = g.phases * g.plane_stride;
  const int64_t* offset = taps.offset.data();
  const int64_t start = y0 * g.wq + x0;
  for (int64_t s = 0; s < g.slots; ++s) {
    const float* channel = image + slots[s] * channel_stride + start;
    const float* ws = weight + s * g.taps * g.chunk_out + o0;
    for (int64_t t = 0; t < g.taps; ++t) {
      const v8 w = load8(ws + t * g.chunk_out);
      const float* src = channel + offset[t];
#pragma GCC unroll 4
      for (int py = 0; py < PY; ++py) {
        const float* row = src + py * g.wq;
#pragma GCC unroll 8
        for (int px = 0; px < PX; ++px) acc[py][px] += row[px] * w;
      }
    }
  }
  for (int k = 0; k < 8; ++k) {
    const int64_t oc = out_index[o0 + k];
    if (oc < 0) continue;
    const float b = e.bias ? e.bias[oc] : 0.0f;
    const int64_t plane = (n * g.c_out + oc) * g.h_out * g.w_out;
    for (int py = 0; py < PY && y0 + py < g.h_out; ++py) {
      const int64_t at = plane + (y0 + py) * g.w_out + x0;
      for (int px = 0; px < PX && x0 + px < g.w_out; ++px) {
        float v = acc[py][px][k] + b;
        if (e.residual) v += e.residual[at + px];
        e.out[at + px] = e.relu ? std::max(v, 0.0f) : v;
      }
    }
  }
}

// Pixel tile shapes (rows x pixels per row) this build has: PY * PX accumulators, a weight and a broadcast input.
constexpr bool pixel_tile_fits(int py, int px) { return py * px + 2 <= kVectorRegisters; }

using ConvPixelFn = void (*)(const float*, const int32_t*, const float*, const ConvTaps&, const ConvGeometry&, int64_t,
                             int64_t, int64_t, int64_t, const int32_t*, const ConvEpilogue&);

template <int PY, int PX>
constexpr ConvPixelFn pixel_tile_or_null() {
  if constexpr (pixel_tile_fits(PY, PX)) return &conv_pixel_tile<PY, PX>;
  return nullptr;
}

// The pixel tile of py rows (1 to 4) x px pixels (4 or 8), or null if it does not fit.
inline ConvPixelFn pick_pixel_tile(int py, int px) {
  static const ConvPixelFn tiles[4][2] = {{pixel_tile_or_null<1, 4>(), pixel_tile_or_null<1, 8>()},
                                          {pixel_tile_or_null<2, 4>(), pixel_tile_or_null<2, 8>()},
                                          {pixel_tile_or_null<3, 4>(), pixel_tile_or_null<3, 8>()},
                                          {pixel_tile_or_null<4, 4>(), pixel_tile_or_null<4, 8>()}};
  if (py < 1 || py > 4 || (px != 4 && px != 8)) return nullptr;
  return tiles[py - 1][px == 8 ? 1 : 0];
}

using ConvTileFn = void (*)(const float*, const int32_t*, const float*, const ConvTaps&, const ConvGeometry&, int64_t,
                            int64_t, int64_t, const int32_t*, const ConvEpilogue&);

template <int GB, int V, bool kShift>
constexpr ConvTileFn conv_tile_or_null() {
  if constexpr (tile_fits(GB, V)) return &conv_tile<GB, V, kShift>;
  return nullptr;
}

template <int GB, bool kShift, std::size_t... I>
constexpr std::array<ConvTileFn, kMaxTileVectors> conv_tile_row(std::index_sequence<I...>) {
  return {conv_tile_or_null<GB, static_cast<int>(I) + 1, kShift>()...};
}

// The tile function for GB output channels (1, 2, 4 or 8) and V vectors, or null if it would not fit.
inline ConvTileFn pick_conv_tile(int gb, int v, bool shift) {
  using Row = std::array<ConvTileFn, kMaxTileVectors>;
  constexpr auto seq = std::make_index_sequence<kMaxTileVectors>{};
  static const Row rows[2][4] = {
      {conv_tile_row<1, false>(seq), conv_tile_row<2, false>(seq), conv_tile_row<4, false>(seq),
       conv_tile_row<8, false>(seq)},
      {conv_tile_row<1, true>(seq), conv_tile_row<2, true>(seq), conv_tile_row<4, true>(seq),
       conv_tile_row<8, true>(seq)}};
  if (v < 1 || v > kMaxTileVectors) return nullptr;
  const int index = gb == 8 ? 3 : (gb == 4 ? 2 : (gb == 2 ? 1 : (gb == 1 ? 0 : -1)));
  return index < 0 ? nullptr : rows[shift ? 1 : 0][index][v - 1];
}

enum TileKind { kFlatTiles = 0, kRowTiles = 1, kPixelTiles = 2 };

// All output blocks and tiles of one (image, chunk). Flat tiles: blocks of `block` channels (halved at the chunk's
// end) x v vectors. Row tiles: `rows` x v vectors for every output channel. Pixel tiles: blocks of 8 channels x
// `rows` rows x v pixels.
inline void conv_chunk(const float* image, int64_t n, int64_t chunk, const float* weight, const int32_t* in_index,
                       const int32_t* out_index, const ConvTaps& taps, const ConvGeometry& g, int kind, int block,
                       int v, int rows, bool shift, const ConvEpilogue& e) {
  const int32_t* slots = in_index + chunk * g.slots;
  const float* wc = weight + chunk * g.slots * g.taps * g.chunk_out;
  const int32_t* oc = out_index + chunk * g.chunk_out;
  if (kind == kPixelTiles) {
    const ConvPixelFn fn = pick_pixel_tile(rows, v);
    for (int64_t o0 = 0; o0 < g.chunk_out; o0 += 8)
      for (int64_t y0 = 0; y0 < g.h_out; y0 += rows)
        for (int64_t x0 = 0; x0 < g.w_out; x0 += v) fn(image, slots, wc, taps, g, n, o0, y0, x0, oc, e);
    return;
  }
  if (kind == kRowTiles) {
    const ConvRowsFn fn = pick_rows_tile(rows, v);
    for (int64_t o0 = 0; o0 < g.chunk_out; ++o0)
      for (int64_t r0 = 0; r0 < g.h_out; r0 += rows)
        for (int64_t c0 = 0; c0 < g.w_out; c0 += v * kLanes) fn(image, slots, wc, g, n, o0, r0, c0, oc, e);
    return;
  }
  for (int64_t o0 = 0; o0 < g.chunk_out;) {
    int gb = block;
    while (gb > 1 && o0 + gb > g.chunk_out) gb /= 2;
    const ConvTileFn fn = pick_conv_tile(gb, v, shift);
    for (int64_t start = 0; start < g.length; start += g.tile) fn(image, slots, wc, taps, g, n, o0, start, oc, e);
    o0 += gb;
  }
}

}  // namespace rgp
