// Helpers for the kernel tests of the computing families (elementwise, activation,
// normalization, reduce): build a one-node graph, run it with run_single_op, compare values.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/tensor.h"
#include "runtime/single_op.h"

namespace ember::test {

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
inline ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kString;
  a.s = v;
  return a;
}
inline ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kInts;
  a.ints = std::move(v);
  return a;
}

// A node named "n_<op>" with inputs x0..x{n-1} and outputs y0..y{m-1}.
inline ir::Node op_node(const std::string& op, size_t inputs, std::vector<ir::Attribute> attrs = {},
                        size_t outputs = 1) {
  ir::Node node;
  node.name = "n_" + op;
  node.op_type = op;
  for (size_t i = 0; i < inputs; ++i) node.inputs.push_back("x" + std::to_string(i));
  for (size_t i = 0; i < outputs; ++i) node.outputs.push_back("y" + std::to_string(i));
  node.attributes = std::move(attrs);
  return node;
}

// Runs the node and returns its outputs; fails the test case when the kernel errors.
inline std::vector<Tensor> run_ok(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs) {
  auto result = runtime::run_single_op(node, opset, inputs);
  INFO(node.op_type, " opset ", opset, ": ", result.ok() ? std::string() : result.status().message());
  REQUIRE(result.ok());
  return std::move(result).value();
}

inline Tensor run1(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs) {
  return run_ok(node, opset, inputs).at(0);
}

inline Status run_status(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs) {
  auto result = runtime::run_single_op(node, opset, inputs);
  return result.ok() ? Status::Ok() : result.status();
}

// Checks dtype-agnostic values (any numeric type read as float) within a relative tolerance;
// NaN expects NaN.
inline void check_values(const Tensor& t, const std::vector<double>& expected, double tolerance = 1e-6) {
  auto values = t.to_floats();
  REQUIRE(values.ok());
  REQUIRE(values->size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("element ", i, ": got ", (*values)[i], ", expected ", expected[i]);
    if (std::isnan(expected[i])) {
      CHECK(std::isnan((*values)[i]));
    } else if (std::isinf(expected[i])) {
      CHECK((*values)[i] == expected[i]);
    } else {
      CHECK(std::fabs((*values)[i] - expected[i]) <= tolerance * std::max(1.0, std::fabs(expected[i])));
    }
  }
}

template <class T>
std::vector<T> values_of(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

}  // namespace ember::test
