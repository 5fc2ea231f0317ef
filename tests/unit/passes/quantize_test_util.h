// Small graphs built in code for the weight-quantization tests, and running them.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/verifier.h"
#include "runtime/interpreter.h"

namespace ember::qw_test {

inline ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kInt;
  a.i = v;
  return a;
}

inline ir::Node node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                     std::vector<ir::Attribute> attrs = {}) {
  ir::Node n;
  n.name = "n_" + outputs[0];
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attributes = std::move(attrs);
  return n;
}

inline ir::ValueInfo value(const std::string& name, DType dtype, const std::vector<int64_t>& dims) {
  ir::ValueInfo v;
  v.name = name;
  v.elem_type = dtype;
  v.has_shape = true;
  for (int64_t d : dims) v.dims.push_back({d, d < 0 ? "n" : ""});
  return v;
}

inline Tensor random_tensor(Shape shape, uint32_t seed, float stddev = 0.2f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = normal(rng);
  return Tensor::from_vector<float>(std::move(shape), v);
}

// A model at `opset` with one f32 input "x" of `x_shape` and output "y".
inline ir::Model make_model(std::vector<ir::Node> nodes, const std::vector<int64_t>& x_shape,
                            std::map<std::string, Tensor> initializers, int64_t opset = 17,
                            DType x_dtype = DType::kF32) {
  ir::Model m;
  m.ir_version = 8;
  m.opset_imports.push_back({"", opset});
  m.graph.name = "g";
  m.graph.nodes = std::move(nodes);
  m.graph.inputs.push_back(value("x", x_dtype, x_shape));
  m.graph.outputs.push_back(value("y", DType::kF32, {}));
  m.graph.outputs.back().has_shape = false;
  for (auto& [name, t] : initializers) m.graph.set_initializer(name, std::move(t));
  return m;
}

// `integer_kernels` = false keeps quantized ops in float arithmetic (dequantized weights times
// float activations), for exact comparisons between emission formats.
inline std::vector<float> run_model(const ir::Model& model, const Tensor& x, bool integer_kernels = true) {
  REQUIRE(ir::verify_model(model).ok());
  runtime::InterpreterOptions options;
  options.integer_kernels = integer_kernels;
  auto interp = runtime::Interpreter::create(model, options);
  if (!interp.ok()) FAIL(interp.status().message());
  auto out = (*interp)->run({{"x", x}});
  if (!out.ok()) FAIL(out.status().message());
  const Tensor& y = (*out)[0];
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

// ||a - b|| / ||b||
inline double relative_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += double(a[i] - b[i]) * double(a[i] - b[i]);
    den += double(b[i]) * double(b[i]);
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline size_t count_op(const ir::Model& m, const std::string& op) {
  size_t n = 0;
  for (const auto& nd : m.graph.nodes) n += nd.op_type == op;
  return n;
}

inline const ir::Node* find_op(const ir::Model& m, const std::string& op) {
  for (const auto& nd : m.graph.nodes)
    if (nd.op_type == op) return &nd;
  return nullptr;
}

}  // namespace ember::qw_test
