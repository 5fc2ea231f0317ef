// Internal to runtime/qgemm: the YMM vector traits shared by the AVX2 and AVX-VNNI kernels
// (everything but dpbusd). Declared in an anonymous namespace, so each including ISA file
// gets its own internal copy compiled with its own flags (see qgemm_microkernel.h).
#pragma once
#include <immintrin.h>

#include "runtime/qgemm/qgemm_microkernel.h"

namespace ember::runtime::qgemm {
namespace {

// Lane masks for partial loads and stores: n leading ones start at kYmmMaskTable + 8 - n.
alignas(64) constexpr int32_t kYmmMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

struct YmmCommon {
  using IReg = __m256i;
  using FReg = __m256;
  static constexpr int kWidth = 8;
  static __m256i mask(int n) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kYmmMaskTable + 8 - n)); }
  static IReg izero() { return _mm256_setzero_si256(); }
  static IReg bcast_quad(const uint8_t* p) {
    int32_t v;
    __builtin_memcpy(&v, p, sizeof(v));
    return _mm256_set1_epi32(v);
  }
  static IReg load_b(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static IReg iload(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void istore(int32_t* p, IReg v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void istore_partial(int32_t* p, IReg v, int n) { _mm256_maskstore_epi32(p, mask(n), v); }
  static IReg set1i(int32_t x) { return _mm256_set1_epi32(x); }
  static IReg isub(IReg a, IReg b) { return _mm256_sub_epi32(a, b); }
  static IReg imullo(IReg a, IReg b) { return _mm256_mullo_epi32(a, b); }
  static FReg cvt(IReg v) { return _mm256_cvtepi32_ps(v); }
  static FReg fload(const float* p) { return _mm256_loadu_ps(p); }
  static FReg fload_partial(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void fstore(float* p, FReg v) { _mm256_storeu_ps(p, v); }
  static void fstore_partial(float* p, FReg v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static FReg set1f(float x) { return _mm256_set1_ps(x); }
  static FReg fmul(FReg a, FReg b) { return _mm256_mul_ps(a, b); }
  static FReg fma(FReg a, FReg b, FReg c) { return _mm256_fmadd_ps(a, b, c); }
  static FReg relu(FReg v) { return _mm256_max_ps(v, _mm256_setzero_ps()); }
};

}  // namespace
}  // namespace ember::runtime::qgemm
