// The INT4 driver: ISA dispatch, the choice between the streaming, the unpacked and the
// requantized kernel (activations per row: int4_requant.cc), and threading over groups of 16
// output columns, so each thread reads one contiguous range of the packed weights.
#include <algorithm>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/int4/int4_kernels.h"
#include "runtime/parallel.h"

namespace ember::runtime::int4 {
namespace {

// Weight bytes x activation rows below which a chunk is not worth another thread.
constexpr int64_t kMinWorkPerThread = int64_t{1} << 16;

Int4Args args_for(const Int4Activations& x, const Int4Weights& w, const float* bias, float* y, int64_t ldy, int64_t g0,
                  int64_t g1) {
  Int4Args a;
  a.w = &w;
  a.x = &x;
  a.g0 = g0;
  a.g1 = g1;
  a.m0 = 0;
  a.m1 = x.M();
  a.bias = bias;
  a.y = y;
  a.ldy = ldy;
  return a;
}

const Int4Kernels& kernels_for(IsaLevel level) {
  switch (level) {
    case IsaLevel::kAvx512:
      return kInt4Avx512Kernels;
    case IsaLevel::kAvxVnni:
      return kInt4AvxVnniKernels;
    case IsaLevel::kAvx2:
      return kInt4Avx2Kernels;
    case IsaLevel::kScalar:
      break;
  }
  return kInt4ScalarKernels;
}

void run_streaming(const Int4Kernels& kern, const Int4Activations& x, const Int4Weights& w, const float* bias, float* y,
                   int64_t ldy) {
  const int64_t group_work = std::max<int64_t>(1, w.blocks() * kBlockBytes * x.M());
  parallel_for(w.groups(), std::max<int64_t>(1, kMinWorkPerThread / group_work), [&](int64_t g0, int64_t g1) {
    kern.run(args_for(x, w, bias, y, ldy, g0, g1));
  });
}

// Threads take whole panels, so each unpacks its own columns once and reads every row.
void run_unpacked(const Int4Kernels& kern, const Int4Activations& x, const Int4Weights& w, const float* bias, float* y,
                  int64_t ldy) {
  const int64_t pg = kern.panel_groups;
  const int64_t panels = (w.groups() + pg - 1) / pg;
  const int64_t panel_work = std::max<int64_t>(1, w.blocks() * kBlockBytes * pg * x.M());
  std::vector<int32_t> seeds(static_cast<size_t>(x.M() * w.blocks()));
  for (int64_t m = 0; m < x.M(); ++m)
    for (int64_t b = 0; b < w.blocks(); ++b) seeds[size_t(m * w.blocks() + b)] = -kUnpackedShift * x.sums(m)[b];
  parallel_for(panels, std::max<int64_t>(1, kMinWorkPerThread / panel_work), [&](int64_t p0, int64_t p1) {
    Int4Args a = args_for(x, w, bias, y, ldy, p0 * pg, std::min(w.groups(), p1 * pg));
    a.seeds = seeds.data();
    kern.run_unpacked(a);
  });
}

void run_with(const Int4Kernels& kern, const Int4Activations& x, const Int4Weights& w, const float* bias, float* y,
              int64_t ldy, Int4Kernel kernel) {
  if (x.M() <= 0 || w.N() <= 0) return;
  if (x.per_row()) {
    const RequantizeGroupFn requantize = kern.requantize_group ? kern.requantize_group : &requantize_group_scalar;
    return requantized_gemm(requantize, qgemm::active_kernels(), x, w, bias, y, ldy);
  }
  if (kernel == Int4Kernel::kAuto) kernel = x.M() >= kUnpackedMinRows ? Int4Kernel::kUnpacked : Int4Kernel::kStreaming;
  if (kernel == Int4Kernel::kUnpacked)
    run_unpacked(kern, x, w, bias, y, ldy);
  else
    run_streaming(kern, x, w, bias, y, ldy);
}

}  // namespace

const Int4Kernels& int4_kernels() { return kernels_for(isa_level()); }

uint8_t* unpack_scratch(size_t bytes) {
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() < bytes + 64) buffer.resize(bytes + 64);
  const uintptr_t at = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + ((64 - at % 64) % 64);
}

void int4_gemm(const Int4Activations& x, const Int4Weights& w, const float* bias, float* y, int64_t ldy,
               Int4Kernel kernel) {
  run_with(kernels_for(isa_level()), x, w, bias, y, ldy, kernel);
}

void int4_gemm_reference(const Int4Activations& x, const Int4Weights& w, const float* bias, float* y, int64_t ldy) {
  if (x.per_row()) return requantized_gemm(&requantize_group_scalar, qgemm::kScalarKernels, x, w, bias, y, ldy);
  kInt4ScalarKernels.run(args_for(x, w, bias, y, ldy, 0, w.groups()));
}

}  // namespace ember::runtime::int4
