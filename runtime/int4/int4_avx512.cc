// AVX-512 VNNI INT4 kernels. Streaming (decode): one ZMM holds four k of each of a group's 16
// columns, so a block is four loads, eight VPDPBUSD per activation row and one FMA; four rows
// at a time. Unpacked (prefill): panels of two groups, a 4 x 32 register tile (16 int32: two
// chains per accumulator, and 8 float accumulators). The activations' quantizers are in
// int4_act_avx512.cc.
// Only reached through kInt4Avx512Kernels after dispatch.
#include <immintrin.h>

#include "runtime/int4/int4_microkernel.h"
#include "runtime/int4/int4_unpacked.h"

namespace ember::runtime::int4 {
namespace {

// Conversions use the zero-masked intrinsics: the unmasked ones pass an undefined source that
// trips GCC 12's -Wmaybe-uninitialized.
struct Int4Avx512 {
  using IReg = __m512i;
  using FReg = __m512;
  static constexpr int kWidth = 16;
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static IReg load_codes(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static IReg lo_nibbles(IReg raw) { return _mm512_and_si512(raw, _mm512_set1_epi8(0x0f)); }
  static IReg hi_nibbles(IReg raw) { return _mm512_and_si512(_mm512_srli_epi16(raw, 4), _mm512_set1_epi8(0x0f)); }
  static IReg bcast_quad(const int8_t* p) {
    int32_t v;
    __builtin_memcpy(&v, p, sizeof(v));
    return _mm512_set1_epi32(v);
  }
  static constexpr bool kInt16Sums = false;
  static constexpr bool kTwoChains = true;  // 16 int32 + 8 float accumulators fit the 32 ZMM
  // Inline assembly for the reason given in qgemm_avx512.cc (GCC 12 copies accumulators).
  static IReg dpbusd(IReg acc, IReg w, IReg x) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(w), "v"(x));
    return acc;
  }
  static IReg izero() { return _mm512_setzero_si512(); }
  static IReg set1i(int32_t v) { return _mm512_set1_epi32(v); }
  static IReg iadd(IReg a, IReg b) { return _mm512_add_epi32(a, b); }
  static IReg imullo(IReg a, IReg b) { return _mm512_mullo_epi32(a, b); }
  static IReg load_zeros(const uint8_t* p) { return _mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static FReg load_half(const uint16_t* p) { return _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static FReg cvt(IReg v) { return _mm512_maskz_cvtepi32_ps(0xffff, v); }
  static FReg set1f(float v) { return _mm512_set1_ps(v); }
  static FReg fzero() { return _mm512_setzero_ps(); }
  static FReg fmul(FReg a, FReg b) { return _mm512_mul_ps(a, b); }
  static FReg fadd(FReg a, FReg b) { return _mm512_add_ps(a, b); }
  static FReg fma(FReg a, FReg b, FReg c) { return _mm512_fmadd_ps(a, b, c); }
  static FReg fload(const float* p) { return _mm512_loadu_ps(p); }
  static FReg fload_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void fstore(float* p, FReg v) { _mm512_storeu_ps(p, v); }
  static void fstore_partial(float* p, FReg v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static void store_bytes(uint8_t* p, IReg v) { _mm512_storeu_si512(p, v); }
  static IReg add8(IReg a, IReg b) { return _mm512_add_epi8(a, b); }
  static IReg set1b(int8_t v) { return _mm512_set1_epi8(v); }
  static IReg zero_shift(const uint8_t* p) {
    return _mm512_mullo_epi32(_mm512_sub_epi32(_mm512_set1_epi32(kUnpackedShift), load_zeros(p)), _mm512_set1_epi32(0x01010101));
  }
};

}  // namespace

constinit const Int4Kernels kInt4Avx512Kernels = {
    .run = &run_kernel<Int4Avx512, 4>,
    .run_unpacked = &run_unpacked<Int4Avx512, 2, 4>,
    .panel_groups = 2,
    .quantize_block = &quantize_block_avx512,
    .quantize_row = &quantize_row_avx512,
    .requantize_group = &requantize_group_avx512,
};

}  // namespace ember::runtime::int4
