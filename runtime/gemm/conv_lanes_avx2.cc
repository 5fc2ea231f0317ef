// AVX2 position-lane conv tiles: up to 2 vectors of 8 positions by 6 output channels
// (12 accumulators of 16 registers). Only reached through kConvLanesAvx2Kernels after dispatch.
#include "runtime/gemm/conv_lanes_microkernel.h"
#include "runtime/gemm/sgemm_avx2_traits.h"

namespace ember::runtime::gemm {

constinit const ConvLaneKernels kConvLanesAvx2Kernels = {
    .max_vectors = 2,
    .max_channels = 6,
    .width = Avx2::kWidth,
    .tile = &lane_tile_dispatch<Avx2, 2, 6>,
};

}  // namespace ember::runtime::gemm
