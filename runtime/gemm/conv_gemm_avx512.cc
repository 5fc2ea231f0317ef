// AVX-512 channels-last conv tiles: 8 output positions by up to 48 channels (24 accumulators),
// sgemm's AVX-512 tile shape. Only reached through kConvAvx512Kernels after dispatch.
#include "runtime/gemm/conv_gemm_microkernel.h"
#include "runtime/gemm/sgemm_avx512_traits.h"

namespace ember::runtime::gemm {

constinit const ConvGemmKernels kConvAvx512Kernels = {
    .mr = 8,
    .nr = 3 * Avx512::kWidth,
    .width = Avx512::kWidth,
    .tile = &conv_tile_dispatch<Avx512, 8, 3>,
    .max_of_runs = &max_of_runs_kernel<Avx512>,
};

}  // namespace ember::runtime::gemm
