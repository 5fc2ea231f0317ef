// Small builders for the shape and indexing kernel tests: nodes with attributes, typed
// tensors, and running one op through runtime::run_single_op. The common builders come from
// the shared test_support.h.
#pragma once
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace shape_test {

using ember::Shape;
using ember::Tensor;
using ember::test::float_attr;
using ember::test::i64s;
using ember::test::int_attr;
using ember::test::ints_attr;
using ember::test::string_attr;
using ember::test::tensor_attr;

// A node named "n_<op>" with inputs x0.. and outputs y0..
inline ember::ir::Node node(const std::string& op, size_t inputs, size_t outputs,
                            std::vector<ember::ir::Attribute> attrs = {}) {
  return ember::test::op_node(op, inputs, std::move(attrs), outputs);
}

inline Tensor f32(Shape shape, std::vector<float> values) { return Tensor::from_vector<float>(std::move(shape), values); }

// 0, 1, 2, ... as float, in the given shape.
inline Tensor iota_f32(Shape shape) {
  std::vector<float> v(size_t(ember::shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  return f32(std::move(shape), v);
}

template <class T>
std::vector<T> values(const Tensor& t) {
  return ember::test::values_of<T>(t);
}

// Runs the op through the default registry, as the interpreter would.
inline ember::Result<std::vector<Tensor>> run(const ember::ir::Node& n, int64_t opset, const std::vector<Tensor>& inputs) {
  return ember::runtime::run_single_op(n, opset, inputs);
}

}  // namespace shape_test
