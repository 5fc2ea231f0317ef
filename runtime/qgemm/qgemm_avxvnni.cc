// AVX-VNNI (VEX-encoded VPDPBUSD on YMM) u8s8 kernels: a 6 x 16 register tile (12
// accumulators, 2 B vectors and one broadcast of the 16 YMM registers). Only reached through
// kAvxVnniKernels after dispatch.
#include <immintrin.h>

#include "runtime/qgemm/qgemm_ymm.h"

namespace ember::runtime::qgemm {
namespace {

struct AvxVnni : YmmCommon {
  // Inline assembly for the reason given in qgemm_avx512.cc (GCC 12 copies accumulators).
  static IReg dpbusd(IReg acc, IReg a, IReg b) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b));
    return acc;
  }
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
