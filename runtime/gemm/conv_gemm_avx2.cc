// AVX2 channels-last conv tiles: 6 output positions by up to 16 channels (12 accumulators),
// sgemm's AVX2 tile shape. Only reached through kConvAvx2Kernels after dispatch.
#include "runtime/gemm/conv_gemm_microkernel.h"
#include "runtime/gemm/sgemm_avx2_traits.h"

namespace ember::runtime::gemm {

constinit const ConvGemmKernels kConvAvx2Kernels = {
    .mr = 6,
    .nr = 2 * Avx2::kWidth,
    .width = Avx2::kWidth,
    .tile = &conv_tile_dispatch<Avx2, 6, 2>,
    .max_of_runs = &max_of_runs_kernel<Avx2>,
};

}  // namespace ember::runtime::gemm
