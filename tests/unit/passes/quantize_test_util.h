// Small graphs built in code for the weight-quantization tests, and running them. The common
// builders come from the shared test_support.h.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "ir/verifier.h"
#include "passes/analysis/layer_model.h"
#include "runtime/interpreter.h"
#include "tests/unit/test_support.h"

namespace ember::qw_test {

using test::count_ops;
using test::find_op;
using test::int_attr;

// A node named "n_<first output>".
inline ir::Node node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                     std::vector<ir::Attribute> attrs = {}) {
  const std::string name = "n_" + outputs[0];
  return test::node(op, name, std::move(inputs), std::move(outputs), std::move(attrs));
}

// Negative dims are the symbolic dimension "n".
inline ir::ValueInfo value(const std::string& name, DType dtype, const std::vector<int64_t>& dims) {
  return test::value_info(name, dtype, dims, "n");
}

inline Tensor random_tensor(Shape shape, uint32_t seed, float stddev = 0.2f) {
  return test::normal_tensor(std::move(shape), seed, stddev);
}

// A model at `opset` with one f32 input "x" of `x_shape` and output "y".
inline ir::Model make_model(std::vector<ir::Node> nodes, const std::vector<int64_t>& x_shape,
                            std::map<std::string, Tensor> initializers, int64_t opset = 17,
                            DType x_dtype = DType::kF32) {
  ir::Model m = test::empty_model(opset, "g");
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
  return test::values_of<float>((*out)[0]);
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

// A weight layer stored [channels, reduction], or [reduction, channels] when channels_last.
inline passes::analysis::Layer layer_of(const std::string& name, int64_t channels, int64_t reduction, bool channels_last) {
  passes::analysis::Layer t;
  t.weight = name;
  t.channel_axis = channels_last ? 1 : 0;
  t.channels = channels;
  t.reduction = reduction;
  t.shape = channels_last ? Shape{reduction, channels} : Shape{channels, reduction};
  return t;
}

}  // namespace ember::qw_test
