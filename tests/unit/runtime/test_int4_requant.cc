// The requantized INT4 kernel (runtime/int4/int4_requant.cc): INT4 weights requantized to int8
// per column, panel by panel, run on the INT8 GEMM's tiles with activations per row (prefill).
// Checked: the AVX-512 requantization gives the scalar rule's bytes, sums and scales; every
// requantized weight is within 0.53 of its column's step of the INT4 weight; the product on
// every ISA path equals the scalar reference and stays within the bound of what the
// requantization and the per-row activations may change against the float product; the form
// of the activations follows the number of rows.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ir/dtype.h"
#include "runtime/cpu.h"
#include "runtime/int4/int4_format.h"
#include "runtime/int4/int4_kernels.h"
#include "tests/unit/runtime/int4_test_util.h"
#include "tests/unit/test_support.h"

using namespace ember::runtime;
using namespace ember::runtime::int4;

using ember::half_to_float;
using ember::test::IsaScope;
using ember::test::normal_floats;
using ember::test::testable_levels;
using ember::test::ThreadsScope;

namespace {

using ember::int4_test::Zeros;

// Scales spread over two decades, so columns mix blocks of very different steps (the case a
// per-column int8 scale represents worst), one in five negative (onnxruntime's MatMulNBits
// allows them), and one all-zero column when N > 5.
Int4Source make_source(int64_t K, int64_t N, int64_t block_size, Zeros zeros, uint32_t seed) {
  std::uniform_real_distribution<float> log_scale(std::log(0.0005f), std::log(0.05f));
  Int4Source s = ember::int4_test::make_int4_source(K, N, block_size, zeros, 3, seed, [&](std::mt19937& rng) {
    return std::exp(log_scale(rng)) * (rng() % 5 == 0 ? -1.0f : 1.0f);
  });
  if (N > 5)
    for (int64_t b = 0; b < s.source_blocks(); ++b) s.scales[size_t(5 * s.source_blocks() + b)] = 0.0f;
  return s;
}

// The weight of column n, depth k as the packed form holds it (fp16 scale).
double int4_weight(const Int4Weights& w, int64_t n, int64_t k) {
  const int64_t g = n / kGroupRows, j = n % kGroupRows, b = k / kBlock;
  const int32_t zero = w.zeros(g) ? w.zeros(g)[b * kGroupRows + j] : w.uniform_zero();
  return double(w.code(n, k) - zero) * half_to_float(w.scales(g)[b * kGroupRows + j]) * w.scale_multiplier();
}

struct Panel {
  std::vector<int8_t> bytes;
  std::vector<int32_t> sums;
  std::vector<float> scales;
};

Panel requantize_all(RequantizeGroupFn fn, const Int4Weights& w) {
  Panel p;
  p.bytes.assign(size_t(w.groups() * w.blocks() * kRequantBlockBytes), 99);
  p.sums.assign(size_t(w.groups() * kGroupRows), 99);
  p.scales.assign(p.sums.size(), 99.0f);
  for (int64_t g = 0; g < w.groups(); ++g)
    fn(w, g, p.bytes.data() + g * w.blocks() * kRequantBlockBytes, p.sums.data() + g * kGroupRows, p.scales.data() + g * kGroupRows);
  return p;
}

// The requantized byte of column n, depth k in the packed-B layout.
int8_t panel_byte(const Panel& p, const Int4Weights& w, int64_t n, int64_t k) {
  const int64_t g = n / kGroupRows, j = n % kGroupRows;
  return p.bytes[size_t(g * w.blocks() * kRequantBlockBytes + (k / 4) * 64 + j * 4 + k % 4)];
}

}  // namespace

TEST_CASE("int4 requant: every weight is within 0.53 of its column's step of the INT4 weight") {
  uint32_t seed = 3;
  for (int64_t K : {int64_t{32}, int64_t{45}, int64_t{300}})
    for (int64_t N : {int64_t{7}, int64_t{40}})
      for (Zeros zeros : {Zeros::kDefault, Zeros::kUniform, Zeros::kPerBlock}) {
        CAPTURE(K);
        CAPTURE(N);
        CAPTURE(zeros);
        ++seed;
        const Int4Source s = make_source(K, N, seed % 2 ? 32 : 64, zeros, seed);
        const Int4Weights w = Int4Weights::pack(s);
        const Panel p = requantize_all(&requantize_group_scalar, w);
        for (int64_t n = 0; n < N; ++n) {
          const double step = p.scales[size_t(n)];
          double largest = 0;
          int32_t sum = 0;
          for (int64_t k = 0; k < w.blocks() * kBlock; ++k) {
            const int8_t q = panel_byte(p, w, n, k);
            sum += q;
            REQUIRE(q >= -127);
            if (k >= K) {
              REQUIRE(q == 0);
              continue;
            }
            const double want = int4_weight(w, n, k);
            largest = std::max(largest, std::fabs(want));
            // Half a step of rounding plus the step ratio's 8 fractional bits (15 / 512).
            REQUIRE(std::fabs(q * step - want) <= (0.5 + 15.0 / 512) * step * (1 + 1e-6));
          }
          CHECK(sum == p.sums[size_t(n)]);
          // The step is the largest weight the zero points allow over 127: at most 15 / 127 of
          // the largest block step, and a zero column has step 0.
          if (n == 5) CHECK(step == 0.0);
          CHECK(largest <= 127 * step * (1 + 1e-6));
        }
      }
}

