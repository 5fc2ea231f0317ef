// AVX2 + FMA sgemm kernels: a 6 x 16 register tile (12 accumulators, 2 B vectors and one
// broadcast fill the 16 YMM registers). Only reached through kAvx2Kernels after dispatch.
#include <immintrin.h>

#include "runtime/gemm/sgemm_avx2_traits.h"
#include "runtime/gemm/sgemm_microkernel.h"
#include "runtime/gemm/sgemm_pack_simd.h"

namespace ember::runtime::gemm {
namespace {

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
