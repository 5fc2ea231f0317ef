// Internal to runtime/gemm: the AVX2 vector traits of sgemm_microkernel.h, shared by the sgemm
// kernels (sgemm_avx2.cc) and the channels-last conv tiles (conv_gemm_avx2.cc). Include it only
// from files compiled for AVX2; like the traits the microkernel header describes, it lives in an
// anonymous namespace, so each including file has its own copy.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace ember::runtime::gemm {
namespace {

// Lane masks for partial loads and stores: 8 - n leading ones read from an offset.
alignas(64) constexpr int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

struct Avx2 {
  using Reg = __m256;
  static constexpr int kWidth = 8;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static __m256i mask(int n) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - n)); }
  static Reg load_partial(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static Reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Reg set1(float x) { return _mm256_set1_ps(x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg dot(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  // a > b ? a : b per lane (b when either is NaN), as vmaxps.
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static void store_partial(float* p, Reg v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static float hsum(Reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace
}  // namespace ember::runtime::gemm
