// u8s8 GEMM / GEMV (runtime/qgemm) on every ISA path this CPU can run (forced down with
// set_isa_level, as EMBER_ISA does), against plain int64 loops over the unpacked operands, at
// odd sizes that exercise edge tiles, partial vectors, row blocks and the threading split:
// integer results exactly, float results within kEpilogueRelTol.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/quant_params.h"
#include "runtime/parallel.h"
#include "runtime/qgemm/qgemm.h"
#include "runtime/qgemm/quantize_act.h"
#include "tests/unit/test_support.h"

using namespace ember::runtime;
using namespace ember::runtime::qgemm;

using ember::test::IsaScope;
using ember::test::testable_levels;
using ember::test::ThreadsScope;
using ember::test::uniform_floats;

namespace {

// Float outputs: one float conversion, one product of scales and one FMA, each rounding by
// at most half an ulp, relative to |acc * scale| + |bias|.
constexpr double kEpilogueRelTol = 4e-7;
constexpr int32_t kSentinel = 0x5a5a5a5a;

struct Problem {
  int64_t M = 0, N = 0, K = 0;
  bool b_unsigned = false, trans_b = false, b_zero_points = false, bias = false, relu = false;
  std::vector<uint8_t> a;    // M x K, u8
  std::vector<int32_t> a_zp;  // per row
  std::vector<uint8_t> b;    // K x N or N x K, raw bytes of i8 / u8
  std::vector<int32_t> b_zp;  // per column (raw domain)
  std::vector<float> a_scale, b_scale, bias_values;
};

// with_int8_min: some weights are -128 after the shift to int8 (the AVX2 path then takes its
// slower exact form; without them it takes the shifted-A form).
Problem make_problem(int64_t M, int64_t N, int64_t K, uint32_t seed, bool b_unsigned, bool trans_b, bool b_zero_points,
                     bool with_int8_min = true) {
  std::mt19937 rng(seed);
  Problem p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.b_unsigned = b_unsigned;
  p.trans_b = trans_b;
  p.b_zero_points = b_zero_points;
  std::uniform_int_distribution<int> byte(0, 255);
  p.a.resize(size_t(M * K));
  for (auto& v : p.a) v = static_cast<uint8_t>(byte(rng));
  // Extremes first: the AVX2 path must not saturate on 255 x -128 pairs.
  for (int64_t k = 0; k < std::min<int64_t>(K, 8); ++k) p.a[size_t(k)] = 255;
  p.b.resize(size_t(N * K));
  for (auto& v : p.b) v = static_cast<uint8_t>(byte(rng));
  const uint8_t int8_min = b_unsigned ? 0 : 0x80;
  for (int64_t i = 0; i < std::min<int64_t>(N * K, 8); ++i) p.b[size_t(i)] = with_int8_min ? int8_min : int8_min + 1;
  if (!with_int8_min)
    for (auto& v : p.b)
      if (v == int8_min) v = static_cast<uint8_t>(int8_min + 1);
  for (int64_t m = 0; m < M; ++m) p.a_zp.push_back(byte(rng));
  for (int64_t n = 0; n < N; ++n) p.b_zp.push_back(b_zero_points ? (b_unsigned ? byte(rng) : byte(rng) - 128) : 0);
  std::uniform_real_distribution<float> scale(1e-4f, 1e-2f), offset(-3.0f, 3.0f);
  for (int64_t m = 0; m < M; ++m) p.a_scale.push_back(scale(rng));
  for (int64_t n = 0; n < N; ++n) {
    p.b_scale.push_back(scale(rng));
    p.bias_values.push_back(offset(rng));
  }
  return p;
}

int32_t b_value(const Problem& p, int64_t k, int64_t n) {
  const uint8_t raw = p.b[size_t(p.trans_b ? n * p.K + k : k * p.N + n)];
  return p.b_unsigned ? int32_t{raw} : int32_t{static_cast<int8_t>(raw)};
}

// (A - a_zp) x (B - b_zp) in int64 from the unpacked operands.
std::vector<int64_t> exact_product(const Problem& p) {
  std::vector<int64_t> c(size_t(p.M * p.N), 0);
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n) {
      int64_t acc = 0;
      for (int64_t k = 0; k < p.K; ++k)
        acc += int64_t{p.a[size_t(m * p.K + k)] - p.a_zp[size_t(m)]} * (b_value(p, k, n) - p.b_zp[size_t(n)]);
      c[size_t(m * p.N + n)] = acc;
    }
  return c;
}

PackedB pack(const Problem& p) {
  return PackedB::pack(p.b.data(), p.b_unsigned, p.trans_b, p.K, p.N, p.trans_b ? p.K : p.N,
                       p.b_zero_points ? p.b_zp.data() : nullptr);
}

