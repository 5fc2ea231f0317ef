// quantize-activations{mode=dynamic,format=ort}: DynamicQuantizeLinear + MatMulInteger (per
// tensor) and the per-row int8 form, from float or DequantizeLinear weights; Gemm with
// transB, alpha and beta; fallbacks to QDQ where the integer form does not apply.
#include <doctest/doctest.h>

#include "tests/unit/passes/activation_test_util.h"

using namespace ember;
using namespace ember::act_test;

namespace {

const ir::Node* node_with_output(const ir::Model& m, const std::string& out) {
  for (const auto& n : m.graph.nodes)
    for (const auto& o : n.outputs)
      if (o == out) return &n;
  return nullptr;
}

}  // namespace

TEST_CASE("quantize-activations ort: float weights become int8 MatMulInteger with per-column scales") {
  ir::Model m = block_model();
  const ir::Model original = m;
  passes::Remarks remarks;
  REQUIRE(run_pipeline(m, "quantize-activations{format=ort,granularity=tensor}", nullptr, &remarks).ok());
  CHECK(count_ops(m, "MatMul") == 0);
  CHECK(count_ops(m, "Gemm") == 0);
  CHECK(count_ops(m, "MatMulInteger") == 2);
  CHECK(count_ops(m, "DynamicQuantizeLinear") == 2);
  CHECK(count_ops(m, "Cast") == 2);
  CHECK(remarks.stats["quantize-activations"]["integer-linears"] == 2);
  // The Gemm's bias is added after the rescale, and its output keeps its name.
  const ir::Node* last = node_with_output(m, "y");
  REQUIRE(last);
  CHECK(last->op_type == "Add");
  CHECK(last->inputs[1] == "b2");
  // Float weights were replaced by int8 copies and are gone.
  CHECK_FALSE(m.graph.find_initializer("W1"));
  CHECK(m.graph.find_initializer("W1_quantized")->dtype() == DType::kI8);
  const Tensor x = block_input(10, 32);
  const double err = relative_error(run(m, {{"x", x}})[0], run(original, {{"x", x}})[0]);
  CHECK(err < 0.05);
  CHECK(err > 0);
}

TEST_CASE("quantize-activations ort: consumes DequantizeLinear weights from quantize-weights") {
  ir::Model m = block_model();
  dequantized_weight(m, "W1");
  dequantized_weight(m, "W2");
  const ir::Model weights_only = m;
  REQUIRE(run_pipeline(m, "quantize-activations{format=ort,granularity=tensor}", nullptr).ok());
  CHECK(count_ops(m, "DequantizeLinear") == 0);  // the weight DQs were folded into MatMulInteger
  CHECK(count_ops(m, "MatMulInteger") == 2);
  const ir::Node* mmi = nullptr;
  for (const auto& n : m.graph.nodes)
    if (n.op_type == "MatMulInteger" && n.inputs[1] == "W1_q") mmi = &n;
  REQUIRE(mmi);                    // reads the same int8 data
  CHECK(mmi->inputs.size() == 3);  // symmetric weights: no weight zero point
  CHECK_FALSE(m.graph.find_initializer("W1_scale"));  // folded into the combined scale
  CHECK(m.graph.find_initializer("h_weight_scale")->shape() == Shape{16});
  const Tensor x = block_input(11, 32);
  CHECK(relative_error(run(m, {{"x", x}})[0], run(weights_only, {{"x", x}})[0]) < 0.05);
}

