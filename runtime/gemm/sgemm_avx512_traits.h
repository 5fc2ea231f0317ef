// Internal to runtime/gemm: the AVX-512 vector traits of sgemm_microkernel.h, shared by the f32
// kernels (sgemm_avx512.cc), the bf16 ones (sgemm_bf16_avx512.cc) and the channels-last conv
// tiles (conv_gemm_avx512.cc). Include it only from files compiled for AVX-512; like the traits
// the microkernel header describes, it lives in an anonymous namespace, so each including file
// has its own copy.
#pragma once
#include <immintrin.h>

namespace ember::runtime::gemm {
namespace {

struct Avx512 {
  using Reg = __m512;
  static constexpr int kWidth = 16;
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Reg set1(float x) { return _mm512_set1_ps(x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg dot(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  // a > b ? a : b per lane (b when either is NaN), as vmaxps; masked for the reason hsum says.
  static Reg max(Reg a, Reg b) { return _mm512_mask_max_ps(a, 0xffff, a, b); }
  static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static void store_partial(float* p, Reg v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  // Folds 128-bit blocks with the masked intrinsics: the unmasked ones (and
  // _mm512_reduce_add_ps) use an undefined source that trips GCC 12's -Wuninitialized.
  static float hsum(Reg v) {
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xffff, v, v, 0x4e));
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xffff, v, v, 0xb1));
    __m128 s = _mm512_mask_extractf32x4_ps(_mm_setzero_ps(), 0xf, v, 0);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace
}  // namespace ember::runtime::gemm
