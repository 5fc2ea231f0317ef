// quantize-weights on small graphs built in code: structure (op counts, dtypes, shapes,
// attributes, opsets) and numerical closeness to the float graph in the interpreter, for
// MatMul, Gemm (transB), Conv, Gather with a tied LM head, both emission formats, filters
// and option errors. Calibrated methods (gptq, awq): tests/unit/passes/test_quantize_calibrated.cc.
#include <doctest/doctest.h>

#include "passes/pass_registry.h"
#include "passes/quantize/weight_quantizer.h"
#include "tests/unit/passes/quantize_test_util.h"

using namespace ember;
using namespace ember::qw_test;

namespace {

// Runs quantize-weights with `options` on a copy of `model`; fails the test on error.
ir::Model quantized(const ir::Model& model, std::map<std::string, std::string> options, passes::Remarks* remarks = nullptr,
                    std::vector<passes::QuantizedTensorRecord>* records = nullptr) {
  ir::Model m = model;
  passes::WeightQuantization pass(passes::PassOptions("quantize-weights", std::move(options)));
  passes::Remarks local;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks ? *remarks : local);
  const Status s = pass.run(m, ctx);
  if (!s.ok()) FAIL(s.message());
  REQUIRE(ir::verify_model(m).ok());
  if (records) *records = pass.records();
  return m;
}

Status run_status(const ir::Model& model, std::map<std::string, std::string> options) {
  ir::Model m = model;
  passes::WeightQuantization pass(passes::PassOptions("quantize-weights", std::move(options)));
  passes::AnalysisManager analyses;
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  return pass.run(m, ctx);
}

ir::Model matmul_model() {
  return make_model({node("MatMul", {"x", "w"}, {"y"})}, {-1, 64}, {{"w", random_tensor({64, 48}, 1)}});
}

const Tensor& init(const ir::Model& m, const std::string& name) {
  const Tensor* t = m.graph.find_initializer(name);
  REQUIRE(t != nullptr);
  return *t;
}

}  // namespace

TEST_CASE("quantize-weights: MatMul int8 per output channel") {
  const ir::Model model = matmul_model();
  std::vector<passes::QuantizedTensorRecord> records;
  passes::Remarks remarks;
  const ir::Model q = quantized(model, {}, &remarks, &records);
  CHECK(count_ops(q, "DequantizeLinear") == 1);
  CHECK(count_ops(q, "MatMul") == 1);
  CHECK(q.graph.find_initializer("w") == nullptr);
  CHECK(init(q, "w_quantized").dtype() == DType::kI8);
  CHECK(init(q, "w_quantized").shape() == Shape{64, 48});
  CHECK(init(q, "w_scale").shape() == Shape{48});
  const ir::Node* dq = find_op(q, "DequantizeLinear");
  CHECK(dq->attr_int("axis", -5) == 1);
  CHECK(dq->find_attr("block_size") == nullptr);
  CHECK(dq->outputs[0] == "w_dequantized");
  CHECK(q.opset_version("") == 17);  // per-channel int8 needs only 13

  const Tensor x = random_tensor({5, 64}, 2, 1.0f);
  CHECK(relative_diff(run_model(q, x), run_model(model, x)) < 0.01);
  REQUIRE(records.size() == 1);
  CHECK(records[0].scheme == "int8 per-channel sym rtn");
  CHECK(records[0].bytes_before == 64 * 48 * 4);
  CHECK(records[0].bytes_after == 64 * 48 + 48 * 4);
  CHECK(records[0].error > 0);
  CHECK(records[0].error < 0.01);
  // The typed result serializes the same records (what --json prints and the manifest embeds).
  passes::QuantizeWeightsResult result;
  result.tensors = records;
  const nlohmann::json j = result.to_json();
  REQUIRE(j["tensors"].size() == 1);
  CHECK(j["tensors"][0]["name"] == "w");
  CHECK(j["tensors"][0]["op"] == "MatMul");
  CHECK(j["tensors"][0]["scheme"] == records[0].scheme);
  CHECK(j["tensors"][0]["bytes_after"] == records[0].bytes_after);
  CHECK(j["tensors"][0]["error"].get<double>() == doctest::Approx(records[0].error));
  CHECK(remarks.stats["quantize-weights"]["weights-quantized"] == 1);
}