TEST_CASE("int4 requant: every ISA path's requantization gives the scalar rule's bytes, sums and scales") {
  uint32_t seed = 40;
  for (int64_t K : {int64_t{1}, int64_t{33}, int64_t{256}, int64_t{777}})
    for (int64_t N : {int64_t{1}, int64_t{17}, int64_t{48}, int64_t{100}})
      for (Zeros zeros : {Zeros::kDefault, Zeros::kUniform, Zeros::kPerBlock}) {
        Int4Source s = make_source(K, N, 32, zeros, ++seed);
        // Extremes: codes 0 and 15 against zero points 15 and 0 in the first column.
        for (int64_t k = 0; k < K; ++k) s.codes[size_t(k)] = k % 2 ? 15 : 0;
        const Int4Weights w = Int4Weights::pack(s);
        const Panel want = requantize_all(&requantize_group_scalar, w);
        for (IsaLevel level : testable_levels()) {
          IsaScope isa(level);
          const RequantizeGroupFn fn = int4_kernels().requantize_group;
          if (!fn) continue;
          CAPTURE(isa_name(level));
          CAPTURE(K);
          CAPTURE(N);
          CAPTURE(zeros);
          const Panel got = requantize_all(fn, w);
          CHECK(got.bytes == want.bytes);
          CHECK(got.sums == want.sums);
          CHECK(got.scales == want.scales);
        }
      }
}

// The requantized product against the float product of the dequantized INT4 weights: per-row
// uint8 activations are within half their step, requantized weights within 0.53 of theirs.
TEST_CASE("int4 requant: every ISA path equals the reference, within the error bound of the float product") {
  uint32_t seed = 90;
  for (int64_t K : {int64_t{5}, int64_t{64}, int64_t{333}})
    for (int64_t N : {int64_t{3}, int64_t{50}, int64_t{129}})
      for (int64_t M : {int64_t{1}, int64_t{9}, int64_t{37}}) {
        const Zeros zeros = static_cast<Zeros>(seed % 3);
        const Int4Source s = make_source(K, N, 32, zeros, ++seed);
        const Int4Weights w = Int4Weights::pack(s);
        std::vector<float> x = normal_floats(size_t(M * K), seed + 7);
        for (int64_t k = 0; k < K; k += 11) x[size_t(k)] *= 8.0f;  // a few outliers in the first row
        Int4Activations a;
        a.quantize(x.data(), M, K, w.scale_multiplier(), Int4ActForm::kRows);
        REQUIRE(a.per_row());
        std::vector<float> bias(static_cast<size_t>(N));
        for (int64_t n = 0; n < N; ++n) bias[size_t(n)] = 0.01f * float(n % 9) - 0.04f;
        const bool with_bias = seed % 2 == 0;
        std::vector<float> ref(size_t(M * N));
        int4_gemm_reference(a, w, with_bias ? bias.data() : nullptr, ref.data(), N);
        const Panel p = requantize_all(&requantize_group_scalar, w);
        const float* a_scales = a.rows().view().scales;
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            double exact = with_bias ? bias[size_t(n)] : 0.0, bound = 1e-6;
            for (int64_t k = 0; k < K; ++k) {
              const double wv = int4_weight(w, n, k), xv = x[size_t(m * K + k)];
              exact += wv * xv;
              const double w_err = 0.53 * p.scales[size_t(n)], x_err = 0.5 * a_scales[m];
              bound += std::fabs(xv) * w_err + (std::fabs(wv) + w_err) * x_err;
            }
            CAPTURE(K);
            CAPTURE(N);
            CAPTURE(M);
            REQUIRE(std::fabs(ref[size_t(m * N + n)] - exact) <= bound * 1.001);
          }
        ember::int4_test::on_every_path([&] {
          CAPTURE(K);
          CAPTURE(N);
          CAPTURE(M);
          const int64_t ldy = N + 3;
          const std::vector<float> y = ember::int4_test::gemm_padded(a, w, with_bias ? bias.data() : nullptr, M, ldy);
          for (int64_t m = 0; m < M; ++m) {
            for (int64_t n = 0; n < N; ++n) REQUIRE(y[size_t(m * ldy + n)] == ref[size_t(m * N + n)]);
            for (int64_t n = N; n < ldy; ++n) REQUIRE(y[size_t(m * ldy + n)] == ember::int4_test::kPadding);
          }
        });
      }
}

