// sgemm and sgemm_packed on every ISA path this CPU can run, against a double-precision
// reference, at odd sizes that exercise every edge tile, blocking boundary and threading split.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/gemm/sgemm.h"
#include "runtime/parallel.h"
#include "tests/unit/test_support.h"

using namespace ember::runtime;

using ember::test::IsaScope;
using ember::test::ThreadsScope;
using ember::test::uniform_floats;

namespace {

// Allowed error relative to sum_k |alpha * a_ik * b_kj| + |beta * c_ij| (+ |bias_j|): float
// rounding over up to a few thousand terms, with room to spare.
constexpr double kSumRelTol = 1e-5;
// Written into C's row padding; a kernel that stores past N changes it.
constexpr float kSentinel = 1234.5f;

// sgemm has no AVX-VNNI path of its own.
std::vector<IsaLevel> testable_levels() { return ember::test::testable_levels({IsaLevel::kAvx2, IsaLevel::kAvx512}); }

struct Case {
  bool trans_a = false, trans_b = false;
  int64_t M = 1, N = 1, K = 1;
  float alpha = 1, beta = 0;
  int64_t pad = 0;  // extra elements per stored row of A, B and C
};

struct Operands {
  std::vector<float> A, B, C, bias;
  int64_t lda = 0, ldb = 0, ldc = 0;
};

Operands make_operands(const Case& c, uint32_t seed) {
  Operands o;
  o.lda = (c.trans_a ? c.M : c.K) + c.pad;
  o.ldb = (c.trans_b ? c.K : c.N) + c.pad;
  o.ldc = c.N + c.pad;
  o.A = uniform_floats(std::max<int64_t>(1, (c.trans_a ? c.K : c.M) * o.lda), seed, -1.0f, 1.0f);
  o.B = uniform_floats(std::max<int64_t>(1, (c.trans_b ? c.N : c.K) * o.ldb), seed + 1, -1.0f, 1.0f);
  o.C = uniform_floats(c.M * o.ldc, seed + 2, -1.0f, 1.0f);
  o.bias = uniform_floats(c.N, seed + 3, -1.0f, 1.0f);
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j)
      if (c.beta == 0) o.C[i * o.ldc + j] = std::numeric_limits<float>::quiet_NaN();  // must be ignored
    for (int64_t j = c.N; j < o.ldc; ++j) o.C[i * o.ldc + j] = kSentinel;
  }
  return o;
}

// Checks C against the double-precision product computed from the original operands.
void check_against_reference(const Case& c, const Operands& o, const std::vector<float>& c_before,
                             const float* bias, const std::vector<float>& result) {
  int64_t mismatches = 0, pad_changes = 0;
  double worst = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double a = c.trans_a ? o.A[k * o.lda + i] : o.A[i * o.lda + k];
        const double b = c.trans_b ? o.B[j * o.ldb + k] : o.B[k * o.ldb + j];
        sum += a * b;
        magnitude += std::fabs(a * b);
      }
      double expected = c.alpha * sum;
      magnitude *= std::fabs(c.alpha);
      if (c.beta != 0) {
        expected += c.beta * static_cast<double>(c_before[i * o.ldc + j]);
        magnitude += std::fabs(c.beta * c_before[i * o.ldc + j]);
      }
      if (bias) {
        expected += bias[j];
        magnitude += std::fabs(bias[j]);
      }
      const double got = result[i * o.ldc + j];
      const double error = std::fabs(got - expected);
      if (!(error <= kSumRelTol * magnitude)) ++mismatches;  // also catches NaN
      if (magnitude > 0) worst = std::max(worst, error / magnitude);
    }
    for (int64_t j = c.N; j < o.ldc; ++j) pad_changes += result[i * o.ldc + j] != kSentinel;
  }
  CAPTURE(worst);
  CHECK(mismatches == 0);
  CHECK(pad_changes == 0);
}

void run_sgemm_case(const Case& c, uint32_t seed) {
  CAPTURE(c.trans_a);
  CAPTURE(c.trans_b);
  CAPTURE(c.M);
  CAPTURE(c.N);
  CAPTURE(c.K);
  CAPTURE(c.alpha);
  CAPTURE(c.beta);
  CAPTURE(c.pad);
  const Operands o = make_operands(c, seed);
  std::vector<float> result = o.C;
  sgemm(c.trans_a, c.trans_b, c.M, c.N, c.K, c.alpha, o.A.data(), o.lda, o.B.data(), o.ldb, c.beta, result.data(),
        o.ldc);
  check_against_reference(c, o, o.C, nullptr, result);
}

