// INT4 block GEMV / GEMM (runtime/int4) on every ISA path this CPU can run against the scalar
// reference at odd sizes (float results within kPathRelTol: the paths share their integer dot
// products and do the same float operations), and against double-precision products with the
// dequantized weights (within the error bound of int8 activations and fp16 scales).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/int4/int4_format.h"
#include "runtime/parallel.h"
#include "tests/unit/runtime/int4_test_util.h"
#include "tests/unit/test_support.h"

using namespace ember::runtime;
using namespace ember::runtime::int4;

using ember::test::IsaScope;
using ember::test::normal_floats;
using ember::test::testable_levels;
using ember::test::ThreadsScope;

namespace {

// Relative to sum |terms| of the block sums: the paths may only differ by float reassociation.
constexpr double kPathRelTol = 1e-6;
// fp16 scales carry 11 significant bits.
constexpr double kHalfScaleRelErr = 1.0 / 2048;

using ember::int4_test::Zeros;

Int4Source make_source(int64_t K, int64_t N, int64_t block_size, Zeros zeros, uint32_t seed) {
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  return ember::int4_test::make_int4_source(K, N, block_size, zeros, 5, seed, [&](std::mt19937& rng) { return scale(rng); });
}

std::vector<float> make_x(int64_t M, int64_t K, uint32_t seed) {
  std::vector<float> x = normal_floats(size_t(M * K), seed);
  if (!x.empty()) x[0] = 0.0f;
  return x;
}

// The exact product of x and the dequantized weights, and a bound on what int8 activations
// (half a step per value) and fp16 scales may change in it.
void dequantized_product(const Int4Source& s, const std::vector<float>& x, int64_t M, std::vector<double>& y,
                         std::vector<double>& bound) {
  y.assign(size_t(M * s.N), 0.0);
  bound.assign(size_t(M * s.N), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < s.N; ++n) {
      double acc = 0, err = 0;
      for (int64_t b0 = 0; b0 < s.K; b0 += kBlock) {
        const int64_t b1 = std::min(s.K, b0 + kBlock);
        double amax = 0;
        for (int64_t k = b0; k < b1; ++k) amax = std::max(amax, std::fabs(double(x[size_t(m * s.K + k)])));
        const double half_step = amax / 127 / 2;
        for (int64_t k = b0; k < b1; ++k) {
          const int64_t sb = n * s.source_blocks() + k / s.block_size;
          const int zero = s.zeros.empty() ? 8 : s.zeros[size_t(sb)];
          const double w = double(int(s.codes[size_t(n * s.K + k)]) - zero) * s.scales[size_t(sb)];
          const double xv = x[size_t(m * s.K + k)];
          acc += w * xv;
          err += std::fabs(w) * half_step * 1.01 + std::fabs(w * xv) * kHalfScaleRelErr;
        }
      }
      y[size_t(m * s.N + n)] = acc;
      bound[size_t(m * s.N + n)] = err + 1e-6;
    }
}

}  // namespace

TEST_CASE("int4: packing keeps every code and picks uniform or per-block zero points") {
  for (Zeros zeros : {Zeros::kDefault, Zeros::kUniform, Zeros::kPerBlock}) {
    const Int4Source s = make_source(75, 37, 32, zeros, 11);
    const Int4Weights w = Int4Weights::pack(s);
    CHECK(w.blocks() == 3);
    CHECK(w.groups() == 3);
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t k = 0; k < s.K; ++k) REQUIRE(w.code(n, k) == s.codes[size_t(n * s.K + k)]);
    if (zeros == Zeros::kPerBlock) {
      CHECK(w.zeros(0) != nullptr);
    } else {
      CHECK(w.zeros(0) == nullptr);
      CHECK(w.uniform_zero() == (zeros == Zeros::kDefault ? 8 : 5));
    }
  }
}

TEST_CASE("int4: activations quantize per block of 32 with the weights' scale multiplier") {
  const int64_t M = 2, K = 45;
  const std::vector<float> x = make_x(M, K, 5);
  Int4Activations a;
  a.quantize(x.data(), M, K, 0.25f);
  CHECK(a.blocks() == 2);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t b = 0; b < 2; ++b) {
      int32_t sum = 0;
      for (int64_t i = 0; i < kBlock; ++i) {
        const int64_t k = b * kBlock + i;
        const int q = a.row(m)[k];
        sum += q;
        if (k >= K) {
          CHECK(q == 0);
          continue;
        }
        CHECK(std::abs(q) <= 127);
        CHECK(std::fabs(q * a.scales(m)[b] / 0.25f - x[size_t(m * K + k)]) <= a.scales(m)[b] / 0.25f * 0.5f + 1e-6f);
      }
      CHECK(a.sums(m)[b] == sum);
    }
}

