// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear: hand-computed cases (round half
// to even, saturation, per-axis, blocked int4 at odd sizes, f16 scales), a large input that
// runs multi-threaded against a scalar formula, and malformed parameter shapes.
#include <doctest/doctest.h>

#include <cmath>

#include "tests/unit/runtime/quant_test_util.h"

using namespace ember;
using namespace ember::quant_test;

namespace {

// The spec's formula, written independently of the kernel.
int quantize_ref(float x, float scale, int zp, int lo, int hi) {
  const float q = std::nearbyint(x / scale) + static_cast<float>(zp);
  return static_cast<int>(std::fmin(std::fmax(q, static_cast<float>(lo)), static_cast<float>(hi)));
}

}  // namespace

TEST_CASE("quant: QuantizeLinear per tensor rounds half to even and saturates") {
  const auto node = make_node("QuantizeLinear", 3);
  const Tensor x = Tensor::from_vector<float>({8}, {1, 3, 5, -1, -3, 0.9f, 600, -600});
  auto out = run_ok(node, 13, {x, Tensor::scalar<float>(2.0f), Tensor::scalar<uint8_t>(128)});
  CHECK(out[0].dtype() == DType::kU8);
  CHECK(out[0].shape() == Shape{8});
  CHECK(ints_of(out[0]) == std::vector<int>{128, 130, 130, 128, 126, 128, 255, 0});

  const Tensor xi = Tensor::from_vector<float>({5}, {0.25f, 0.75f, -0.25f, 100, -100});
  out = run_ok(node, 13, {xi, Tensor::scalar<float>(0.5f), Tensor::scalar<int8_t>(-1)});
  CHECK(out[0].dtype() == DType::kI8);
  CHECK(ints_of(out[0]) == std::vector<int>{-1, 1, -1, 127, -128});

  // No zero point: uint8 with zero point 0.
  out = run_ok(node, 13, {Tensor::from_vector<float>({3}, {-4, 2.5f, 3.5f}), Tensor::scalar<float>(1.0f), Tensor()});
  CHECK(out[0].dtype() == DType::kU8);
  CHECK(ints_of(out[0]) == std::vector<int>{0, 2, 4});
}

TEST_CASE("quant: QuantizeLinear output_dtype picks int8 and packed int4 without a zero point") {
  auto node = make_node("QuantizeLinear", 2, 1, {int_attr("output_dtype", 3)});
  auto out = run_ok(node, 21, {Tensor::from_vector<float>({3}, {-1000, 2.5f, 3.5f}), Tensor::scalar<float>(1.0f)});
  CHECK(out[0].dtype() == DType::kI8);
  CHECK(ints_of(out[0]) == std::vector<int>{-128, 2, 4});

  node = make_node("QuantizeLinear", 2, 1, {int_attr("output_dtype", 22)});
  out = run_ok(node, 21, {Tensor::from_vector<float>({5}, {-9, -8.5f, 7.5f, 6.5f, 1}), Tensor::scalar<float>(1.0f)});
  CHECK(out[0].dtype() == DType::kI4);
  CHECK(out[0].nbytes() == 3);
  CHECK(ints_of(out[0]) == std::vector<int>{-8, -8, 7, 6, 1});
  CHECK((out[0].data<uint8_t>()[2] >> 4) == 0);  // the unused nibble is cleared

  // output_dtype must agree with the zero point type.
  node = make_node("QuantizeLinear", 3, 1, {int_attr("output_dtype", 3)});
  const Status s = run_status(node, 21, {Tensor::from_vector<float>({1}, {1}), Tensor::scalar<float>(1.0f),
                                         Tensor::scalar<uint8_t>(0)});
  CHECK(s.code() == StatusCode::kInvalidInput);
}