void run_packed_case(const Case& c, bool with_bias, bool accumulate, IsaLevel pack_level, IsaLevel run_level,
                     uint32_t seed) {
  CAPTURE(c.trans_b);
  CAPTURE(c.M);
  CAPTURE(c.N);
  CAPTURE(c.K);
  CAPTURE(with_bias);
  CAPTURE(accumulate);
  CAPTURE(isa_name(pack_level));
  CAPTURE(isa_name(run_level));
  Case ref = c;
  ref.trans_a = false;
  ref.alpha = 1;
  ref.beta = accumulate ? 1.0f : 0.0f;
  const Operands o = make_operands(ref, seed);
  PackedMatrixB packed;
  {
    IsaScope scope(pack_level);
    packed = PackedMatrixB::pack(c.trans_b, c.K, c.N, o.B.data(), o.ldb);
  }
  CHECK(packed.K() == c.K);
  CHECK(packed.N() == c.N);
  // The FP32 kernels have no AVX-VNNI form: that level packs (and runs) the AVX2 ones.
  const IsaLevel kernel_level = pack_level == IsaLevel::kAvxVnni ? IsaLevel::kAvx2 : pack_level;
  CHECK(packed.isa_level() == static_cast<int>(kernel_level));
  std::vector<float> result = o.C;
  {
    IsaScope scope(run_level);
    sgemm_packed(c.M, o.A.data(), o.lda, packed, with_bias ? o.bias.data() : nullptr, result.data(), o.ldc,
                 accumulate);
  }
  check_against_reference(ref, o, o.C, with_bias ? o.bias.data() : nullptr, result);
}

const int64_t kOddSizes[] = {1, 3, 17, 31, 129};

}  // namespace

TEST_CASE("sgemm: odd sizes, every transposition, every ISA path") {
  for (IsaLevel level : testable_levels()) {
    IsaScope scope(level);
    CAPTURE(isa_name(level));
    uint32_t seed = 1;
    for (int trans = 0; trans < 4; ++trans)
      for (int64_t M : kOddSizes)
        for (int64_t N : kOddSizes)
          for (int64_t K : kOddSizes) {
            Case c;
            c.trans_a = trans & 1;
            c.trans_b = trans & 2;
            c.M = M;
            c.N = N;
            c.K = K;
            run_sgemm_case(c, seed++);
          }
  }
}

TEST_CASE("sgemm: mixed shapes, strides, alpha and beta") {
  struct Shape {
    int64_t M, N, K;
  };
  // GEMV, exactly one tile row (6 = AVX2 mr, 8 = AVX-512 mr) and one past it, several K
  // and M blocks, and a B larger than one packed chunk.
  const Shape shapes[] = {{1, 1000, 77}, {257, 33, 300}, {2, 1000, 700}, {6, 100, 50}, {7, 100, 50},
                          {8, 61, 129}, {9, 50, 20},     {300, 70, 600}, {1, 7, 1},   {5, 1, 1000}};
  const float alphas[] = {1.0f, -0.5f};
  const float betas[] = {0.0f, 1.0f, 0.75f};
  for (IsaLevel level : testable_levels()) {
    IsaScope scope(level);
    CAPTURE(isa_name(level));
    uint32_t seed = 1000;
    for (const Shape& s : shapes)
      for (int trans = 0; trans < 4; ++trans)
        for (float alpha : alphas)
          for (float beta : betas) {
            Case c;
            c.trans_a = trans & 1;
            c.trans_b = trans & 2;
            c.M = s.M;
            c.N = s.N;
            c.K = s.K;
            c.alpha = alpha;
            c.beta = beta;
            c.pad = seed % 3 == 0 ? 0 : 5;
            run_sgemm_case(c, seed++);
          }
  }
}

TEST_CASE("sgemm: K = 0 and alpha = 0 scale C by beta without reading A and B") {
  for (IsaLevel level : testable_levels()) {
    IsaScope scope(level);
    for (float beta : {0.0f, 0.5f}) {
      Case c;
      c.M = 5;
      c.N = 9;
      c.K = 0;
      c.beta = beta;
      c.pad = 2;
      run_sgemm_case(c, 7);
      c.K = 13;
      c.alpha = 0;
      run_sgemm_case(c, 8);
    }
  }
}

