// Register-tiled block-sparse matrix product for RGP's block-masked Linear layers (CPU, float32), raw pointers.
//
// y (rows x C_out) = x (rows x C_in) W^T + bias, optionally followed by ReLU, where W's kept blocks are packed per
// chunk: chunk c reads chunk_in input features in_index[c][:] and writes its outputs out_index[c][:] (-1 =
// padding), the outputs padded to whole blocks of 8 (one 8-float vector each; a machine with wider vectors still
// has these as registers). The packed weight is (chunks, chunk_in, blocks * 8): for input slot j the 8 outputs of
// a block are one contiguous vector.
//
// A tile holds M rows x NB blocks of partial sums in registers; each step loads NB weight vectors, broadcasts M
// inputs and issues M * NB fused multiply-adds. Small tiles (batch 1 is a GEMV) split the sum over j into S
// independent accumulators to hide the FMA latency. Every output is summed by one tile in a fixed order, so
// results do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "simd.h"

namespace rgp {

struct LinearArgs {
  const float* x;          // (rows, ldx)
  int64_t rows, ldx;
  const float* weight;     // (chunks, chunk_in, blocks * 8)
  const int32_t* in_index;   // (chunks, chunk_in)
  const int32_t* out_index;  // (chunks, blocks * 8), -1 = padding
  const int32_t* out_base;   // (chunks, blocks): first output of a block whose 8 outputs are consecutive, else -1
  const float* bias;       // (chunks, blocks * 8) packed (0 for padding), or null
  float* y;                // (rows, ldy)
  int64_t ldy;
  int64_t chunks, chunk_in, blocks;
  bool relu;
};

// Rows per tile for NB-block tiles, within 16 vector registers (12 accumulators).
constexpr int kLinearRows1 = 12;
constexpr int kLinearRows2 = 6;

template <int M, int NB>
void linear_tile(const LinearArgs& a, int64_t r0, int64_t chunk, int64_t b0) {
  constexpr int S = M * NB >= 4 ? 1 : (M * NB == 1 ? 4 : 2);  // independent partial sums per output
  const int64_t wstride = a.blocks * 8;
  const float* w = a.weight + chunk * a.chunk_in * wstride + b0 * 8;
  const int32_t* ins = a.in_index + chunk * a.chunk_in;
  const float* x = a.x + r0 * a.ldx;
  v8 acc[S][M][NB];
  for (int s = 0; s < S; ++s)
    for (int r = 0; r < M; ++r)
      for (int b = 0; b < NB; ++b) acc[s][r][b] = v8{};
  int64_t j = 0;
  for (; j + S <= a.chunk_in; j += S) {
    for (int s = 0; s < S; ++s) {
      const float* wj = w + (j + s) * wstride;
      v8 wv[NB];
      for (int b = 0; b < NB; ++b) wv[b] = load8(wj + 8 * b);
      const float* xj = x + ins[j + s];
      for (int r = 0; r < M; ++r) {
        const float xr = xj[r * a.ldx];
        for (int b = 0; b < NB; ++b) acc[s][r][b] += xr * wv[b];
      }
    }
  }
  for (; j < a.chunk_in; ++j) {
    const float* wj = w + j * wstride;
    const float* xj = x + ins[j];
    for (int r = 0; r < M; ++r) {
      const float xr = xj[r * a.ldx];
      for (int b = 0; b < NB; ++b) acc[0][r][b] += xr * load8(wj + 8 * b);
    }
  }
  for (int b = 0; b < NB; ++b) {
    const int64_t block = b0 + b;
    const v8 bias = a.bias ? load8(a.bias + chunk * wstride + block * 8) : v8{};
    const int64_t base = a.out_base[chunk * a.blocks + block];
    const int32_t* outs = a.out_index + chunk * wstride + block * 8;
    for (int r = 0; r < M; ++r) {
      v8 v = acc[0][r][b] + bias;
      for (int s = 1; s < S; ++s) v += acc[s][r][b];
      if (a.relu) v = v > 0.0f ? v : v8{};
      float* yr = a.y + (r0 + r) * a.ldy;
      if (base >= 0) {
        store8(yr + base, v);
      } else {
        for (int l = 0; l < 8; ++l)
          if (outs[l] >= 0) yr[outs[l]] = v[l];
      }
    }
  }
}

template <int NB, int M = (NB == 1 ? kLinearRows1 : kLinearRows2)>
void linear_rows(int m, const LinearArgs& a, int64_t r0, int64_t chunk, int64_t b0) {
  if constexpr (M >= 1) {
    if (m == M) return linear_tile<M, NB>(a, r0, chunk, b0);
    linear_rows<NB, M - 1>(m, a, r0, chunk, b0);
  }
}

// Rows r0 .. r0 + tile_rows - 1 (at most kLinearRows1) of one chunk, all its blocks: pairs of blocks in tiles of
// up to 6 rows, a last odd block in one tile of up to 12.
inline void linear_chunk(const LinearArgs& a, int64_t r0, int64_t tile_rows, int64_t chunk) {
  int64_t b0 = 0;
  for (; b0 + 2 <= a.blocks; b0 += 2)
    for (int64_t r = r0; r < r0 + tile_rows; r += kLinearRows2)
      linear_rows<2>(static_cast<int>(std::min<int64_t>(kLinearRows2, r0 + tile_rows - r)), a, r, chunk, b0);
  if (b0 < a.blocks) linear_rows<1>(static_cast<int>(tile_rows), a, r0, chunk, b0);
}

}  // namespace rgp
