// Shared by the load-time rewrite tests (test_rewrite_integer.cc, test_rewrite_products.cc):
// a graph builder, op counts, and running a model with and without the integer rewrites.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/interpreter.h"
#include "tests/unit/runtime/quant_test_util.h"

namespace ember::rewrite_test {

using namespace ember::quant_test;


// Integer activations (u8 per tensor, as the graph's own DynamicQuantizeLinear) leave only
// float rounding: relative to the largest output.
constexpr double kSameIntegersRelTol = 1e-5;
// Weight-only graphs gain activation quantization (u8 per row, int8 per block of 32).
constexpr double kActQuantRelTol = 3e-2;

using test::IsaScope;

inline ir::ValueInfo f32_info(const std::string& name, const std::vector<int64_t>& dims) {
  return test::value_info(name, DType::kF32, dims, "");
}

struct Builder {
  ir::Model model;
  Builder() {
    model.ir_version = 10;
    model.opset_imports = {{"", 21}, {"com.microsoft", 1}};
  }
  void input(const std::string& name, std::vector<int64_t> dims) { model.graph.inputs.push_back(f32_info(name, dims)); }
  void output(const std::string& name) { model.graph.outputs.push_back(f32_info(name, {})); }
  void init(const std::string& name, Tensor t) { model.graph.set_initializer(name, std::move(t)); }
  void node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out, std::vector<ir::Attribute> attrs = {},
            const std::string& domain = "") {
    ir::Node n = test::node(op, op + "_" + std::to_string(model.graph.nodes.size()), std::move(in), std::move(out),
                            std::move(attrs));
    n.domain = domain;
    model.graph.nodes.push_back(std::move(n));
  }
  // onnxruntime's dynamic INT8 product y = x w (+ bias): DynamicQuantizeLinear, MatMulInteger,
  // the scales multiplied back in, the bias added.
  void dynamic_int8_product(const std::string& x, const std::string& y) {
    node("DynamicQuantizeLinear", {x}, {"xq", "xs", "xzp"});
    node("Mul", {"xs", "w_scale"}, {"s"});
    node("MatMulInteger", {"xq", "w", "xzp", "w_zp"}, {"acc"});
    node("Cast", {"acc"}, {"accf"}, {ember::quant_test::int_attr("to", 1)});
    node("Mul", {"accf", "s"}, {"y0"});
    node("Add", {"y0", "bias"}, {y});
  }
};

inline std::map<std::string, int> op_counts(const ir::Model& m) {
  std::map<std::string, int> counts;
  for (const auto& n : m.graph.nodes) ++counts[n.op_type];
  return counts;
}

inline std::unique_ptr<runtime::Interpreter> make(const ir::Model& model, bool integer) {
  runtime::InterpreterOptions o;
  o.integer_kernels = integer;
  auto interp = runtime::Interpreter::create(model, o);
  if (!interp.ok()) FAIL(interp.status().message());
  return std::move(interp).value();
}

inline std::vector<float> run1(runtime::Interpreter& interp, const std::map<std::string, Tensor>& feeds) {
  auto out = interp.run(feeds);
  if (!out.ok()) FAIL(out.status().message());
  return floats_of((*out)[0]);
}

// Runs the model with and without the rewrites on every testable ISA level and compares.
inline void check_equivalent(const ir::Model& model, const std::map<std::string, Tensor>& feeds, double rel_tol) {
  auto ref_interp = make(model, false);
  const std::vector<float> ref = run1(*ref_interp, feeds);
  double scale = 1e-12;
  for (float v : ref) scale = std::max(scale, double(std::fabs(v)));
  std::vector<float> first;
  for (auto level : {runtime::IsaLevel::kScalar, runtime::IsaLevel::kAvx2, runtime::IsaLevel::kAvxVnni, runtime::IsaLevel::kAvx512}) {
    if (!runtime::isa_supported(level)) continue;
    IsaScope isa(level);
    auto interp = make(model, true);
    const std::vector<float> got = run1(*interp, feeds);
    REQUIRE(got.size() == ref.size());
    for (size_t i = 0; i < got.size(); ++i) REQUIRE(std::fabs(got[i] - ref[i]) <= rel_tol * scale);
    // Every ISA path computes the same integers and the same float operations.
    if (first.empty()) first = got;
    for (size_t i = 0; i < got.size(); ++i) REQUIRE(std::fabs(got[i] - first[i]) <= 1e-6 * scale);
  }
}


}  // namespace ember::rewrite_test