TEST_CASE("sgemm: large shapes split across threads match the reference") {
  ThreadsScope threads(2);
  for (IsaLevel level : testable_levels()) {
    IsaScope scope(level);
    CAPTURE(isa_name(level));
    const Case cases[] = {
        {false, false, 200, 150, 260, 1.0f, 0.0f, 0},   // split over M
        {false, true, 40, 700, 300, 1.0f, 0.5f, 3},     // split over N
        {true, false, 1, 20000, 130, 2.0f, 0.0f, 0},    // GEMV over column panels
        {false, true, 1, 5000, 300, 1.0f, 1.0f, 1},     // transposed GEMV over rows
        {false, false, 20, 4000, 600, -1.0f, 0.0f, 0},  // B packed in two chunks
        // Split over N with all of A packed once ahead, in k-blocks packed in parallel: A^T (a
        // weight gradient's X^T) and plain, ragged last panels, alpha folded into the packing.
        {true, false, 43, 700, 600, 0.5f, 0.0f, 2},
        {false, false, 37, 900, 520, 1.5f, 1.0f, 1},
    };
    uint32_t seed = 77;
    for (const Case& c : cases) run_sgemm_case(c, seed++);
  }
}

TEST_CASE("sgemm_packed: bias, accumulate and odd sizes on every ISA path") {
  const int64_t rows[] = {1, 3, 6, 8, 17, 129};
  for (IsaLevel level : testable_levels()) {
    uint32_t seed = 5000;
    for (bool trans_b : {false, true})
      for (int64_t M : rows)
        for (int64_t N : {int64_t{1}, int64_t{31}, int64_t{100}})
          for (int64_t K : {int64_t{1}, int64_t{17}, int64_t{300}}) {
            Case c;
            c.trans_b = trans_b;
            c.M = M;
            c.N = N;
            c.K = K;
            c.pad = seed % 2 ? 3 : 0;
            run_packed_case(c, seed % 3 != 0, seed % 4 == 1, level, level, seed);
            ++seed;
          }
  }
}

TEST_CASE("sgemm_packed: stays correct when the ISA level changes after packing") {
  const std::vector<IsaLevel> levels = testable_levels();
  uint32_t seed = 9000;
  for (IsaLevel pack_level : levels)
    for (IsaLevel run_level : levels) {
      Case c;
      c.trans_b = seed % 2;
      c.M = 19;
      c.N = 70;
      c.K = 45;
      run_packed_case(c, true, false, pack_level, run_level, seed++);
      c.M = 1;
      run_packed_case(c, false, true, pack_level, run_level, seed++);
    }
}

TEST_CASE("sgemm_packed_prefix: leading blocks of a packed B, A transposed or not, on every ISA path") {
  const std::vector<IsaLevel> levels = testable_levels();
  uint32_t seed = 12000;
  for (IsaLevel pack_level : levels)
    for (IsaLevel run_level : levels)
      for (bool trans_a : {false, true})
        for (bool trans_b : {false, true})
          for (auto [M, k, n] : {std::array<int64_t, 3>{1, 1, 1}, {5, 17, 31}, {16, 64, 48}, {33, 40, 100}}) {
            CAPTURE(isa_name(pack_level));
            CAPTURE(isa_name(run_level));
            Case full;
            full.trans_a = trans_a;
            full.trans_b = trans_b;
            full.M = M;
            full.K = 64;
            full.N = 100;
            full.pad = 2;
            Operands o = make_operands(full, seed++);
            PackedMatrixB packed;
            {
              IsaScope scope(pack_level);
              packed = PackedMatrixB::pack(trans_b, full.K, full.N, o.B.data(), o.ldb);
            }
            Case prefix = full;  // the same storage, its leading k x n block of B
            prefix.K = k;
            prefix.N = n;
            prefix.alpha = 0.5f;
            for (int64_t i = 0; i < M; ++i)
              for (int64_t j = n; j < o.ldc; ++j) o.C[size_t(i * o.ldc + j)] = kSentinel;
            std::vector<float> result = o.C;
            {
              IsaScope scope(run_level);
              sgemm_packed_prefix(trans_a, M, k, n, prefix.alpha, o.A.data(), o.lda, packed, result.data(), o.ldc);
            }
            check_against_reference(prefix, o, o.C, nullptr, result);
          }
}

TEST_CASE("sgemm_packed: K = 0 gives the bias") {
  Case c;
  c.M = 3;
  c.N = 10;
  c.K = 0;
  run_packed_case(c, true, false, isa_level(), isa_level(), 11);
  run_packed_case(c, true, true, isa_level(), isa_level(), 12);
}
