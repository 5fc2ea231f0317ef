// AVX-512 VNNI u8s8 kernels: an 8 x 48 register tile (24 accumulators, 3 B vectors and one
// broadcast of the 32 ZMM registers); each VPDPBUSD does 64 multiply-adds. Only reached
// through kAvx512Kernels after dispatch.
#include <immintrin.h>

#include "runtime/qgemm/qgemm_microkernel.h"

namespace ember::runtime::qgemm {
namespace {

// Conversions and max use the zero-masked intrinsics: the unmasked ones pass an undefined
// source that trips GCC 12's -Wmaybe-uninitialized.
struct Avx512Vnni {
  using IReg = __m512i;
  using FReg = __m512;
  static constexpr int kWidth = 16;
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static IReg izero() { return _mm512_setzero_si512(); }
  static IReg bcast_quad(const uint8_t* p) {
    int32_t v;
    __builtin_memcpy(&v, p, sizeof(v));
    return _mm512_set1_epi32(v);
  }
  static IReg load_b(const int8_t* p) { return _mm512_loadu_si512(p); }
  // Inline assembly: with the intrinsic, GCC 12 copies every accumulator between registers
  // and to the stack on each step (it treats the builtin as non-destructive), halving the rate.
  static IReg dpbusd(IReg acc, IReg a, IReg b) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
  }
  static IReg iload(const int32_t* p) { return _mm512_loadu_si512(p); }
  static void istore(int32_t* p, IReg v) { _mm512_storeu_si512(p, v); }
  static void istore_partial(int32_t* p, IReg v, int n) { _mm512_mask_storeu_epi32(p, mask(n), v); }
  static IReg set1i(int32_t x) { return _mm512_set1_epi32(x); }
  static IReg isub(IReg a, IReg b) { return _mm512_sub_epi32(a, b); }
  static IReg imullo(IReg a, IReg b) { return _mm512_mullo_epi32(a, b); }
  static FReg cvt(IReg v) { return _mm512_maskz_cvtepi32_ps(0xffff, v); }
  static FReg fload(const float* p) { return _mm512_loadu_ps(p); }
  static FReg fload_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void fstore(float* p, FReg v) { _mm512_storeu_ps(p, v); }
  static void fstore_partial(float* p, FReg v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static FReg set1f(float x) { return _mm512_set1_ps(x); }
  static FReg fmul(FReg a, FReg b) { return _mm512_mul_ps(a, b); }
  static FReg fma(FReg a, FReg b, FReg c) { return _mm512_fmadd_ps(a, b, c); }
  static FReg relu(FReg v) { return _mm512_maskz_max_ps(0xffff, v, _mm512_setzero_ps()); }
};

constexpr int kMr = 8, kNv = 3;

}  // namespace

constinit const Kernels kAvx512Kernels = {
    .mr = kMr,
    .nr = kNv * Avx512Vnni::kWidth,
    .tile = &tile_dispatch<Avx512Vnni, kMr, kNv>,
    .tile_shifted_a = nullptr,
};

}  // namespace ember::runtime::qgemm
