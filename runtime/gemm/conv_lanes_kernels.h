// Internal to runtime/gemm: the per-ISA tables of the position-lane conv tiles (conv_lanes.h),
// as conv_gemm_kernels.h is for the channel-lane ones. Each *_avx512.cc / *_avx2.cc exports one.
#pragma once
#include <cstdint>

namespace ember::runtime::gemm {

constexpr int kMaxLaneVectors = 4;

// One register tile: v vectors of grid positions by m output channels of one weight block
// (b: K rows of b_stride floats, (tap, channel) order). Vector i reads the image at images[i]
// (its first position's window start) and writes its m rows at ys[i]: the vectors may come
// from different images, so an image's last vector shares a tile with the next one's first.
struct LaneTileArgs {
  const float* images[kMaxLaneVectors] = {};
  int64_t plane = 0, channels = 0;
  const int64_t* taps = nullptr;
  int64_t tap_count = 0;
  const float* b = nullptr;
  int64_t b_stride = 0;
  const float* bias = nullptr;  // m floats, or null
  bool relu = false;
  float* ys[kMaxLaneVectors] = {};  // each at the block's first channel
  int64_t ldy = 0;
  int v = 0, m = 0;  // 1..max_vectors, 1..max_channels
};

struct ConvLaneKernels {
  int max_vectors, max_channels;  // the largest tile: vectors of positions by channels
  int width;                      // floats per vector
  void (*tile)(const LaneTileArgs&);
};

extern const ConvLaneKernels kConvLanesAvx2Kernels;
extern const ConvLaneKernels kConvLanesAvx512Kernels;

}  // namespace ember::runtime::gemm