// On a realistic layer (normal weights quantized by blocks, normal activations) the
// requantized product's error against the float product is a small fraction of what INT4 itself
// changes: a wrong step, zero point or rounding in the requantization would not be.
TEST_CASE("int4 requant: the error it adds is small beside INT4's own") {
  const int64_t K = 512, N = 64, M = 48;
  const std::vector<float> wf = normal_floats(size_t(N * K), 5);
  Int4Source s;
  s.K = K;
  s.N = N;
  s.codes.resize(size_t(N * K));
  s.scales.resize(size_t(N * K / kBlock));
  s.zeros.resize(s.scales.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t b = 0; b < K / kBlock; ++b) {
      float lo = 0, hi = 0;
      for (int64_t k = b * kBlock; k < (b + 1) * kBlock; ++k) {
        lo = std::min(lo, wf[size_t(n * K + k)]);
        hi = std::max(hi, wf[size_t(n * K + k)]);
      }
      const float scale = (hi - lo) / 15;
      const int zero = int(std::lround(-lo / scale));
      s.scales[size_t(n * K / kBlock + b)] = scale;
      s.zeros[size_t(n * K / kBlock + b)] = static_cast<uint8_t>(zero);
      for (int64_t k = b * kBlock; k < (b + 1) * kBlock; ++k)
        s.codes[size_t(n * K + k)] = static_cast<uint8_t>(std::clamp<long>(std::lround(wf[size_t(n * K + k)] / scale) + zero, 0, 15));
    }
  const Int4Weights w = Int4Weights::pack(s);
  const std::vector<float> x = normal_floats(size_t(M * K), 6);
  Int4Activations rows, blocks;
  rows.quantize(x.data(), M, K, w.scale_multiplier(), Int4ActForm::kRows);
  blocks.quantize(x.data(), M, K, w.scale_multiplier(), Int4ActForm::kBlocks);
  std::vector<float> y_rows(size_t(M * N)), y_blocks(size_t(M * N));
  int4_gemm(rows, w, nullptr, y_rows.data(), N);
  int4_gemm(blocks, w, nullptr, y_blocks.data(), N);
  double int4_err = 0, requant_err = 0, block_err = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double exact_f = 0, exact_4 = 0;
      for (int64_t k = 0; k < K; ++k) {
        exact_f += double(wf[size_t(n * K + k)]) * x[size_t(m * K + k)];
        exact_4 += int4_weight(w, n, k) * x[size_t(m * K + k)];
      }
      int4_err += (exact_4 - exact_f) * (exact_4 - exact_f);
      requant_err += (y_rows[size_t(m * N + n)] - exact_4) * (y_rows[size_t(m * N + n)] - exact_4);
      block_err += (y_blocks[size_t(m * N + n)] - exact_4) * (y_blocks[size_t(m * N + n)] - exact_4);
    }
  MESSAGE("rms error against the float weights' product: INT4 " << std::sqrt(int4_err / double(M * N))
          << ", requantized prefill beyond INT4 " << std::sqrt(requant_err / double(M * N)) << ", block kernels beyond INT4 "
          << std::sqrt(block_err / double(M * N)));
  CHECK(requant_err < 0.1 * int4_err);
}

// kAuto quantizes per row (the requantized kernel) from kRequantMinRows rows, except on AVX2,
// whose unpacked block kernel beats INT8's emulated tiles (Int4Kernels::requant_prefill).
TEST_CASE("int4 requant: activations are quantized per row from kRequantMinRows rows, except on AVX2") {
  const int64_t K = 40;
  const std::vector<float> x = normal_floats(size_t(kRequantMinRows * K), 2);
  for (IsaLevel level : testable_levels()) {
    IsaScope isa(level);
    CAPTURE(isa_name(level));
    Int4Activations a;
    a.quantize(x.data(), kRequantMinRows - 1, K, 1.0f);
    CHECK_FALSE(a.per_row());
    CHECK(a.blocks() == 2);
    a.quantize(x.data(), kRequantMinRows, K, 1.0f);
    CHECK(a.per_row() == (level != IsaLevel::kAvx2));
    a.quantize(x.data(), kRequantMinRows, K, 1.0f, Int4ActForm::kRows);
    CHECK(a.per_row());
    CHECK(a.rows().view().M == kRequantMinRows);
    a.quantize(x.data(), kRequantMinRows, K, 1.0f, Int4ActForm::kBlocks);
    CHECK_FALSE(a.per_row());
    a.quantize(x.data(), 2, K, 1.0f, Int4ActForm::kRows);
    CHECK(a.per_row());
  }
}