QuantizedRows rows_of(const Problem& p) {
  QuantizedRows rows;
  rows.copy(p.a.data(), false, p.M, p.K, p.a_zp.data(), true);
  return rows;
}

// Runs qgemm with int32 output into rows of ldc = N + 3 and checks values and padding.
void check_int32(const Problem& p, const PackedB& packed, const QuantizedRows& rows, const std::vector<int64_t>& exact) {
  const int64_t ldc = p.N + 3;
  std::vector<int32_t> c(size_t(p.M * ldc), kSentinel);
  QGemmOutput out;
  out.i32 = c.data();
  out.ldc = ldc;
  gemm_u8s8(rows.view(), packed, out);
  for (int64_t m = 0; m < p.M; ++m) {
    for (int64_t n = 0; n < p.N; ++n) {
      const int32_t got = c[size_t(m * ldc + n)];
      if (got != exact[size_t(m * p.N + n)]) {
        FAIL_CHECK("i32 mismatch at (" << m << ", " << n << "): " << got << " != " << exact[size_t(m * p.N + n)]);
        return;
      }
    }
    for (int64_t n = p.N; n < ldc; ++n) REQUIRE(c[size_t(m * ldc + n)] == kSentinel);
  }
}

void check_float(const Problem& p, const PackedB& packed, const QuantizedRows& rows, const std::vector<int64_t>& exact) {
  std::vector<float> c(size_t(p.M * p.N), -7.0f);
  QGemmOutput out;
  out.f32 = c.data();
  out.ldc = p.N;
  out.b_scales = p.b_scale.data();
  out.bias = p.bias ? p.bias_values.data() : nullptr;
  out.relu = p.relu;
  QuantizedA a = rows.view();
  a.scales = p.a_scale.data();
  gemm_u8s8(a, packed, out);
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n) {
      const double scaled = double(exact[size_t(m * p.N + n)]) * p.a_scale[size_t(m)] * p.b_scale[size_t(n)];
      const double bias = p.bias ? p.bias_values[size_t(n)] : 0.0;
      double want = scaled + bias;
      if (p.relu) want = std::max(want, 0.0);
      const double tol = kEpilogueRelTol * (std::fabs(scaled) + std::fabs(bias)) + 1e-30;
      if (std::fabs(c[size_t(m * p.N + n)] - want) > tol) {
        FAIL_CHECK("f32 mismatch at (" << m << ", " << n << "): " << c[size_t(m * p.N + n)] << " vs " << want);
        return;
      }
    }
}

}  // namespace

TEST_CASE("qgemm: packing keeps every weight, column sums and shifted zero points") {
  for (bool b_unsigned : {false, true})
    for (bool trans_b : {false, true}) {
      const Problem p = make_problem(1, 19, 13, 7, b_unsigned, trans_b, true);
      const PackedB packed = pack(p);
      const int32_t shift = b_unsigned ? 128 : 0;
      for (int64_t n = 0; n < p.N; ++n) {
        int32_t sum = 0;
        for (int64_t k = 0; k < p.K; ++k) {
          CHECK(packed.at(k, n) == b_value(p, k, n) - shift);
          sum += b_value(p, k, n) - shift;
        }
        CHECK(packed.col_sums()[n] == sum);
        REQUIRE(packed.zero_points() != nullptr);
        CHECK(packed.zero_points()[n] == p.b_zp[size_t(n)] - shift);
      }
    }
  // Signed weights without zero points need no correction array; unsigned ones always do.
  const Problem s = make_problem(1, 5, 5, 1, false, false, false);
  CHECK(pack(s).zero_points() == nullptr);
  const Problem u = make_problem(1, 5, 5, 1, true, false, false);
  CHECK(pack(u).zero_points() != nullptr);
}

TEST_CASE("qgemm: every ISA path gives the exact int32 product at odd sizes") {
  const int64_t sizes[] = {1, 3, 17, 31, 129};
  uint32_t seed = 1;
  for (int64_t M : sizes)
    for (int64_t N : sizes)
      for (int64_t K : {int64_t{1}, int64_t{3}, int64_t{17}, int64_t{31}, int64_t{129}, int64_t{1029}}) {
        const bool b_unsigned = seed % 2 == 1, trans_b = seed % 3 == 0, zps = seed % 4 < 2, int8_min = seed % 5 < 2;
        const Problem p = make_problem(M, N, K, seed++, b_unsigned, trans_b, zps, int8_min);
        REQUIRE(pack(p).has_int8_min() == int8_min);
        const std::vector<int64_t> exact = exact_product(p);
        const PackedB packed = pack(p);
        const QuantizedRows rows = rows_of(p);
        for (IsaLevel level : testable_levels()) {
          CAPTURE(isa_name(level));
          CAPTURE(M);
          CAPTURE(N);
          CAPTURE(K);
          IsaScope isa(level);
          for (int threads : {1, 2}) {
            ThreadsScope scope(threads);
            check_int32(p, packed, rows, exact);
          }
        }
      }
}