TEST_CASE("quantize-weights: MatMul int4 blocks, symmetric and asymmetric") {
  const ir::Model model = matmul_model();
  const Tensor x = random_tensor({5, 64}, 3, 1.0f);
  const std::vector<float> ref = run_model(model, x);

  const ir::Model sym = quantized(model, {{"bits", "4"}});
  CHECK(init(sym, "w_quantized").dtype() == DType::kI4);
  CHECK(init(sym, "w_quantized").nbytes() == 64 * 48 / 2);
  CHECK(init(sym, "w_scale").shape() == Shape{2, 48});  // blocks along K (axis 0)
  const ir::Node* dq = find_op(sym, "DequantizeLinear");
  CHECK(dq->attr_int("axis", -5) == 0);
  CHECK(dq->attr_int("block_size", 0) == 32);
  CHECK(dq->inputs.size() == 2);
  CHECK(sym.opset_version("") == 21);
  CHECK(sym.ir_version >= 10);
  CHECK(relative_diff(run_model(sym, x), ref) < 0.15);

  const ir::Model asym = quantized(model, {{"bits", "4"}, {"sym", "false"}, {"block", "64"}});
  CHECK(init(asym, "w_quantized").dtype() == DType::kU4);
  CHECK(init(asym, "w_zero_point").dtype() == DType::kU4);
  // A block as long as K is one scale per channel: the per-axis form.
  CHECK(init(asym, "w_zero_point").shape() == Shape{48});
  CHECK(find_op(asym, "DequantizeLinear")->find_attr("block_size") == nullptr);
  CHECK(find_op(asym, "DequantizeLinear")->inputs.size() == 3);
  CHECK(relative_diff(run_model(asym, x), ref) < 0.15);

  const ir::Model u8 = quantized(model, {{"sym", "false"}});
  CHECK(init(u8, "w_quantized").dtype() == DType::kU8);
  CHECK(init(u8, "w_zero_point").shape() == Shape{48});
  CHECK(relative_diff(run_model(u8, x), ref) < 0.01);
}

TEST_CASE("quantize-weights: Gemm with transB=1 quantizes along rows") {
  const ir::Model model = make_model({node("Gemm", {"x", "b", "c"}, {"y"}, {int_attr("transB", 1)})}, {-1, 64},
                                     {{"b", random_tensor({48, 64}, 4)}, {"c", random_tensor({48}, 5)}});
  const ir::Model q = quantized(model, {{"bits", "4"}});
  CHECK(init(q, "b_scale").shape() == Shape{48, 2});
  CHECK(find_op(q, "DequantizeLinear")->attr_int("axis", -5) == 1);
  CHECK(q.graph.find_initializer("c") != nullptr);  // the bias stays float
  const Tensor x = random_tensor({3, 64}, 6, 1.0f);
  CHECK(relative_diff(run_model(q, x), run_model(model, x)) < 0.15);
}

TEST_CASE("quantize-weights: Conv per channel and blocked through a Reshape") {
  const ir::Model model = make_model({node("Conv", {"x", "w", "b"}, {"y"}, {int_attr("group", 1)})}, {1, 16, 6, 6},
                                     {{"w", random_tensor({8, 16, 3, 3}, 7)}, {"b", random_tensor({8}, 8)}});
  const Tensor x = random_tensor({1, 16, 6, 6}, 9, 1.0f);
  const std::vector<float> ref = run_model(model, x);

  const ir::Model q8 = quantized(model, {});
  CHECK(init(q8, "w_quantized").shape() == Shape{8, 16, 3, 3});
  CHECK(init(q8, "w_scale").shape() == Shape{8});
  CHECK(find_op(q8, "DequantizeLinear")->attr_int("axis", -5) == 0);
  CHECK(count_ops(q8, "Reshape") == 0);
  CHECK(relative_diff(run_model(q8, x), ref) < 0.01);

  const ir::Model q4 = quantized(model, {{"bits", "4"}});
  CHECK(init(q4, "w_quantized").shape() == Shape{8, 144});
  CHECK(init(q4, "w_scale").shape() == Shape{8, 5});  // ceil(144 / 32)
  CHECK(count_ops(q4, "Reshape") == 1);
  CHECK(relative_diff(run_model(q4, x), ref) < 0.15);
}

