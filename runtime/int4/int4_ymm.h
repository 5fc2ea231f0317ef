// Internal to runtime/int4: the YMM vector traits shared by the AVX2 and AVX-VNNI kernels
// (everything but dpbusd) and their block quantizer, in an anonymous namespace so each including ISA file gets its own
// internal copy compiled with its own flags (see int4_microkernel.h).
#pragma once
#include <immintrin.h>

#include "runtime/int4/int4_microkernel.h"
#include "runtime/int4/int4_unpacked.h"

namespace ember::runtime::int4 {
namespace {

// Lane masks for partial loads and stores: n leading ones start at kInt4MaskTable + 8 - n.
alignas(64) constexpr int32_t kInt4MaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

struct Int4Ymm {
  using IReg = __m256i;
  using FReg = __m256;
  static constexpr int kWidth = 8;
  static __m256i mask(int n) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kInt4MaskTable + 8 - n)); }
  static IReg load_codes(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static IReg lo_nibbles(IReg raw) { return _mm256_and_si256(raw, _mm256_set1_epi8(0x0f)); }
  static IReg hi_nibbles(IReg raw) { return _mm256_and_si256(_mm256_srli_epi16(raw, 4), _mm256_set1_epi8(0x0f)); }
  static IReg bcast_quad(const int8_t* p) {
    int32_t v;
    __builtin_memcpy(&v, p, sizeof(v));
    return _mm256_set1_epi32(v);
  }
  static IReg izero() { return _mm256_setzero_si256(); }
  static IReg set1i(int32_t v) { return _mm256_set1_epi32(v); }
  static IReg iadd(IReg a, IReg b) { return _mm256_add_epi32(a, b); }
  static IReg imullo(IReg a, IReg b) { return _mm256_mullo_epi32(a, b); }
  static IReg load_zeros(const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static FReg load_half(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static FReg cvt(IReg v) { return _mm256_cvtepi32_ps(v); }
  static FReg set1f(float v) { return _mm256_set1_ps(v); }
  static FReg fzero() { return _mm256_setzero_ps(); }
  static FReg fmul(FReg a, FReg b) { return _mm256_mul_ps(a, b); }
  static FReg fadd(FReg a, FReg b) { return _mm256_add_ps(a, b); }
  static FReg fma(FReg a, FReg b, FReg c) { return _mm256_fmadd_ps(a, b, c); }
  static FReg fload(const float* p) { return _mm256_loadu_ps(p); }
  static FReg fload_partial(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void fstore(float* p, FReg v) { _mm256_storeu_ps(p, v); }
  static void fstore_partial(float* p, FReg v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static void store_bytes(uint8_t* p, IReg v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static IReg add8(IReg a, IReg b) { return _mm256_add_epi8(a, b); }
  static IReg set1b(int8_t v) { return _mm256_set1_epi8(v); }
  static IReg zero_shift(const uint8_t* p) {
    return _mm256_mullo_epi32(_mm256_sub_epi32(_mm256_set1_epi32(kUnpackedShift), load_zeros(p)), _mm256_set1_epi32(0x01010101));
  }
};

// int4_act.cc's rule on one block (see quantize_block_avx512 in int4_avx512.cc).
inline void quantize_block_ymm(const float* x, float scale_multiplier, int8_t* q, float* scale, int32_t* sum) {
  __m256 v[4];
  __m256 amax_lanes = _mm256_setzero_ps();
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int h = 0; h < 4; ++h) {
    v[h] = _mm256_loadu_ps(x + 8 * h);
    const __m256 ordered = _mm256_cmp_ps(v[h], v[h], _CMP_ORD_Q);
    amax_lanes = _mm256_max_ps(amax_lanes, _mm256_and_ps(_mm256_and_ps(v[h], abs_mask), ordered));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax_lanes), _mm256_extractf128_ps(amax_lanes, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  const float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
  const __m256 inv = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
  __m256i qi[4];
  for (int h = 0; h < 4; ++h) {
    __m256 r = _mm256_mul_ps(v[h], inv);
    r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));
    r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
    qi[h] = _mm256_cvttps_epi32(_mm256_round_ps(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // packs interleave the 128-bit lanes; the permutation puts the four-byte pieces back in order.
  const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  const __m256i t = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
  __m128i t4 = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
  t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0x4e));
  t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0xb1));
  *scale = amax / 127.0f * scale_multiplier;
  *sum = _mm_cvtsi128_si32(t4);
}

}  // namespace
}  // namespace ember::runtime::int4