TEST_CASE("int4: every ISA path matches the scalar reference and the dequantized product") {
  uint32_t seed = 1;
  for (int64_t K : {int64_t{1}, int64_t{3}, int64_t{17}, int64_t{32}, int64_t{129}, int64_t{1000}})
    for (int64_t N : {int64_t{1}, int64_t{3}, int64_t{17}, int64_t{31}, int64_t{129}})
      for (int64_t M : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{6}}) {
        const Zeros zeros = static_cast<Zeros>(seed % 3);
        const int64_t block_size = seed % 4 == 3 ? 64 : 32;
        const Int4Source s = make_source(K, N, block_size, zeros, seed);
        const std::vector<float> x = make_x(M, K, seed + 1000);
        ++seed;
        const Int4Weights w = Int4Weights::pack(s);
        Int4Activations a;
        a.quantize(x.data(), M, K, w.scale_multiplier());
        std::vector<float> bias(static_cast<size_t>(N));
        for (int64_t n = 0; n < N; ++n) bias[size_t(n)] = 0.1f * float(n % 7) - 0.3f;
        const bool with_bias = seed % 2 == 0;
        std::vector<float> ref(size_t(M * N));
        int4_gemm_reference(a, w, with_bias ? bias.data() : nullptr, ref.data(), N);

        std::vector<double> exact, bound;
        dequantized_product(s, x, M, exact, bound);
        for (int64_t i = 0; i < M * N; ++i) {
          const double want = exact[size_t(i)] + (with_bias ? bias[size_t(i % N)] : 0.0);
          REQUIRE(std::fabs(ref[size_t(i)] - want) <= bound[size_t(i)]);
        }

        ember::int4_test::on_every_path([&] {
          CAPTURE(K);
          CAPTURE(N);
          CAPTURE(M);
          const int64_t ldy = N + 2;
          const std::vector<float> y = ember::int4_test::gemm_padded(a, w, with_bias ? bias.data() : nullptr, M, ldy);
          for (int64_t m = 0; m < M; ++m) {
            for (int64_t n = 0; n < N; ++n) {
              const float r = ref[size_t(m * N + n)];
              const double tol = kPathRelTol * (std::fabs(exact[size_t(m * N + n)]) + bound[size_t(m * N + n)]);
              REQUIRE(std::fabs(y[size_t(m * ldy + n)] - r) <= tol);
            }
            for (int64_t n = N; n < ldy; ++n) REQUIRE(y[size_t(m * ldy + n)] == ember::int4_test::kPadding);
          }
        });
      }
}

TEST_CASE("int4: weights live in the 64-byte aligned arena") {
  const Int4Source s = make_source(64, 16, 32, Zeros::kDefault, 2);
  const Int4Weights w = Int4Weights::pack(s);
  CHECK(reinterpret_cast<uintptr_t>(w.codes(0)) % 64 == 0);
  CHECK(reinterpret_cast<uintptr_t>(w.scales(0)) % 64 == 0);
  CHECK(weight_arena().mapped_bytes() >= w.bytes());
}

// The unpacked (many-row) kernel against the scalar reference, bit for bit: it computes the same
// block integers and the same FMAs in the same order. Odd K (partial last block), N (partial
// last group and panel), M (partial register tiles), every zero-point form, both threads.
TEST_CASE("int4: the unpacked kernel gives the reference's floats exactly on every ISA path") {
  uint32_t seed = 7;
  for (int64_t K : {int64_t{1}, int64_t{33}, int64_t{96}, int64_t{257}, int64_t{1000}})
    for (int64_t N : {int64_t{1}, int64_t{17}, int64_t{48}, int64_t{100}})
      for (int64_t M : {int64_t{1}, int64_t{5}, int64_t{8}, int64_t{13}, int64_t{40}}) {
        const Zeros zeros = static_cast<Zeros>(seed % 3);
        const Int4Source s = make_source(K, N, seed % 4 == 3 ? 64 : 32, zeros, seed);
        const std::vector<float> x = make_x(M, K, seed + 1000);
        const bool with_bias = seed % 2 == 0;
        ++seed;
        const Int4Weights w = Int4Weights::pack(s);
        Int4Activations a;
        a.quantize(x.data(), M, K, w.scale_multiplier(), Int4ActForm::kBlocks);
        std::vector<float> bias(static_cast<size_t>(N));
        for (int64_t n = 0; n < N; ++n) bias[size_t(n)] = 0.05f * float(n % 5) - 0.1f;
        std::vector<float> ref(size_t(M * N));
        int4_gemm_reference(a, w, with_bias ? bias.data() : nullptr, ref.data(), N);
        for (IsaLevel level : testable_levels()) {
          IsaScope isa(level);
          for (int threads : {1, 2}) {
            ThreadsScope scope(threads);
            CAPTURE(isa_name(level));
            CAPTURE(K);
            CAPTURE(N);
            CAPTURE(M);
            CAPTURE(zeros);
            const int64_t ldy = N + 3;
            const std::vector<float> y =
                ember::int4_test::gemm_padded(a, w, with_bias ? bias.data() : nullptr, M, ldy, Int4Kernel::kUnpacked);
            for (int64_t m = 0; m < M; ++m) {
              for (int64_t n = 0; n < N; ++n) REQUIRE(y[size_t(m * ldy + n)] == ref[size_t(m * N + n)]);
              for (int64_t n = N; n < ldy; ++n) REQUIRE(y[size_t(m * ldy + n)] == ember::int4_test::kPadding);
            }
          }
        }
      }
}