TEST_CASE("quantize-weights: an embedding tied to the LM head is quantized once") {
  // ids -> Gather(table) -> e;  Transpose(table) -> MatMul(e, .) -> logits
  const ir::Model model = make_model({node("Gather", {"table", "x"}, {"e"}), node("Transpose", {"table"}, {"t"}),
                                      node("MatMul", {"e", "t"}, {"y"})},
                                     {1, 5}, {{"table", random_tensor({64, 64}, 10)}}, 17, DType::kI64);
  const Tensor ids = Tensor::from_vector<int64_t>({1, 5}, {3, 0, 63, 17, 3});
  const std::vector<float> ref = run_model(model, ids);
  for (const std::string format : {"qdq", "ort"}) {
    CAPTURE(format);
    std::vector<passes::QuantizedTensorRecord> records;
    const ir::Model q = quantized(model, {{"bits", "4"}, {"format", format}}, nullptr, &records);
    CHECK(count_ops(q, "DequantizeLinear") == 1);
    CHECK(count_ops(q, "MatMulNBits") == 0);  // shared with a Gather: QDQ in both formats
    CHECK(find_op(q, "Gather")->inputs[0] == "table_dequantized");
    CHECK(find_op(q, "Transpose")->inputs[0] == "table_dequantized");
    CHECK(init(q, "table_scale").shape() == Shape{64, 2});  // blocks of 32 along each row
    REQUIRE(records.size() == 1);
    CHECK(records[0].op == "Gather+MatMul");
    CHECK(relative_diff(run_model(q, ids), ref) < 0.15);
  }
  // Covering MatMul alone leaves the table float: its Gather reader is not covered.
  passes::Remarks remarks;
  const ir::Model only_matmul = quantized(model, {{"ops", "MatMul"}}, &remarks);
  CHECK(count_ops(only_matmul, "DequantizeLinear") == 0);
  CHECK(remarks.stats["quantize-weights"]["weights-skipped"] == 1);
}

TEST_CASE("quantize-weights: format=ort emits MatMulNBits equal to the QDQ graph") {
  // y = Gemm(MatMul(x, w1), b2^T) + c: both weights become MatMulNBits.
  const ir::Model model = make_model({node("MatMul", {"x", "w1"}, {"h"}),
                                      node("Gemm", {"h", "b2", "c"}, {"y"}, {int_attr("transB", 1)})},
                                     {-1, 64}, {{"w1", random_tensor({64, 96}, 11)}, {"b2", random_tensor({40, 96}, 12)},
                                                {"c", random_tensor({40}, 13)}});
  const Tensor x = random_tensor({4, 64}, 14, 1.0f);
  for (const std::string sym : {"true", "false"}) {
    CAPTURE(sym);
    const ir::Model qdq = quantized(model, {{"bits", "4"}, {"sym", sym}});
    const ir::Model ort = quantized(model, {{"bits", "4"}, {"sym", sym}, {"format", "ort"}});
    CHECK(count_ops(ort, "MatMulNBits") == 2);
    CHECK(count_ops(ort, "DequantizeLinear") == 0);
    CHECK(ort.opset_version("com.microsoft") == 1);
    CHECK(ort.opset_version("") == 17);
    const ir::Node* gemm = nullptr;
    for (const auto& n : ort.graph.nodes)
      if (n.outputs[0] == "y") gemm = &n;
    REQUIRE(gemm != nullptr);
    CHECK(gemm->domain == "com.microsoft");
    CHECK(gemm->attr_int("K", 0) == 96);
    CHECK(gemm->attr_int("N", 0) == 40);
    CHECK(gemm->attr_int("block_size", 0) == 32);
    REQUIRE(gemm->inputs.size() == 6);
    CHECK(gemm->inputs[5] == "c");
    CHECK(init(ort, "b2_nbits").shape() == Shape{40, 3, 16});
    CHECK(init(ort, "w1_nbits").shape() == Shape{96, 2, 16});
    CHECK(init(ort, "w1_scale").shape() == Shape{96 * 2});
    CHECK((sym == "true") == (ort.graph.find_initializer("w1_zero_point") == nullptr));
    // Same dequantized weights: equal in float arithmetic; the interpreter's integer kernels
    // (int8 activations) stay within activation-rounding noise.
    CHECK(relative_diff(run_model(ort, x, false), run_model(qdq, x, false)) < 1e-5);
    CHECK(relative_diff(run_model(ort, x), run_model(qdq, x, false)) < 0.02);
  }
  // 8 bits stay QDQ even in ort format.
  CHECK(count_ops(quantized(model, {{"format", "ort"}}), "MatMulNBits") == 0);
}

