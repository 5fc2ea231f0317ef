// AVX-512 position-lane conv tiles: up to 2 vectors of 16 positions by 12 output channels
// (24 accumulators of 32 registers). Only reached through kConvLanesAvx512Kernels after dispatch.
#include "runtime/gemm/conv_lanes_microkernel.h"
#include "runtime/gemm/sgemm_avx512_traits.h"

namespace ember::runtime::gemm {

constinit const ConvLaneKernels kConvLanesAvx512Kernels = {
    .max_vectors = 2,
    .max_channels = 12,
    .width = Avx512::kWidth,
    .tile = &lane_tile_dispatch<Avx512, 2, 12>,
};

}  // namespace ember::runtime::gemm
