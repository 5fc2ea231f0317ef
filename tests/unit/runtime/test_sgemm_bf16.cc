// sgemm with GemmInputs::kBf16 against a double-precision product of the operands rounded to
// bfloat16 exactly as the packers round them (alpha first, to nearest even): the f32 sums must
// agree to f32 rounding. A product that skipped the rounding, paired the wrong k, or read past
// an odd K would be off by about 2^-9 of its terms, 50 times the tolerance. Where the level in
// use has no BF16, kBf16 must give the f32 product instead.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
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

constexpr double kSumRelTol = 1e-5;

float round_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&x, &u, sizeof u);
  return x;
}

struct Product {
  bool trans_a = false, trans_b = false;
  int64_t M = 1, N = 1, K = 1;
  float alpha = 1, beta = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  std::vector<float> A, B, C;

  Product(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float al, float be, uint32_t seed)
      : trans_a(ta), trans_b(tb), M(m), N(n), K(k), alpha(al), beta(be) {
    lda = (ta ? M : K) + 1;
    ldb = (tb ? K : N) + 2;
    ldc = N + 3;
    A = uniform_floats(size_t((ta ? K : M) * lda), seed, -1.0f, 1.0f);
    B = uniform_floats(size_t((tb ? N : K) * ldb), seed + 1, -1.0f, 1.0f);
    C = uniform_floats(size_t(M * ldc), seed + 2, -1.0f, 1.0f);
  }

  // Mismatches of `got` against alpha op(A) op(B) + beta C, each operand rounded if asked.
  int64_t mismatches(const std::vector<float>& got, bool round_a, bool round_b) const {
    int64_t bad = 0;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double sum = 0, magnitude = 0;
        for (int64_t k = 0; k < K; ++k) {
          const float a = alpha * (trans_a ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)]);
          const float b = trans_b ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)];
          const double term = double(round_a ? round_bf16(a) : a) * double(round_b ? round_bf16(b) : b);
          sum += term;
          magnitude += std::fabs(term);
        }
        const double c = C[size_t(i * ldc + j)];
        const double expected = sum + beta * c;
        magnitude += std::fabs(beta * c);
        if (!(std::fabs(got[size_t(i * ldc + j)] - expected) <= kSumRelTol * magnitude)) ++bad;
      }
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = N; j < ldc; ++j) bad += got[size_t(i * ldc + j)] != C[size_t(i * ldc + j)];
    return bad;
  }
};

std::vector<IsaLevel> levels() { return ember::test::testable_levels({IsaLevel::kAvx2, IsaLevel::kAvx512}); }

}  // namespace

TEST_CASE("sgemm bf16: odd K pairs, transpositions, alpha and beta, M past one tile") {
  ThreadsScope threads(2);
  for (IsaLevel level : levels()) {
    IsaScope scope(level);
    CAPTURE(isa_name(level));
    uint32_t seed = 1;
    for (int trans = 0; trans < 4; ++trans)
      for (auto [M, N, K] : {std::array<int64_t, 3>{9, 17, 1}, {9, 48, 2}, {31, 33, 17}, {129, 100, 31},
                             {40, 700, 300}, {300, 70, 600}, {8, 50, 20}, {3, 5, 7}})
        for (float beta : {0.0f, 0.5f}) {
          Product p(trans & 1, trans & 2, M, N, K, trans == 1 ? -0.5f : 1.0f, beta, seed++);
          CAPTURE(p.trans_a);
          CAPTURE(p.trans_b);
          CAPTURE(M);
          CAPTURE(N);
          CAPTURE(K);
          std::vector<float> got = p.C;
          sgemm(p.trans_a, p.trans_b, M, N, K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, beta, got.data(),
                p.ldc, GemmInputs::kBf16);
          const bool rounded = bf16_gemm_active() && M > 8;  // M <= one tile row stays f32
          CHECK(p.mismatches(got, rounded, rounded) == 0);
          if (rounded) CHECK(p.mismatches(got, false, false) > 0);  // the rounding is visible
        }
  }
}

TEST_CASE("sgemm bf16: packed B, prefixes that split a pair, and a level lowered after packing") {
  const std::vector<IsaLevel> all = levels();
  uint32_t seed = 500;
  for (IsaLevel pack_level : all)
    for (IsaLevel run_level : all)
      for (bool trans_a : {false, true})
        for (bool trans_b : {false, true})
          for (auto [M, k, n] : {std::array<int64_t, 3>{3, 17, 31}, {24, 62, 48}, {33, 41, 100}, {20, 63, 7}}) {
            CAPTURE(isa_name(pack_level));
            CAPTURE(isa_name(run_level));
            CAPTURE(trans_a);
            CAPTURE(trans_b);
            CAPTURE(M);
            CAPTURE(k);
            Product p(trans_a, trans_b, M, 100, 63, 0.5f, 0.0f, seed++);
            PackedMatrixB packed;
            {
              IsaScope scope(pack_level);
              packed = PackedMatrixB::pack(trans_b, p.K, p.N, p.B.data(), p.ldb, GemmInputs::kBf16);
              CHECK(packed.bf16() == bf16_gemm_active());
            }
            IsaScope scope(run_level);
            const bool round_b = packed.bf16();
            const bool round_a = round_b && bf16_gemm_active();  // repacked as f32 below avx512
            // The whole of B (odd K: the last pair's second half is zero), without alpha.
            if (!trans_a) {
              std::vector<float> got = p.C;
              sgemm_packed(M, p.A.data(), p.lda, packed, nullptr, got.data(), p.ldc);
              Product whole = p;
              whole.alpha = 1;
              CHECK(whole.mismatches(got, round_a, round_b) == 0);
            }
            // A leading k x n block.
            Product prefix = p;
            prefix.K = k;
            prefix.N = n;
            std::vector<float> got = p.C;
            sgemm_packed_prefix(trans_a, M, k, n, p.alpha, p.A.data(), p.lda, packed, got.data(), p.ldc);
            for (int64_t i = 0; i < M; ++i)  // columns past n are left alone
              for (int64_t j = n; j < p.N; ++j) prefix.C[size_t(i * p.ldc + j)] = got[size_t(i * p.ldc + j)];
            // A split pair takes the plain product, rounded in sgemm only past one tile row.
            const bool split = k % 2 != 0 && k < p.K;
            const bool prefix_round_a = round_a && (!split || M > 8);
            CHECK(prefix.mismatches(got, prefix_round_a, round_b) == 0);
          }
}
