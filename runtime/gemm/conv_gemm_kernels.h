// Internal to runtime/gemm: the per-ISA tables of the channels-last conv tiles (conv_gemm.h),
// as sgemm_kernels.h is for sgemm. Each *_avx512.cc / *_avx2.cc file exports one table.
#pragma once
#include <cstdint>

namespace ember::runtime::gemm {

// One register tile: m output positions (rows[i] is where row i's window starts) by n columns
// of one weight panel (b: depth rows of b_stride floats, zero past the panel's columns).
struct ConvTileArgs {
  const float* const* rows = nullptr;
  const int64_t* runs = nullptr;
  int64_t run_count = 0, run_length = 0;
  const float* b = nullptr;
  int64_t b_stride = 0;
  const float* bias = nullptr;  // n floats, or null
  bool relu = false;
  float* c = nullptr;
  int64_t ldc = 0;
  int m = 0, n = 0;  // 1..mr rows, 1..nr columns
};

struct ConvGemmKernels {
  int mr, nr;
  int width;  // floats per vector: a panel narrower than nr is a whole number of vectors
  void (*tile)(const ConvTileArgs&);
  // out[c] = max over t < count of x[offsets[t] + c], for c < channels (see max_of_runs).
  void (*max_of_runs)(const float* x, const int64_t* offsets, int64_t count, int64_t channels, float* out);
};

extern const ConvGemmKernels kConvAvx2Kernels;
extern const ConvGemmKernels kConvAvx512Kernels;

}  // namespace ember::runtime::gemm