TEST_CASE("quantize-activations ort: Gemm with transB, alpha and beta") {
  Rng rng(12);
  ir::Model m = empty_model(17);
  m.graph.inputs.push_back(tensor_info("a", DType::kF32, {-1, 6}));
  add_initializer(m, "Wt", random_matrix(rng, 5, 6, 0.5));  // [N, K]
  add_initializer(m, "c", Tensor::from_vector<float>({5}, {1, 2, 3, 4, 5}));
  ir::Attribute alpha;
  alpha.name = "alpha";
  alpha.kind = ir::AttrKind::kFloat;
  alpha.f = 0.5f;
  ir::Attribute beta = alpha;
  beta.name = "beta";
  beta.f = 2.0f;
  m.graph.nodes.push_back(node("Gemm", "g", {"a", "Wt", "c"}, {"out"}, {int_attr("transB", 1), alpha, beta}));
  m.graph.outputs.push_back(tensor_info("out", DType::kF32, {-1, 5}));
  ir::Model dq = m;
  dequantized_weight(dq, "Wt", 0);  // per output channel of a transposed weight
  for (ir::Model* model : {&m, &dq}) {
    const ir::Model original = *model;
    REQUIRE(run_pipeline(*model, "quantize-activations{format=ort}", nullptr).ok());
    CHECK(count_ops(*model, "Gemm") == 0);
    CHECK(count_ops(*model, "MatMulInteger") == 1);
    const Tensor x = Tensor::from_vector<float>({7, 6}, normals(rng, 42));
    CHECK(relative_error(run(*model, {{"a", x}})[0], run(original, {{"a", x}})[0]) < 0.03);
  }
}

TEST_CASE("quantize-activations ort: per-row int8 activations") {
  for (int64_t opset : {17, 18}) {
    CAPTURE(opset);
    ir::Model m = block_model(opset);
    const ir::Model original = m;
    passes::Remarks remarks;
    REQUIRE(run_pipeline(m, "quantize-activations{format=ort}", nullptr, &remarks).ok());  // row is the default
    CHECK(count_ops(m, "MatMulInteger") == 2);
    CHECK(count_ops(m, "DynamicQuantizeLinear") == 0);
    CHECK(count_ops(m, "ReduceMax") == 2);
    CHECK(count_ops(m, "Round") == 2);
    CHECK(remarks.stats["quantize-activations"]["rows-quantized-linears"] == 2);
    for (const auto& n : m.graph.nodes) {
      if (n.op_type == "ReduceMax") CHECK(n.inputs.size() == (opset >= 18 ? 2u : 1u));
      if (n.op_type != "MatMulInteger") continue;
      // u8 x u8 around a shared zero point 128: weights are the int8 ones shifted by 128.
      REQUIRE(n.inputs.size() == 4);
      CHECK(m.graph.find_initializer(n.inputs[1])->dtype() == DType::kU8);
      CHECK(m.graph.find_initializer(n.inputs[2])->data<uint8_t>()[0] == 128);
      CHECK(n.inputs[2] == n.inputs[3]);
    }
    CHECK_FALSE(m.graph.find_initializer("W1_quantized"));  // only the u8 copy remains
    const Tensor x = block_input(12, 32);
    const double err = relative_error(run(m, {{"x", x}})[0], run(original, {{"x", x}})[0]);
    CHECK(err < 0.05);
    CHECK(err > 0);
  }
}

TEST_CASE("quantize-activations ort: one DynamicQuantizeLinear per shared input, and Conv falls back to QDQ") {
  Rng rng(13);
  ir::Model m = block_model();
  add_initializer(m, "W3", random_matrix(rng, kChannels, 3, 0.2));
  m.graph.nodes.push_back(node("MatMul", "fc3", {"ln_out", "W3"}, {"z"}));
  m.graph.outputs.push_back(tensor_info("z", DType::kF32, {-1, 3}));
  REQUIRE(run_pipeline(m, "quantize-activations{format=ort,granularity=tensor}", nullptr).ok());
  CHECK(count_ops(m, "MatMulInteger") == 3);
  CHECK(count_ops(m, "DynamicQuantizeLinear") == 2);  // ln_out once, hr once

  ir::Model conv = empty_model(17);
  conv.graph.inputs.push_back(tensor_info("img", DType::kF32, {1, 1, 4, 4}));
  add_initializer(conv, "K", Tensor::from_vector<float>({2, 1, 3, 3}, normals(rng, 18, 0.3)));
  conv.graph.nodes.push_back(node("Conv", "conv", {"img", "K"}, {"feat"}));
  conv.graph.outputs.push_back(tensor_info("feat", DType::kF32, {1, 2, 2, 2}));
  const ir::Model original = conv;
  REQUIRE(run_pipeline(conv, "quantize-activations{format=ort}", nullptr).ok());
  CHECK(count_ops(conv, "Conv") == 1);
  CHECK(count_ops(conv, "DynamicQuantizeLinear") == 1);
  CHECK(count_ops(conv, "DequantizeLinear") == 1);
  const Tensor x = Tensor::from_vector<float>({1, 1, 4, 4}, normals(rng, 16));
  CHECK(relative_error(run(conv, {{"img", x}})[0], run(original, {{"img", x}})[0]) < 0.05);
}

