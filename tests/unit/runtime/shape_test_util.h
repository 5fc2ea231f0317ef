// Small builders for the shape and indexing kernel tests: nodes with attributes, typed
// tensors, and running one op through runtime::run_single_op.
#pragma once
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/tensor.h"
#include "runtime/single_op.h"

namespace shape_test {

using ember::Shape;
using ember::Tensor;

inline ember::ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> values) {
  ember::ir::Attribute a;
  a.name = name;
  a.kind = ember::ir::AttrKind::kInts;
  a.ints = std::move(values);
  return a;
}

inline ember::ir::Attribute int_attr(const std::string& name, int64_t value) {
  ember::ir::Attribute a;
  a.name = name;
  a.kind = ember::ir::AttrKind::kInt;
  a.i = value;
  return a;
}

inline ember::ir::Attribute float_attr(const std::string& name, float value) {
  ember::ir::Attribute a;
  a.name = name;
  a.kind = ember::ir::AttrKind::kFloat;
  a.f = value;
  return a;
}

inline ember::ir::Attribute string_attr(const std::string& name, std::string value) {
  ember::ir::Attribute a;
  a.name = name;
  a.kind = ember::ir::AttrKind::kString;
  a.s = std::move(value);
  return a;
}

inline ember::ir::Attribute tensor_attr(const std::string& name, Tensor value) {
  ember::ir::Attribute a;
  a.name = name;
  a.kind = ember::ir::AttrKind::kTensor;
  a.t = std::move(value);
  return a;
}

// A node named "n_<op>" with inputs x0.. and outputs y0..
inline ember::ir::Node node(const std::string& op, size_t inputs, size_t outputs,
                            std::vector<ember::ir::Attribute> attrs = {}) {
  ember::ir::Node n;
  n.name = "n_" + op;
  n.op_type = op;
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back("x" + std::to_string(i));
  for (size_t i = 0; i < outputs; ++i) n.outputs.push_back("y" + std::to_string(i));
  n.attributes = std::move(attrs);
  return n;
}

inline Tensor i64s(std::vector<int64_t> values) {
  return Tensor::from_vector<int64_t>({int64_t(values.size())}, values);
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
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// Runs the op through the default registry, as the interpreter would.
inline ember::Result<std::vector<Tensor>> run(const ember::ir::Node& n, int64_t opset, const std::vector<Tensor>& inputs) {
  return ember::runtime::run_single_op(n, opset, inputs);
}

}  // namespace shape_test