TEST_CASE("quantize-weights: Gemm with a non-constant C gets an Add after MatMulNBits") {
  const ir::Model model = make_model({node("Gemm", {"x", "b", "x"}, {"y"}, {int_attr("transB", 1)})}, {-1, 64},
                                     {{"b", random_tensor({64, 64}, 15)}});
  const ir::Model ort = quantized(model, {{"bits", "4"}, {"format", "ort"}, {"block", "64"}});
  CHECK(count_ops(ort, "MatMulNBits") == 1);
  CHECK(count_ops(ort, "Add") == 1);
  const Tensor x = random_tensor({2, 64}, 16, 1.0f);
  CHECK(relative_diff(run_model(ort, x), run_model(model, x)) < 0.15);
}

TEST_CASE("quantize-weights: exclude, min-size and ops filters") {
  const ir::Model model = make_model({node("MatMul", {"x", "keep.weight"}, {"h"}), node("MatMul", {"h", "small"}, {"y"})},
                                     {-1, 64}, {{"keep.weight", random_tensor({64, 48}, 17)}, {"small", random_tensor({48, 16}, 18)}});
  passes::Remarks remarks;
  ir::Model q = quantized(model, {}, &remarks);
  CHECK(count_ops(q, "DequantizeLinear") == 1);  // 48 x 16 = 768 < min-size 1024
  CHECK(q.graph.find_initializer("small") != nullptr);
  q = quantized(model, {{"min-size", "0"}});
  CHECK(count_ops(q, "DequantizeLinear") == 2);
  q = quantized(model, {{"min-size", "0"}, {"exclude", "^keep\\."}});
  CHECK(count_ops(q, "DequantizeLinear") == 1);
  CHECK(q.graph.find_initializer("keep.weight") != nullptr);
  q = quantized(model, {{"min-size", "0"}, {"exclude", "n_y"}});  // a node name
  CHECK(q.graph.find_initializer("small") != nullptr);
  q = quantized(model, {{"ops", "Gemm|Conv"}});
  CHECK(count_ops(q, "DequantizeLinear") == 0);
  q = quantized(model, {{"min-size", "0"}, {"exclude-ops", "MatMul+Conv"}});
  CHECK(count_ops(q, "DequantizeLinear") == 0);
}

TEST_CASE("quantize-weights: option errors and the calibration requirement") {
  const ir::Model model = matmul_model();
  CHECK(run_status(model, {{"bits", "3"}}).code() == StatusCode::kInvalidInput);
  CHECK(run_status(model, {{"bits", "4"}, {"block", "0"}}).code() == StatusCode::kInvalidInput);
  CHECK(run_status(model, {{"block", "48"}}).code() == StatusCode::kInvalidInput);
  CHECK(run_status(model, {{"ops", "MatMul+Relu"}}).code() == StatusCode::kInvalidInput);
  CHECK(run_status(model, {{"ops", "MatMul"}, {"exclude-ops", "MatMul"}}).code() == StatusCode::kInvalidInput);
  CHECK(run_status(model, {{"exclude", "("}}).code() == StatusCode::kInvalidInput);
  CHECK(run_status(model, {{"format", "onnx"}}).code() == StatusCode::kInvalidInput);
  const Status gptq = run_status(model, {{"bits", "4"}, {"method", "gptq"}});
  CHECK(gptq.code() == StatusCode::kInvalidInput);
  CHECK(gptq.message().find("--calib") != std::string::npos);
  // The registry knows the pass and checks option names.
  auto entry = passes::parse_pipeline("quantize-weights{bits=4,block=32,ops=MatMul+Gemm}");
  REQUIRE(entry.ok());
  CHECK(passes::create_pass((*entry)[0]).ok());
  auto unknown = passes::parse_pipeline("quantize-weights{bitz=4}");
  REQUIRE(unknown.ok());
  CHECK(!passes::create_pass((*unknown)[0]).ok());
}

TEST_CASE("quantize-weights: raising the opset rewrites Reduce axes into inputs") {
  ir::Model model = make_model({node("MatMul", {"x", "w"}, {"h"}),
                                node("ReduceMean", {"h"}, {"y"}, {[] {
                                       ir::Attribute a;
                                       a.name = "axes";
                                       a.kind = ir::AttrKind::kInts;
                                       a.ints = {1};
                                       return a;
                                     }()})},
                               {-1, 64}, {{"w", random_tensor({64, 48}, 19)}});
  const Tensor x = random_tensor({3, 64}, 20, 1.0f);
  const ir::Model q = quantized(model, {{"bits", "4"}});
  CHECK(q.opset_version("") == 21);
  const ir::Node* reduce = find_op(q, "ReduceMean");
  CHECK(reduce->find_attr("axes") == nullptr);
  REQUIRE(reduce->inputs.size() == 2);
  CHECK(relative_diff(run_model(q, x), run_model(model, x)) < 0.15);
}