TEST_CASE("quant: QuantizeLinear per axis, including a negative axis") {
  const Tensor x = Tensor::from_vector<float>({1, 3, 2}, {1, 2, 3, 4, 5, 6});
  const Tensor scale = Tensor::from_vector<float>({3}, {1, 2, 4});
  const Tensor zp = Tensor::from_vector<uint8_t>({3}, {0, 10, 20});
  for (int64_t axis : {1, -2}) {
    auto out = run_ok(make_node("QuantizeLinear", 3, 1, {int_attr("axis", axis)}), 13, {x, scale, zp});
    CHECK(ints_of(out[0]) == std::vector<int>{1, 2, 12, 12, 21, 22});
  }
}

TEST_CASE("quant: QuantizeLinear blocked int4 and uint4 at odd sizes, along either axis") {
  Rng rng(7);
  const Tensor x = random_floats(rng, {3, 5}, -6, 6);
  const auto xv = floats_of(x);
  SUBCASE("axis 1, int4, no zero point") {
    const Tensor scale = random_floats(rng, {3, 3}, 0.3f, 1.0f);
    const auto sv = floats_of(scale);
    auto out = run_ok(make_node("QuantizeLinear", 2, 1, {int_attr("axis", 1), int_attr("block_size", 2), int_attr("output_dtype", 22)}),
                      21, {x, scale});
    CHECK(out[0].dtype() == DType::kI4);
    std::vector<int> expected;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 5; ++c) expected.push_back(quantize_ref(xv[size_t(r * 5 + c)], sv[size_t(r * 3 + c / 2)], 0, -8, 7));
    CHECK(ints_of(out[0]) == expected);
    CHECK((out[0].data<uint8_t>()[7] >> 4) == 0);
  }
  SUBCASE("axis 0, uint4 with zero points") {
    const Tensor scale = random_floats(rng, {2, 5}, 0.5f, 1.5f);
    const auto sv = floats_of(scale);
    const std::vector<int> zps = {8, 7, 9, 0, 15, 3, 8, 8, 1, 14};
    const Tensor zp = packed4(DType::kU4, {2, 5}, zps);
    auto out = run_ok(make_node("QuantizeLinear", 3, 1, {int_attr("axis", 0), int_attr("block_size", 2)}), 21, {x, scale, zp});
    CHECK(out[0].dtype() == DType::kU4);
    std::vector<int> expected;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 5; ++c) {
        const size_t p = size_t((r / 2) * 5 + c);
        expected.push_back(quantize_ref(xv[size_t(r * 5 + c)], sv[p], zps[p], 0, 15));
      }
    CHECK(ints_of(out[0]) == expected);
  }
}

TEST_CASE("quant: QuantizeLinear on a large input matches the formula (multi-threaded path)") {
  Rng rng(11);
  const Shape shape{7, 9001};  // per-axis on axis 0, odd inner size
  const Tensor x = random_floats(rng, shape, -3, 3);
  const Tensor scale = random_floats(rng, {7}, 0.01f, 0.05f);
  const Tensor zp = random_ints<int8_t>(rng, {7}, -20, 20);
  auto out = run_ok(make_node("QuantizeLinear", 3, 1, {int_attr("axis", 0)}), 13, {x, scale, zp});
  const auto xv = floats_of(x), sv = floats_of(scale);
  const auto zv = ints_of(zp), got = ints_of(out[0]);
  int mismatches = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const size_t c = size_t(i / shape[1]);
    mismatches += got[size_t(i)] != quantize_ref(xv[size_t(i)], sv[c], zv[c], -128, 127);
  }
  CHECK(mismatches == 0);
}

