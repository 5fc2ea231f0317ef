// free-batch: the GPT-2 exports batch after the pass, each row equal to its batch-1 run (FP32:
// to the last bits a GEMM's blocking changes; INT8 weights: bit-identical), the pass is idempotent, and graphs whose rows really mix are refused
// naming the node.
#include <doctest/doctest.h>

#include <filesystem>

#include "formats/onnx_load.h"
#include "passes/batch/free_batch.h"
#include "passes/pass_manager.h"
#include "runtime/interpreter.h"
#include "tests/unit/test_support.h"

namespace ember::free_batch_test {
namespace {

using test::node;
using test::value_info;

Status apply(ir::Model& m, const std::string& pipeline = "free-batch") {
  auto manager = passes::PassManager::from_text(pipeline);
  if (!manager.ok()) return manager.status();
  passes::Remarks remarks;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  return manager->run(m, ctx);
}

Tensor token_rows(int64_t rows, int64_t seq, int64_t seed) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < rows * seq; ++i) ids.push_back((i * 37 + seed * 11 + 5) % 256);
  return Tensor::from_vector<int64_t>({rows, seq}, ids);
}

Tensor row_of(const Tensor& t, int64_t r) {
  Shape s = t.shape();
  s[0] = 1;
  const int64_t n = t.numel() / t.dim(0);
  std::vector<int64_t> v(t.data<int64_t>() + r * n, t.data<int64_t>() + (r + 1) * n);
  return Tensor::from_vector<int64_t>(s, v);
}

