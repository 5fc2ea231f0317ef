// AVX-VNNI (VEX-encoded VPDPBUSD on YMM) u8s8 kernels: a 6 x 16 register tile (12
// accumulators, 2 B vectors and one broadcast of the 16 YMM registers). Only reached through
// kAvxVnniKernels after dispatch.
#include <immintrin.h>

#include "runtime/qgemm/qgemm_ymm.h"

namespace ember::runtime::qgemm {
namespace {

struct AvxVnni : YmmCommon {
  static IReg dpbusd(IReg acc, IReg a, IReg b) { return _mm256_dpbusd_avx_epi32(acc, a, b); }
};

constexpr int kMr = 6, kNv = 2;

}  // namespace

constinit const Kernels kAvxVnniKernels = {
    .mr = kMr,
    .nr = kNv * AvxVnni::kWidth,
    .tile = &tile_dispatch<AvxVnni, kMr, kNv>,
    .tile_shifted_a = nullptr,
};

}  // namespace ember::runtime::qgemm