// The largest integers the unpacked kernel sees: codes 0 and 15 against zero points 15 and 0
// (bytes 0 and 30 after the shift) and activations at +-127, where the AVX2 path's int16 sums
// are closest to overflowing.
TEST_CASE("int4: the unpacked kernel is exact at the extreme codes, zero points and activations") {
  const int64_t K = 256, N = 32, M = 9;
  for (Zeros zeros : {Zeros::kDefault, Zeros::kPerBlock}) {
    Int4Source s = make_source(K, N, 32, zeros, 3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) s.codes[size_t(n * K + k)] = n % 2 ? 15 : 0;
    for (size_t i = 0; i < s.zeros.size(); ++i) s.zeros[i] = (i / size_t(K / 32)) % 2 ? 0 : 15;
    std::vector<float> x(size_t(M * K));
    for (size_t i = 0; i < x.size(); ++i) x[i] = (i / 64) % 2 ? -3.0f : 3.0f;
    const Int4Weights w = Int4Weights::pack(s);
    Int4Activations a;
    a.quantize(x.data(), M, K, w.scale_multiplier(), Int4ActForm::kBlocks);
    std::vector<float> ref(size_t(M * N));
    int4_gemm_reference(a, w, nullptr, ref.data(), N);
    for (IsaLevel level : testable_levels()) {
      IsaScope isa(level);
      CAPTURE(isa_name(level));
      std::vector<float> y(size_t(M * N));
      int4_gemm(a, w, nullptr, y.data(), N, Int4Kernel::kUnpacked);
      CHECK(y == ref);
      int4_gemm(a, w, nullptr, y.data(), N, Int4Kernel::kStreaming);
      CHECK(y == ref);
    }
  }
}

// The SIMD block quantizers against the scalar rule, value for value: ordinary rows, ties
// (x / scale at .5), zeros, NaN (skipped in the maximum, quantized to 0), infinities (the
// block's scale becomes infinite and the finite values 0), tiny maxima (127 / amax overflows),
// and a partial last block (always the scalar rule). Rows of 7 whole blocks (one at a time)
// and of 37 (AVX-512 takes two batches of sixteen, then five one at a time), with the special
// values in the first batch, the second and the rest.
TEST_CASE("int4: activations quantize to the same integers and scales on every ISA path") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t whole : {int64_t{7}, int64_t{37}}) {
    CAPTURE(whole);
    const int64_t K = 32 * whole + 5;
    std::vector<float> x = make_x(3, K, 17);
    for (int64_t k = 0; k < 32; ++k) x[size_t(k)] = float(k - 16) * 0.5f;  // ties at x / scale
    for (int64_t k = 32; k < 64; ++k) x[size_t(k)] = 0.0f;
    x[70] = nan;
    x[100] = inf;
    x[140] = -inf;
    x[141] = nan;
    for (int64_t k = 160; k < 192; ++k) x[size_t(k)] = k % 3 ? 1e-45f : -0.0f;
    x[size_t(K + 9)] = nan;
    if (whole > 16) {
      for (int64_t k : {int64_t{16 * 32 + 3}, int64_t{20 * 32}, int64_t{33 * 32 + 31}}) x[size_t(2 * K + k)] = nan;
      x[size_t(2 * K + 25 * 32 + 7)] = -inf;
      for (int64_t k = 17 * 32; k < 18 * 32; ++k) x[size_t(2 * K + k)] = -0.0f;
      for (int64_t k = 34 * 32; k < 35 * 32; ++k) x[size_t(2 * K + k)] = float(k % 32 - 16) * 0.25f;
    }
    std::vector<Int4Activations> by_level;
    for (IsaLevel level : testable_levels()) {
      IsaScope isa(level);
      by_level.emplace_back();
      by_level.back().quantize(x.data(), 3, K, 0.5f);
    }
    const Int4Activations& ref = by_level.front();
    for (size_t l = 1; l < by_level.size(); ++l) {
      CAPTURE(l);
      for (int64_t m = 0; m < 3; ++m) {
        for (int64_t k = 0; k < ref.blocks() * kBlock; ++k) REQUIRE(by_level[l].row(m)[k] == ref.row(m)[k]);
        for (int64_t b = 0; b < ref.blocks(); ++b) {
          CHECK(by_level[l].sums(m)[b] == ref.sums(m)[b]);
          const float s = by_level[l].scales(m)[b], r = ref.scales(m)[b];
          CHECK((s == r || (std::isnan(s) && std::isnan(r))));
        }
      }
    }
    CHECK(ref.row(0)[70] == 0);
    CHECK(std::isinf(ref.scales(0)[3]));
    CHECK(ref.row(0)[100] == 0);
  }
}
