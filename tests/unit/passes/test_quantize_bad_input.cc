// The bad-input cases of quantization (issue 4): an empty calibration set, a model with
// nothing to quantize, and a model with an op the interpreter cannot run (quantization that
// needs no calibration still works; calibration names the op that blocks it).
#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include "calibration/dataset.h"
#include "formats/npy.h"
#include "passes/pass_manager.h"
#include "tests/unit/passes/quantize_test_util.h"

using namespace ember;
using namespace ember::qw_test;

namespace {

std::string temp_npy(const std::string& tag, const Tensor& rows) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("ember_qbad_" + tag + "_" + std::to_string(::getpid()) + ".npy")).string();
  REQUIRE(formats::write_npy(path, rows).ok());
  return path;
}

Status run_pipeline(ir::Model& model, const std::string& pipeline, calibration::CalibrationSet* calib) {
  auto manager = passes::PassManager::from_text(pipeline);
  REQUIRE(manager.ok());
  passes::Remarks remarks;
  passes::AnalysisManager analyses(calib);
  passes::PassContext ctx(analyses, remarks);
  return manager->run(model, ctx);
}

// x [n, 32] -> MatMul(w [32, 8]) -> op -> y, with `op` of the given type and domain.
ir::Model linear_then(const std::string& op, const std::string& domain) {
  ir::Node tail = node(op, {"h"}, {"y"});
  tail.domain = domain;
  ir::Model m = make_model({node("MatMul", {"x", "w"}, {"h"}), tail}, {-1, 32}, {{"w", random_tensor({32, 8}, 1)}});
  if (!domain.empty()) m.opset_imports.push_back({domain, 1});
  return m;
}

}  // namespace

TEST_CASE("quantize bad input: an empty calibration set is refused with a message") {
  const ir::Model model = linear_then("Relu", "");
  const std::string path = temp_npy("empty", Tensor::zeros(DType::kF32, {0, 32}));
  auto calib = calibration::CalibrationSet::open(path, model.graph.feed_inputs(), {});
  std::filesystem::remove(path);
  REQUIRE_FALSE(calib.ok());
  CHECK(calib.status().code() == StatusCode::kInvalidInput);
  CHECK(calib.status().message().find("empty") != std::string::npos);
}

TEST_CASE("quantize bad input: a model with nothing quantizable says why in the remarks") {
  // The pass itself is a no-op then (pipelines stay composable); `ember quantize` turns the
  // zero count and the first skip note into its error (tests/e2e/cli_basics.sh).
  ir::Model model = linear_then("Relu", "");
  passes::Remarks remarks;
  auto manager = passes::PassManager::from_text("quantize-weights{bits=8}");
  REQUIRE(manager.ok());
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  REQUIRE(manager->run(model, ctx).ok());
  CHECK(remarks.stats["quantize-weights"]["weights-quantized"] == 0);
  bool named = false;
  for (const auto& e : remarks.entries) named |= e.message.find("min-size") != std::string::npos;
  CHECK(named);
}

TEST_CASE("quantize bad input: an op the interpreter lacks blocks calibration only") {
  // Weight-only RTN needs no calibration: it works.
  ir::Model model = linear_then("FancyOp", "com.example");
  REQUIRE(run_pipeline(model, "quantize-weights{bits=8,min-size=0}", nullptr).ok());
  CHECK(count_ops(model, "DequantizeLinear") == 1);
  // Static activations need calibration runs: the error names the blocking op.
  ir::Model model2 = linear_then("FancyOp", "com.example");
  const std::string path = temp_npy("fancy", random_tensor({4, 32}, 2));
  auto calib = calibration::CalibrationSet::open(path, model2.graph.feed_inputs(), {});
  std::filesystem::remove(path);
  REQUIRE(calib.ok());
  const Status s = run_pipeline(model2, "quantize-activations{mode=static}", &*calib);
  REQUIRE_FALSE(s.ok());
  CHECK((s.code() == StatusCode::kInvalidInput || s.code() == StatusCode::kUnsupported));  // exit 2
  CHECK(s.message().find("FancyOp") != std::string::npos);
  // GPTQ also runs the model for its Hessians: same.
  ir::Model model3 = linear_then("FancyOp", "com.example");
  const Status g = run_pipeline(model3, "quantize-weights{bits=4,block=32,method=gptq,min-size=0}", &*calib);
  REQUIRE_FALSE(g.ok());
  CAPTURE(g.message());
  CHECK(g.message().find("FancyOp") != std::string::npos);
}
