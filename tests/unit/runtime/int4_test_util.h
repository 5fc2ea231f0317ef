// Random INT4 sources and helpers for the runtime/int4 tests (test_int4_gemv.cc, test_int4_requant.cc):
// codes, then one scale per block drawn by the caller's rule, then the zero points, from one
// generator in that order.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "runtime/int4/int4_format.h"
#include "tests/unit/test_support.h"

namespace ember::int4_test {

// No zero points (all 8), one zero point for every block, or one drawn per block.
enum class Zeros { kDefault, kUniform, kPerBlock };

template <class DrawScale>
runtime::int4::Int4Source make_int4_source(int64_t K, int64_t N, int64_t block_size, Zeros zeros, uint8_t uniform_zero,
                                           uint32_t seed, DrawScale draw_scale) {
  std::mt19937 rng(seed);
  runtime::int4::Int4Source s;
  s.K = K;
  s.N = N;
  s.block_size = block_size;
  std::uniform_int_distribution<int> nibble(0, 15);
  s.codes.resize(size_t(N * K));
  for (auto& c : s.codes) c = static_cast<uint8_t>(nibble(rng));
  s.scales.resize(size_t(N * s.source_blocks()));
  for (auto& v : s.scales) v = draw_scale(rng);
  if (zeros == Zeros::kUniform) s.zeros.assign(s.scales.size(), uniform_zero);
  if (zeros == Zeros::kPerBlock) {
    s.zeros.resize(s.scales.size());
    for (auto& z : s.zeros) z = static_cast<uint8_t>(nibble(rng));
  }
  return s;
}

// Runs `check` on every ISA level this CPU can run, at 1 and 2 threads.
template <class Check>
void on_every_path(Check check) {
  for (runtime::IsaLevel level : test::testable_levels()) {
    test::IsaScope isa(level);
    for (int threads : {1, 2}) {
      test::ThreadsScope scope(threads);
      CAPTURE(runtime::isa_name(level));
      CAPTURE(threads);
      check();
    }
  }
}

// int4_gemm's M rows into rows of ldy floats prefilled with kPadding, so that a test also sees
// anything written past the N columns.
constexpr float kPadding = 99.0f;
inline std::vector<float> gemm_padded(const runtime::int4::Int4Activations& a, const runtime::int4::Int4Weights& w,
                                      const float* bias, int64_t M, int64_t ldy,
                                      runtime::int4::Int4Kernel kernel = runtime::int4::Int4Kernel::kAuto) {
  std::vector<float> y(size_t(M * ldy), kPadding);
  runtime::int4::int4_gemm(a, w, bias, y.data(), ldy, kernel);
  return y;
}

}  // namespace ember::int4_test
