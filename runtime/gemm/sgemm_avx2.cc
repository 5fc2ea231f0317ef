// AVX2 + FMA sgemm kernels: a 6 x 16 register tile (12 accumulators, 2 B vectors and one
// broadcast fill the 16 YMM registers). Only reached through kAvx2Kernels after dispatch.
#include <immintrin.h>

#include "runtime/gemm/sgemm_microkernel.h"
#include "runtime/gemm/sgemm_pack_simd.h"

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
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static void store_partial(float* p, Reg v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static float hsum(Reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

constexpr int kMr = 6, kNv = 2;

}  // namespace

// kc * 16 floats of a B micro-panel (16 KB) stay in L1; mc * kc floats of A (144 KB) in L2.
constinit const GemmKernels kAvx2Kernels = {
    .mr = kMr,
    .nr = kNv * Avx2::kWidth,
    .kc = 256,
    .mc = 144,
    .k_per_element = 1,
    .tile = &tile_dispatch<Avx2, kMr, kNv>,
    .gemv_t = &gemv_t_kernel<Avx2>,
    .gemv_n = &gemv_n_kernel<Avx2>,
    .pack_a = &pack_a_block_simd<Avx2>,
    .pack_b = &pack_b_panel_simd<Avx2>,
};

}  // namespace ember::runtime::gemm