TEST_CASE("quantize-activations ort: a linear whose weight has another form stays float") {
  // A tied embedding used as LM head: MatMul(h, Transpose(E)).
  Rng rng(14);
  ir::Model m = empty_model(17);
  m.graph.inputs.push_back(tensor_info("h", DType::kF32, {-1, 4}));
  add_initializer(m, "E", random_matrix(rng, 6, 4, 0.5));
  m.graph.nodes.push_back(node("Transpose", "tied", {"E"}, {"Et"}));
  m.graph.nodes.push_back(node("MatMul", "lm_head", {"h", "Et"}, {"logits"}));
  m.graph.outputs.push_back(tensor_info("logits", DType::kF32, {-1, 6}));
  passes::Remarks remarks;
  REQUIRE(run_pipeline(m, "quantize-activations{format=ort}", nullptr, &remarks).ok());
  CHECK(count_ops(m, "MatMul") == 1);
  CHECK(count_ops(m, "DynamicQuantizeLinear") == 0);
  CHECK(find_node(m, "lm_head")->inputs[0] == "h");
  bool noted = false;
  for (const auto& e : remarks.entries) noted |= e.message.find("'lm_head' float") != std::string::npos;
  CHECK(noted);
}

TEST_CASE("quantize-activations ort: a weight shared by two linears is prepared once") {
  Rng rng(15);
  ir::Model m = empty_model(17);
  m.graph.inputs.push_back(tensor_info("a", DType::kF32, {-1, 6}));
  m.graph.inputs.push_back(tensor_info("b", DType::kF32, {-1, 6}));
  add_initializer(m, "Wt", random_matrix(rng, 5, 6, 0.5));
  dequantized_weight(m, "Wt", 0);
  m.graph.nodes.push_back(node("Gemm", "g1", {"a", "Wt"}, {"o1"}, {int_attr("transB", 1)}));
  m.graph.nodes.push_back(node("Gemm", "g2", {"b", "Wt"}, {"o2"}, {int_attr("transB", 1)}));
  m.graph.outputs.push_back(tensor_info("o1", DType::kF32, {-1, 5}));
  m.graph.outputs.push_back(tensor_info("o2", DType::kF32, {-1, 5}));
  const ir::Model original = m;
  REQUIRE(run_pipeline(m, "quantize-activations{format=ort}", nullptr).ok());
  CHECK(count_ops(m, "MatMulInteger") == 2);
  int transposed = 0;
  for (const auto& [name, t] : m.graph.initializers) transposed += name.find("_kn") != std::string::npos;
  CHECK(transposed == 1);
  CHECK_FALSE(m.graph.find_initializer("Wt_q"));  // only the [K, N] copy remains
  const std::map<std::string, Tensor> feeds = {{"a", Tensor::from_vector<float>({3, 6}, normals(rng, 18))},
                                               {"b", Tensor::from_vector<float>({3, 6}, normals(rng, 18))}};
  const auto before = run(original, feeds), after = run(m, feeds);
  CHECK(relative_error(after[0], before[0]) < 0.03);
  CHECK(relative_error(after[1], before[1]) < 0.03);
}