TEST_CASE("qgemm: float epilogue (scales, bias, ReLU) on every ISA path") {
  uint32_t seed = 100;
  for (int64_t M : {int64_t{1}, int64_t{5}, int64_t{33}})
    for (int64_t N : {int64_t{1}, int64_t{17}, int64_t{50}, int64_t{129}})
      for (int64_t K : {int64_t{7}, int64_t{384}}) {
        Problem p = make_problem(M, N, K, seed, seed % 2 == 0, seed % 3 == 1, seed % 2 == 1, seed % 4 == 0);
        p.bias = seed % 2 == 0;
        p.relu = seed % 3 == 0;
        ++seed;
        const std::vector<int64_t> exact = exact_product(p);
        const PackedB packed = pack(p);
        const QuantizedRows rows = rows_of(p);
        for (IsaLevel level : testable_levels()) {
          CAPTURE(isa_name(level));
          CAPTURE(M);
          CAPTURE(N);
          CAPTURE(K);
          IsaScope isa(level);
          check_float(p, packed, rows, exact);
        }
      }
}

TEST_CASE("qgemm: the reference loops agree with the kernels") {
  Problem p = make_problem(9, 21, 45, 5, false, false, true);
  p.bias = true;
  const PackedB packed = pack(p);
  QuantizedRows rows = rows_of(p);
  QuantizedA a = rows.view();
  a.scales = p.a_scale.data();
  std::vector<float> ref(size_t(p.M * p.N)), got(size_t(p.M * p.N));
  QGemmOutput out;
  out.ldc = p.N;
  out.b_scales = p.b_scale.data();
  out.bias = p.bias_values.data();
  out.f32 = ref.data();
  gemm_u8s8_reference(a, packed, out);
  out.f32 = got.data();
  gemm_u8s8(a, packed, out);
  for (size_t i = 0; i < ref.size(); ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-6));
}

TEST_CASE("qgemm: per-tensor activation quantization matches DynamicQuantizeLinear byte for byte") {
  const int64_t M = 7, K = 23;
  const std::vector<float> x = uniform_floats(size_t(M * K), 3, -2.5f, 4.0f);
  QuantizedRows rows;
  rows.quantize_per_tensor(x.data(), M, K, true);
  const QuantizedA a = rows.view();
  const DynamicQuantParams want = dynamic_uint8_params(x.data(), M * K);
  std::vector<uint8_t> bytes(size_t(M * K));
  quantize_uint8(x.data(), M * K, want, bytes.data());
  CHECK(a.lda % 4 == 0);
  for (int64_t m = 0; m < M; ++m) {
    CHECK(a.zero_points[m] == want.zero_point);
    CHECK(a.scales[m] == want.scale);
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      CHECK(a.data[m * a.lda + k] == bytes[size_t(m * K + k)]);
      sum += a.data[m * a.lda + k];
    }
    for (int64_t k = K; k < a.lda; ++k) CHECK(a.data[m * a.lda + k] == 0);
    CHECK(a.row_sums[m] == sum);
  }
}

TEST_CASE("qgemm: per-row and static activation quantization round trip within half a step") {
  const int64_t M = 5, K = 41;
  std::vector<float> x = uniform_floats(size_t(M * K), 4, -1.0f, 1.0f);
  for (int64_t i = 0; i < M * K; ++i) x[size_t(i)] *= float(1 + i / K);  // rows of different ranges
  QuantizedRows rows;
  rows.quantize_per_row(x.data(), M, K, false);
  QuantizedA a = rows.view();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      const float back = float(a.data[m * a.lda + k] - a.zero_points[m]) * a.scales[m];
      CHECK(std::fabs(back - x[size_t(m * K + k)]) <= a.scales[m] * 0.5f + 1e-6f);
    }
  // int8 static quantization is stored as uint8 + 128 with the zero point moved alike.
  rows.quantize_static(x.data(), M, K, 0.05f, -3, true, false);
  a = rows.view();
  for (int64_t m = 0; m < M; ++m) {
    CHECK(a.zero_points[m] == 125);
    for (int64_t k = 0; k < K; ++k) {
      const float q = std::clamp(std::nearbyint(x[size_t(m * K + k)] / 0.05f) - 3.0f, -128.0f, 127.0f);
      CHECK(int32_t{a.data[m * a.lda + k]} == int32_t(q) + 128);
    }
  }
}
