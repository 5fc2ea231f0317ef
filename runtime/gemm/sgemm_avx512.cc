// AVX-512 sgemm kernels: an 8 x 48 register tile (24 accumulators, 3 B vectors and one
// broadcast of the 32 ZMM registers). Only reached through kAvx512Kernels after dispatch.
#include <immintrin.h>

#include "runtime/gemm/sgemm_avx512_traits.h"
#include "runtime/gemm/sgemm_microkernel.h"
#include "runtime/gemm/sgemm_pack_simd.h"

namespace ember::runtime::gemm {
namespace {

constexpr int kMr = 8, kNv = 3;

}  // namespace

// A kc x 48 B micro-panel (36 KB at kc = 192) fits the 48 KB L1 of Zen 5 and recent Intel
// cores, and the mc x kc A block (108 KB) their 1-2 MB L2.
constinit const GemmKernels kAvx512Kernels = {
    .mr = kMr,
    .nr = kNv * Avx512::kWidth,
    .kc = 192,
    .mc = 144,
    .k_per_element = 1,
    .tile = &tile_dispatch<Avx512, kMr, kNv>,
    .gemv_t = &gemv_t_kernel<Avx512>,
    .gemv_n = &gemv_n_kernel<Avx512>,
    .pack_a = &pack_a_block_simd<Avx512>,
    .pack_b = &pack_b_panel_simd<Avx512>,
};

}  // namespace ember::runtime::gemm