TEST_CASE("quant: DequantizeLinear per tensor, int32, per axis and f16 scales") {
  auto out = run_ok(make_node("DequantizeLinear", 3), 13,
                    {Tensor::from_vector<uint8_t>({4}, {0, 3, 128, 255}), Tensor::scalar<float>(2.0f), Tensor::scalar<uint8_t>(128)});
  CHECK(out[0].dtype() == DType::kF32);
  CHECK(floats_of(out[0]) == std::vector<float>{-256, -250, 0, 254});

  out = run_ok(make_node("DequantizeLinear", 2), 13, {Tensor::from_vector<int32_t>({2}, {-5, 7}), Tensor::scalar<float>(0.5f)});
  CHECK(floats_of(out[0]) == std::vector<float>{-2.5f, 3.5f});

  out = run_ok(make_node("DequantizeLinear", 3, 1, {int_attr("axis", 0)}), 13,
               {Tensor::from_vector<int8_t>({2, 2}, {-128, 127, 0, 5}), Tensor::from_vector<float>({2}, {0.5f, 2.0f}),
                Tensor::from_vector<int8_t>({2}, {0, 1})});
  CHECK(floats_of(out[0]) == std::vector<float>{-64, 63.5f, -2, 8});

  Tensor half_scale = Tensor::zeros(DType::kF16, {});
  half_scale.mutable_data<uint16_t>()[0] = float_to_half(0.5f);
  out = run_ok(make_node("DequantizeLinear", 2), 19, {Tensor::from_vector<uint8_t>({2}, {10, 21}), half_scale});
  CHECK(out[0].dtype() == DType::kF16);
  CHECK(floats_of(out[0]) == std::vector<float>{5.0f, 10.5f});

  out = run_ok(make_node("DequantizeLinear", 2, 1, {int_attr("output_dtype", 1)}), 23,
               {Tensor::from_vector<uint8_t>({2}, {10, 21}), half_scale});
  CHECK(out[0].dtype() == DType::kF32);
  CHECK(floats_of(out[0]) == std::vector<float>{5.0f, 10.5f});
}

TEST_CASE("quant: DequantizeLinear blocked int4 with zero points at odd sizes") {
  const Tensor x = packed4(DType::kI4, {2, 3}, {-8, 7, 1, 3, -2, 0});
  const Tensor scale = Tensor::from_vector<float>({2, 2}, {1, 0.5f, 2, 4});
  const Tensor zp = packed4(DType::kI4, {2, 2}, {1, 0, -1, 2});
  auto out = run_ok(make_node("DequantizeLinear", 3, 1, {int_attr("axis", 1), int_attr("block_size", 2)}), 21, {x, scale, zp});
  CHECK(out[0].shape() == Shape{2, 3});
  CHECK(floats_of(out[0]) == std::vector<float>{-9, 6, 0.5f, 8, -2, -8});
}

TEST_CASE("quant: quantize then dequantize per axis stays within half a step") {
  Rng rng(3);
  const Tensor x = random_floats(rng, {5, 4, 3}, -1, 1);
  const Tensor scale = Tensor::from_vector<float>({4}, {0.01f, 0.02f, 0.005f, 0.008f});
  const Tensor zp = Tensor::from_vector<int8_t>({4}, {0, 3, -2, 1});
  const auto q = run_ok(make_node("QuantizeLinear", 3, 1, {int_attr("axis", 1)}), 13, {x, scale, zp});
  const auto dq = run_ok(make_node("DequantizeLinear", 3, 1, {int_attr("axis", 1)}), 13, {q[0], scale, zp});
  const auto xv = floats_of(x), dv = floats_of(dq[0]), sv = floats_of(scale);
  for (size_t i = 0; i < xv.size(); ++i) {
    const float step = sv[(i / 3) % 4];
    if (std::fabs(xv[i] / step) < 120) CHECK(std::fabs(xv[i] - dv[i]) <= step * 0.5f + 1e-6f);
  }
}

