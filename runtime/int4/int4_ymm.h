// Internal to runtime/int4: the YMM vector traits shared by the AVX2 and AVX-VNNI kernels
// (everything but dpbusd), in an anonymous namespace so each including ISA file gets its own
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
  static IReg zero_shift(const uint8_t* p) {
    return _mm256_mullo_epi32(_mm256_sub_epi32(_mm256_set1_epi32(15), load_zeros(p)), _mm256_set1_epi32(0x01010101));
  }
};

}  // namespace
}  // namespace ember::runtime::int4
