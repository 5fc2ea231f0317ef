// Helpers for the kernel tests of the computing families (elementwise, activation,
// normalization, reduce): build a one-node graph (op_node), run it with run_single_op, compare
// values. The builders and run_status come from the shared test_support.h.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace ember::test {

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

}  // namespace ember::test