// Runs `rows` token rows together in `batched` and each alone in `single`: every logit equal.
void check_rows_match(const ir::Model& batched, const ir::Model& single, int64_t rows, int64_t seq, double tolerance) {
  auto together = runtime::Interpreter::create(batched);
  auto alone = runtime::Interpreter::create(single);
  REQUIRE(together.ok());
  REQUIRE(alone.ok());
  const Tensor ids = token_rows(rows, seq, seq);
  auto out = (*together)->run({{"input_ids", ids}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  const Tensor& logits = (*out)[0];
  REQUIRE(logits.shape() == Shape{rows, seq, 256});
  const int64_t n = seq * 256;
  for (int64_t r = 0; r < rows; ++r) {
    auto one = (*alone)->run({{"input_ids", row_of(ids, r)}});
    REQUIRE(one.ok());
    int64_t differing = 0;
    double max_diff = 0, max_abs = 0;
    for (int64_t k = 0; k < n; ++k) {
      const float a = (*one)[0].data<float>()[k], b = logits.data<float>()[r * n + k];
      differing += a != b;
      max_diff = std::max(max_diff, static_cast<double>(std::abs(a - b)));
      max_abs = std::max(max_abs, static_cast<double>(std::abs(a)));
    }
    MESSAGE("row " << r << ": " << differing << " of " << n << " logits differ, max |diff| / max |logit| = " << max_diff / max_abs);
    CHECK(max_diff <= tolerance * max_abs);
  }
}

TEST_CASE("free-batch: kjv-gpt2-tiny batches, each row equal to the original's batch-1 run") {
  auto original = formats::load_onnx(std::string(EMBER_SOURCE_DIR) + "/samples/kjv-gpt2-tiny.onnx");
  REQUIRE(original.ok());
  ir::Model m = *original;
  passes::Remarks remarks;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  passes::FreeBatch pass({});
  REQUIRE(pass.run(m, ctx).ok());
  auto result = std::dynamic_pointer_cast<const passes::FreeBatchResult>(pass.result());
  REQUIRE(result);
  CHECK(result->reshapes_rewritten == 15);  // 2 layers x 7 [1, -1, ...] reshapes, and the final one
  CHECK(result->gathers_broadcast == 2);    // the packed-sequence mask's GatherNDs
  CHECK(m.graph.outputs[0].dims[0].param == "batch");
  // At batch 1 the rewritten graph computes exactly what the original does.
  check_rows_match(m, *original, 1, 8, 0);
  // FP32 GEMMs of more rows may block their sums differently: last-bit differences only.
  check_rows_match(m, *original, 3, 8, 1e-5);
  check_rows_match(m, *original, 2, 5, 1e-5);
  // Idempotent: nothing left to rewrite, same graph.
  ir::Model again = m;
  REQUIRE(apply(again).ok());
  CHECK(again.graph.nodes.size() == m.graph.nodes.size());
  // Weight-only INT8 after the pass: batching still changes no bit.
  ir::Model int8 = m;
  REQUIRE(apply(int8, "quantize-weights{bits=8}").ok());
  check_rows_match(int8, int8, 3, 8, 0);
}

TEST_CASE("free-batch: the shared kjv-gpt2 batches, each row equal to its batch-1 run") {
  const std::string path = std::string(EMBER_SHARED_DIR) + "/models/kjv-gpt2.onnx";
  if (!std::filesystem::exists(path)) EMBER_SKIP(path << " is absent");
  auto original = formats::load_onnx(path);
  REQUIRE(original.ok());
  ir::Model m = *original;
  REQUIRE(apply(m).ok());
  check_rows_match(m, *original, 2, 12, 1e-5);
}

TEST_CASE("free-batch: digits-cnn, batch-free already, is proven row-wise with nothing to rewrite") {
  auto model = formats::load_onnx(std::string(EMBER_SOURCE_DIR) + "/samples/digits-cnn.onnx");
  REQUIRE(model.ok());
  ir::Model m = *model;
  passes::Remarks remarks;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  passes::FreeBatch pass({});
  REQUIRE_MESSAGE(pass.run(m, ctx).ok(), "Conv, Relu, MaxPool, Flatten/Reshape and Gemm keep the rows apart");
  auto result = std::dynamic_pointer_cast<const passes::FreeBatchResult>(pass.result());
  CHECK(result->reshapes_rewritten + result->gathers_broadcast == 0);
  CHECK(m.graph.nodes.size() == model->graph.nodes.size());
}

ir::Model one_op_model(ir::Node op, const std::string& out) {
  ir::Model m = test::empty_model(17);
  m.graph.inputs.push_back(value_info("x", DType::kF32, {-1, 4}, "batch"));
  m.graph.nodes.push_back(std::move(op));
  m.graph.outputs.push_back(value_info(out, DType::kF32, {-1, 4}, "batch"));
  return m;
}

TEST_CASE("free-batch: refuses, naming the node, where rows would mix") {
  ir::Model softmax = one_op_model(node("Softmax", "over_batch", {"x"}, {"y"}, {test::int_attr("axis", 0)}), "y");
  Status s = apply(softmax);
  CHECK(s.code() == StatusCode::kUnsupported);
  CHECK(s.message().find("over_batch") != std::string::npos);
  ir::Model dynamic = one_op_model(node("DynamicQuantizeLinear", "dql", {"x"}, {"q", "scale", "zp"}), "q");
  s = apply(dynamic);
  CHECK(s.message().find("dql") != std::string::npos);
  CHECK(s.message().find("whole tensor") != std::string::npos);
  ir::Model reduce = one_op_model(node("ReduceSum", "sum_rows", {"x"}, {"y"}, {test::ints_attr("axes", {0})}), "y");
  CHECK(apply(reduce).message().find("sum_rows") != std::string::npos);
  ir::Model flatten = one_op_model(node("Flatten", "flat_all", {"x"}, {"y"}, {test::int_attr("axis", 0)}), "y");
  CHECK(apply(flatten).message().find("flat_all") != std::string::npos);
  // A malformed node is refused by name, not read past its inputs.
  ir::Model truncated = one_op_model(node("Reshape", "one_input_reshape", {"x"}, {"y"}), "y");
  CHECK(apply(truncated).message().find("one_input_reshape") != std::string::npos);
  // Row-wise: accepted unchanged.
  ir::Model fine = one_op_model(node("Softmax", "per_row", {"x"}, {"y"}, {test::int_attr("axis", 1)}), "y");
  CHECK(apply(fine).ok());
}

}  // namespace
}  // namespace ember::free_batch_test
