// Helpers for the MatMul / Gemm / Conv / pooling kernel tests: node building, deterministic
// random tensors and a tolerance check that reports the first mismatch.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/tensor.h"
#include "runtime/single_op.h"

namespace ember::conv_test {

inline ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kInt;
  a.i = v;
  return a;
}
inline ir::Attribute float_attr(const std::string& name, float v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kFloat;
  a.f = v;
  return a;
}
inline ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kInts;
  a.ints = std::move(v);
  return a;
}
inline ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kString;
  a.s = v;
  return a;
}

// A node named "n1" with inputs "in0".. (empty names for omitted ones) and outputs "out0"...
inline ir::Node make_node(const std::string& op, size_t inputs, size_t outputs, std::vector<ir::Attribute> attrs = {},
                          const std::vector<size_t>& omitted_inputs = {}) {
  ir::Node node;
  node.name = "n1";
  node.op_type = op;
  for (size_t i = 0; i < inputs; ++i) node.inputs.push_back("in" + std::to_string(i));
  for (size_t i : omitted_inputs) node.inputs[i].clear();
  for (size_t i = 0; i < outputs; ++i) node.outputs.push_back("out" + std::to_string(i));
  node.attributes = std::move(attrs);
  return node;
}

// Deterministic values in [-1, 1), different per seed.
inline std::vector<float> random_floats(int64_t count, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(count));
  uint32_t state = seed * 2654435761u + 12345u;
  for (float& x : v) {
    state = state * 1664525u + 1013904223u;
    x = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
  return v;
}

inline Tensor random_tensor(Shape shape, uint32_t seed) {
  const int64_t n = shape_numel(shape);
  return Tensor::from_vector<float>(std::move(shape), random_floats(n, seed));
}

// An f16 (or bf16) tensor holding `values` rounded to that type.
inline Tensor half_tensor(Shape shape, const std::vector<float>& values, DType dtype = DType::kF16) {
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  uint16_t* out = t.mutable_data<uint16_t>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = dtype == DType::kF16 ? float_to_half(values[i]) : float_to_bfloat16(values[i]);
  return t;
}

// Checks shape and every value within atol + rtol * |expected|; reports the first mismatch.
inline void check_close(const Tensor& actual, const Shape& expected_shape, const std::vector<double>& expected,
                        double atol = 1e-4, double rtol = 1e-4) {
  REQUIRE(shape_to_string(actual.shape()) == shape_to_string(expected_shape));
  REQUIRE(static_cast<size_t>(actual.numel()) == expected.size());
  auto values = actual.to_floats();
  REQUIRE(values.ok());
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = values.value()[i], e = expected[i];
    if (std::fabs(a - e) > atol + rtol * std::fabs(e)) {
      INFO("index " << i << ": got " << a << ", expected " << e);
      CHECK(std::fabs(a - e) <= atol + rtol * std::fabs(e));
      return;
    }
  }
}

inline std::vector<double> to_doubles(const std::vector<float>& v) { return {v.begin(), v.end()}; }

}  // namespace ember::conv_test
