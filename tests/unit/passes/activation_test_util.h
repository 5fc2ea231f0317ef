// Helpers for the quantize-activations and smooth-quant tests: a small transformer-like
// block built in code, a calibration file for it, running passes and comparing outputs.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "formats/npy.h"
#include "formats/npz.h"
#include "ir/verifier.h"
#include "passes/pass_manager.h"
#include "runtime/interpreter.h"
#include "tests/unit/calibration/calib_test_util.h"

namespace ember::act_test {

using namespace ember::calib_test;
using test::count_ops;
using test::find_node;

constexpr int64_t kChannels = 8;

inline Tensor random_matrix(Rng& rng, int64_t rows, int64_t cols, double sigma) {
  return Tensor::from_vector<float>({rows, cols}, normals(rng, static_cast<size_t>(rows * cols), sigma));
}

// x [batch, 8] -> LayerNorm(gamma with one large channel) -> ln
//   ln -> MatMul(W1 [8, 16]) -> h -> Relu -> hr -> Gemm(hr, W2 [16, 4], b2) -> y
//   ln -> Add(x) -> res (residual, stays float) -> output
inline ir::Model block_model(int64_t opset = 17) {
  Rng rng(7);
  ir::Model m = empty_model(opset);
  m.graph.inputs.push_back(tensor_info("x", DType::kF32, {-1, kChannels}));
  std::vector<float> gamma(kChannels, 1.0f), beta(kChannels, 0.1f);
  gamma[2] = 25.0f;  // an outlier channel, as LayerNorm outputs of transformers have
  add_initializer(m, "gamma", Tensor::from_vector<float>({kChannels}, gamma));
  add_initializer(m, "beta", Tensor::from_vector<float>({kChannels}, beta));
  add_initializer(m, "W1", random_matrix(rng, kChannels, 16, 0.3));
  add_initializer(m, "W2", random_matrix(rng, 16, 4, 0.3));
  add_initializer(m, "b2", Tensor::from_vector<float>({4}, {0.5f, -0.5f, 0.25f, 0}));
  m.graph.nodes.push_back(node("LayerNormalization", "ln", {"x", "gamma", "beta"}, {"ln_out"}, {int_attr("axis", -1)}));
  m.graph.nodes.push_back(node("MatMul", "fc1", {"ln_out", "W1"}, {"h"}));
  m.graph.nodes.push_back(node("Relu", "act", {"h"}, {"hr"}));
  m.graph.nodes.push_back(node("Gemm", "fc2", {"hr", "W2", "b2"}, {"y"}));
  m.graph.nodes.push_back(node("Add", "residual", {"ln_out", "x"}, {"res"}));
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 4}));
  m.graph.outputs.push_back(tensor_info("res", DType::kF32, {-1, kChannels}));
  return m;
}

inline Tensor block_input(uint64_t seed, int64_t rows) {
  Rng rng(seed);
  return Tensor::from_vector<float>({rows, kChannels}, normals(rng, static_cast<size_t>(rows * kChannels), 2.0));
}

// A calibration set of `rows` rows for the model's single input "x".
inline calibration::CalibrationSet block_calibration(const ScratchDir& dir, const ir::Model& model, int64_t rows = 64) {
  const std::string path = dir.file("calib.npy");
  REQUIRE(formats::write_npy(path, block_input(99, rows)).ok());
  calibration::CalibrationOptions o;
  o.batch = 16;
  auto set = calibration::CalibrationSet::open(path, model.graph.feed_inputs(), o);
  REQUIRE(set.ok());
  return std::move(*set);
}

// Runs a pipeline; returns the status (the model is changed in place).
inline Status run_pipeline(ir::Model& model, const std::string& pipeline, calibration::CalibrationSet* calib,
                           passes::Remarks* remarks = nullptr) {
  auto manager = passes::PassManager::from_text(pipeline);
  if (!manager.ok()) return manager.status();
  passes::Remarks local;
  passes::AnalysisManager analyses(calib);
  passes::PassContext ctx(analyses, remarks ? *remarks : local);
  return manager->run(model, ctx);
}

inline std::vector<Tensor> run(const ir::Model& model, const std::map<std::string, Tensor>& feeds) {
  REQUIRE(ir::verify_model(model).ok());
  auto interp = runtime::Interpreter::create(model);
  if (!interp.ok()) FAIL(interp.status().message());
  auto out = (*interp)->run(feeds);
  if (!out.ok()) FAIL(out.status().message());
  return std::move(*out);
}

// ||a - b|| / ||b||
inline double relative_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<float> x = a.to_floats().value(), y = b.to_floats().value();
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    num += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
    den += static_cast<double>(y[i]) * y[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// Replaces float weight `name` [K, N] by DequantizeLinear(int8 per column, axis 1), the form
// quantize-weights leaves; returns the dequantized float weight for reference.
inline void dequantized_weight(ir::Model& m, const std::string& name, int64_t axis = 1) {
  const Tensor w = *m.graph.find_initializer(name);
  const int64_t rows = w.dim(0), cols = w.dim(1), channels = w.dim(static_cast<int>(axis));
  std::vector<float> scale(static_cast<size_t>(channels), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& s = scale[static_cast<size_t>(axis == 1 ? c : r)];
      s = std::max(s, std::fabs(w.data<float>()[r * cols + c]) / 127);
    }
  Tensor q = Tensor::zeros(DType::kI8, w.shape());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      q.mutable_data<int8_t>()[r * cols + c] =
          static_cast<int8_t>(std::nearbyint(w.data<float>()[r * cols + c] / scale[static_cast<size_t>(axis == 1 ? c : r)]));
  m.graph.remove_initializer(name);
  add_initializer(m, name + "_q", q);
  add_initializer(m, name + "_scale", Tensor::from_vector<float>({channels}, scale));
  m.graph.nodes.insert(m.graph.nodes.begin(),
                       node("DequantizeLinear", name + "_dq", {name + "_q", name + "_scale"}, {name}, {int_attr("axis", axis)}));
}

}  // namespace ember::act_test
