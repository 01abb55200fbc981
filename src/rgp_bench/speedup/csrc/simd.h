// Portable SIMD for the block-sparse kernels: GCC/Clang vector extensions sized to the widest float vector this
// build targets (-march=native), with the register budget that goes with it.
//
// The kernels are written against `vf` (kLanes floats) and size their register tiles with tile_fits, so one source
// serves AVX-512 (16 lanes, 32 registers), AVX/AVX2 (8 lanes, 16 registers) and 128-bit targets (4 lanes; 16
// registers on SSE, 32 on AArch64). RGP_LANES overrides the width, for tests only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace rgp {

#if defined(RGP_LANES)
constexpr int kLanes = RGP_LANES;
#elif defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif

#if defined(__AVX512F__) || defined(__aarch64__)
constexpr int kVectorRegisters = 32;
#else
constexpr int kVectorRegisters = 16;
#endif

// Whether a register tile of GB output channels x V vectors fits: GB * V partial sums, plus the operand held across
// the other loop (min(GB, V) broadcast weights or loaded input vectors), plus one streamed operand.
constexpr bool tile_fits(int gb, int v) { return gb * v + (gb < v ? gb : v) + 1 <= kVectorRegisters; }

typedef float vf __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(kLanes * sizeof(int32_t))));

inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof(vf));
  return v;
}

inline void store(float* p, const vf& v) { std::memcpy(p, &v, sizeof(vf)); }

inline vf relu(const vf& v) { return v > 0.0f ? v : vf{}; }

// 8 floats (a ymm register on AVX/AVX2/AVX-512, two 128-bit registers elsewhere): the unit of the kernels that
// vectorise over output channels, whose blocks of 8 match RGP's usual channels per group.
typedef float v8 __attribute__((vector_size(8 * sizeof(float))));

inline v8 load8(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof(v8));
  return v;
}

inline void store8(float* p, const v8& v) { std::memcpy(p, &v, sizeof(v8)); }

template <int S, std::size_t... I>
constexpr vi shift_index(std::index_sequence<I...>) {
  return vi{static_cast<int32_t>(S + static_cast<int>(I))...};
}

// Lanes S .. S + kLanes - 1 of the concatenation (a, b): a compile-time shuffle (one or two instructions).
template <int S>
inline vf shifted(const vf& a, const vf& b) {
  return __builtin_shuffle(a, b, shift_index<S>(std::make_index_sequence<kLanes>{}));
}

template <std::size_t... I>
constexpr vi even_index(std::index_sequence<I...>) {
  return vi{static_cast<int32_t>(2 * I)...};
}

// The even lanes of the concatenation (a, b): elements 0, 2, 4, ... of 2 * kLanes consecutive floats.
inline vf even_lanes(const vf& a, const vf& b) {
  return __builtin_shuffle(a, b, even_index(std::make_index_sequence<kLanes>{}));
}

// v[u] = lanes shift .. shift + kLanes - 1 of (a[u], a[u + 1]) for u < V, for a run-time shift in 1 .. kLanes - 1.
template <int V, int S = 1>
inline void shift_vectors(const vf* a, vf* v, int shift) {
  if constexpr (S < kLanes) {
    if (shift == S) {
      for (int u = 0; u < V; ++u) v[u] = shifted<S>(a[u], a[u + 1]);
      return;
    }
    shift_vectors<V, S + 1>(a, v, shift);
  }
}

}  // namespace rgp
