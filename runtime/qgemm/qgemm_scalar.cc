// Scalar u8s8 kernel: plain loops over the packed panels, the reference every SIMD path is
// tested against and the path for CPUs without AVX2.
#include "runtime/qgemm/qgemm.h"
#include "runtime/qgemm/qgemm_kernels.h"

namespace ember::runtime::qgemm {
namespace {

constexpr int kMr = 4, kNr = kPanelWidth;

void scalar_tile(const TileArgs& t) {
  for (int i = 0; i < t.m; ++i) {
    const uint8_t* a = t.a + i * t.lda;
    for (int c = 0; c < t.n; ++c) {
      const int8_t* b = t.b + (c / kPanelWidth) * t.panel_bytes + (c % kPanelWidth) * kQuad;
      int32_t acc = 0;
      for (int64_t q = 0; q < t.k_quads; ++q)
        for (int e = 0; e < kQuad; ++e) acc += int32_t{a[q * kQuad + e]} * int32_t{b[q * kQuad * kPanelWidth + e]};
      store_result(*t.ep, t.row0 + i, t.col0 + c, acc);
    }
  }
}

}  // namespace

constinit const Kernels kScalarKernels = {
    .mr = kMr,
    .nr = kNr,
    .tile = &scalar_tile,
    .tile_shifted_a = nullptr,
};

}  // namespace ember::runtime::qgemm