TEST_CASE("quant: malformed scale and zero point shapes are invalid input naming the node") {
  const Tensor x = Tensor::from_vector<float>({2, 5}, std::vector<float>(10, 1.0f));
  Status s = run_status(make_node("QuantizeLinear", 2, 1, {int_attr("axis", 1)}), 13, {x, Tensor::from_vector<float>({2}, {1, 1})});
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("q_QuantizeLinear") != std::string::npos);

  s = run_status(make_node("DequantizeLinear", 2, 1, {int_attr("axis", 1), int_attr("block_size", 2)}), 21,
                 {Tensor::from_vector<int8_t>({2, 5}, std::vector<int8_t>(10, 1)), Tensor::from_vector<float>({2, 2}, {1, 1, 1, 1})});
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("q_DequantizeLinear") != std::string::npos);
  CHECK(s.message().find("[2, 3]") != std::string::npos);  // names the expected shape

  s = run_status(make_node("QuantizeLinear", 3, 1, {int_attr("axis", 1)}), 13,
                 {x, Tensor::from_vector<float>({5}, {1, 1, 1, 1, 1}), Tensor::from_vector<uint8_t>({2}, {0, 0})});
  CHECK(s.code() == StatusCode::kInvalidInput);

  s = run_status(make_node("QuantizeLinear", 2, 1, {int_attr("axis", 3)}), 13, {x, Tensor::from_vector<float>({5}, {1, 1, 1, 1, 1})});
  CHECK(s.code() == StatusCode::kInvalidInput);
}

TEST_CASE("quant: DynamicQuantizeLinear follows the ONNX formula") {
  const auto node = make_node("DynamicQuantizeLinear", 1, 3);
  auto out = run_ok(node, 11, {Tensor::from_vector<float>({6}, {0, 2, -3, -2.5f, 1.34f, 0.5f})});
  CHECK(ints_of(out[0]) == std::vector<int>{153, 255, 0, 26, 221, 179});
  CHECK(out[1].data<float>()[0] == doctest::Approx(5.0f / 255.0f).epsilon(1e-7));
  CHECK(out[2].dtype() == DType::kU8);
  CHECK(out[2].data<uint8_t>()[0] == 153);

  out = run_ok(node, 11, {Tensor::from_vector<float>({12}, {1, 2.1f, 1.3f, 2.5f, 3.34f, 4.0f, 1.5f, 2.6f, 3.9f, 4.0f, 3.0f, 2.345f})});
  CHECK(ints_of(out[0]) == std::vector<int>{64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149});
  CHECK(out[2].data<uint8_t>()[0] == 0);

  out = run_ok(node, 11, {Tensor::from_vector<float>({3}, {0, 0, 0})});
  CHECK(out[1].data<float>()[0] == 1.0f);
  CHECK(out[2].data<uint8_t>()[0] == 0);
  CHECK(ints_of(out[0]) == std::vector<int>{0, 0, 0});
}

TEST_CASE("quant: blocked uint4 on a large 3-D input, middle axis, both directions (multi-threaded path)") {
  Rng rng(17);
  const Shape shape{3, 4001, 5};
  const int64_t block = 4, blocks = (4001 + block - 1) / block;
  const Tensor x = random_floats(rng, shape, -1, 1);
  const Tensor scale = random_floats(rng, {3, blocks, 5}, 0.05f, 0.2f);
  std::vector<int> zps(size_t(3 * blocks * 5));
  for (auto& z : zps) z = rng.uniform_int(4, 11);
  const Tensor zp = packed4(DType::kU4, {3, blocks, 5}, zps);
  const std::vector<ir::Attribute> attrs = {int_attr("axis", 1), int_attr("block_size", block)};
  const auto q = run_ok(make_node("QuantizeLinear", 3, 1, attrs), 21, {x, scale, zp});
  const auto dq = run_ok(make_node("DequantizeLinear", 3, 1, attrs), 21, {q[0], scale, zp});
  const auto xv = floats_of(x), sv = floats_of(scale), dv = floats_of(dq[0]);
  const auto qv = ints_of(q[0]);
  int q_mismatches = 0, dq_mismatches = 0;
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t d = 0; d < 4001; ++d)
      for (int64_t i = 0; i < 5; ++i) {
        const size_t e = size_t((o * 4001 + d) * 5 + i), p = size_t((o * blocks + d / block) * 5 + i);
        const int expected = quantize_ref(xv[e], sv[p], zps[p], 0, 15);
        q_mismatches += qv[e] != expected;
        dq_mismatches += dv[e] != float(qv[e] - zps[p]) * sv[p];
      }
  CHECK(q_mismatches == 0);
  CHECK(dq_mismatches == 0);
}
