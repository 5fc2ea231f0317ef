// quantize-weights on weights the exporter put elsewhere than a plain initializer input:
// read through Identity, Cast (f16 -> f32) or a 4-D Transpose, and inside If bodies (as the
// body's own initializer, or as an outer-scope value). Structure (what was folded, moved,
// quantized) and numerical closeness to the float graph; the original model is left alone.
#include <doctest/doctest.h>

#include "passes/analysis/layer_model.h"
#include "passes/cleanup/constants_to_initializers.h"
#include "passes/quantize/activation_quantizer.h"
#include "passes/quantize/weight_quantizer.h"
#include "tests/unit/passes/quantize_test_util.h"

using namespace ember;
using namespace ember::qw_test;

namespace {

ir::Model quantized(const ir::Model& model, std::map<std::string, std::string> options,
                    std::vector<passes::QuantizedTensorRecord>* records = nullptr) {
  ir::Model m = model;
  passes::WeightQuantization pass(passes::PassOptions("quantize-weights", std::move(options)));
  passes::Remarks remarks;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  const Status s = pass.run(m, ctx);
  if (!s.ok()) FAIL(s.message());
  REQUIRE(ir::verify_model(m).ok());
  if (records) *records = pass.records();
  return m;
}

const Tensor& init(const ir::Model& m, const std::string& name) {
  const Tensor* t = m.graph.find_initializer(name);
  REQUIRE(t != nullptr);
  return *t;
}

ir::Attribute graph_attr(const std::string& name, ir::Graph g) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kGraph;
  a.g = std::make_shared<ir::Graph>(std::move(g));
  return a;
}

// An If body without inputs computing `out` = MatMul(x, weight) (x and, unless given here,
// the weight come from the enclosing graph).
ir::Graph matmul_body(const std::string& weight, const std::string& out, const Tensor* own_weight) {
  ir::Graph g;
  g.name = out + "_body";
  g.nodes = {node("MatMul", {"x", weight}, {out})};
  g.outputs.push_back(test::value_info(out, DType::kF32));
  if (own_weight) g.set_initializer(weight, *own_weight);
  return g;
}

// y = If(cond, then: x @ w_outer (outer-scope weight), else: x @ w_inner (the body's own)).
ir::Model if_model() {
  const Tensor inner = random_tensor({64, 32}, 12);
  ir::Model m = make_model({node("If", {"cond"}, {"y"},
                                 {graph_attr("then_branch", matmul_body("w_outer", "yt", nullptr)),
                                  graph_attr("else_branch", matmul_body("w_inner", "ye", &inner))})},
                           {-1, 64}, {{"w_outer", random_tensor({64, 32}, 11)}});
  m.graph.inputs.push_back(test::value_info("cond", DType::kBool, {}, ""));
  return m;
}

std::vector<float> run_if(const ir::Model& model, const Tensor& x, bool cond) {
  REQUIRE(ir::verify_model(model).ok());
  auto interp = runtime::Interpreter::create(model, {});
  if (!interp.ok()) FAIL(interp.status().message());
  auto out = (*interp)->run({{"x", x}, {"cond", Tensor::scalar<bool>(cond)}});
  if (!out.ok()) FAIL(out.status().message());
  return test::values_of<float>((*out)[0]);
}

const ir::Graph& branch(const ir::Model& m, const std::string& name) {
  const ir::Attribute* a = m.graph.nodes[0].find_attr(name);
  REQUIRE(a != nullptr);
  return *a->g;
}

}  // namespace

TEST_CASE("quantize-weights: a weight read through Identity is quantized, the Identity folded") {
  const ir::Model model = make_model({node("Identity", {"w"}, {"w_view"}), node("MatMul", {"x", "w_view"}, {"y"})},
                                     {-1, 64}, {{"w", random_tensor({64, 48}, 1)}});
  std::vector<passes::QuantizedTensorRecord> records;
  const ir::Model q = quantized(model, {}, &records);
  REQUIRE(records.size() == 1);
  CHECK(records[0].name == "w");
  CHECK(count_ops(q, "Identity") == 0);
  CHECK(count_ops(q, "DequantizeLinear") == 1);
  const Tensor x = random_tensor({3, 64}, 2, 1.0f);
  CHECK(relative_diff(run_model(q, x), run_model(model, x)) < 0.02);
  CHECK(count_ops(model, "Identity") == 1);  // the input model is untouched
}

TEST_CASE("quantize-weights: an f16 weight cast to f32 is quantized from its exact f32 values") {
  const std::vector<float> values = test::random_floats(64 * 48, 3);
  const ir::Model model = make_model({node("Cast", {"w16"}, {"w32"}, {int_attr("to", 1)}), node("MatMul", {"x", "w32"}, {"y"})},
                                     {-1, 64}, {{"w16", test::half_tensor({64, 48}, values)}});
  std::vector<passes::QuantizedTensorRecord> records;
  const ir::Model q = quantized(model, {{"bits", "4"}, {"block", "32"}}, &records);
  REQUIRE(records.size() == 1);
  CHECK(records[0].name == "w32");
  CHECK(count_ops(q, "Cast") == 0);
  CHECK(q.graph.find_initializer("w16") == nullptr);
  const Tensor x = random_tensor({2, 64}, 4, 1.0f);
  CHECK(relative_diff(run_model(q, x), run_model(model, x)) < 0.15);
}

TEST_CASE("quantize-weights: a Conv weight stored HWIO behind a Transpose (tf2onnx) is quantized") {
  // W stored [kh, kw, C, M] = [3, 3, 4, 8]; perm [3, 2, 0, 1] gives the Conv layout [M, C, kh, kw].
  const ir::Model model = make_model(
      {node("Transpose", {"w_hwio"}, {"w_oihw"}, {test::ints_attr("perm", {3, 2, 0, 1})}),
       node("Conv", {"x", "w_oihw"}, {"y"}, {test::ints_attr("pads", {1, 1, 1, 1})})},
      {1, 4, 6, 6}, {{"w_hwio", random_tensor({3, 3, 4, 8}, 5)}});
  std::vector<passes::QuantizedTensorRecord> records;
  const ir::Model q = quantized(model, {{"min-size", "0"}}, &records);
  REQUIRE(records.size() == 1);
  CHECK(count_ops(q, "Transpose") == 0);
  CHECK(init(q, "w_oihw_quantized").shape() == Shape{8, 4, 3, 3});
  const Tensor x = random_tensor({1, 4, 6, 6}, 6, 1.0f);
  CHECK(relative_diff(run_model(q, x), run_model(model, x)) < 0.02);
}

TEST_CASE("quantize-weights: a 2-D Transpose read by MatMul stays the layer model's transposed MatMul") {
  // The tied LM head's form (a Gather may read the same table): no transposed copy is made.
  const ir::Model model = make_model({node("Transpose", {"emb"}, {"emb_t"}, {test::ints_attr("perm", {1, 0})}),
                                      node("MatMul", {"x", "emb_t"}, {"y"})},
                                     {-1, 16}, {{"emb", random_tensor({40, 16}, 7)}});
  std::vector<passes::QuantizedTensorRecord> records;
  const ir::Model q = quantized(model, {{"min-size", "0"}}, &records);
  REQUIRE(records.size() == 1);
  CHECK(records[0].name == "emb");
  CHECK(q.graph.find_initializer("emb_t") == nullptr);  // not materialised as a second weight
}

TEST_CASE("quantize-weights: weights in If bodies, the body's own and an outer-scope one, are quantized") {
  const ir::Model model = if_model();
  std::vector<passes::QuantizedTensorRecord> records;
  const ir::Model q = quantized(model, {{"bits", "4"}, {"block", "32"}}, &records);
  REQUIRE(records.size() == 2);
  CHECK(q.graph.find_initializer("w_outer") == nullptr);  // moved into the then body, then quantized
  CHECK(branch(q, "then_branch").find_initializer("w_outer_quantized") != nullptr);
  CHECK(branch(q, "else_branch").find_initializer("w_inner_quantized") != nullptr);
  CHECK(branch(q, "else_branch").find_initializer("w_inner") == nullptr);
  CHECK(q.opset_version("") >= 21);
  const Tensor x = random_tensor({2, 64}, 8, 1.0f);
  for (bool cond : {true, false}) CHECK(relative_diff(run_if(q, x, cond), run_if(model, x, cond)) < 0.15);
  // The input model's bodies are shared with the copy only until the pass detaches them.
  CHECK(model.graph.find_initializer("w_outer") != nullptr);
  CHECK(branch(model, "else_branch").find_initializer("w_inner") != nullptr);
  CHECK(count_ops(model, "DequantizeLinear") == 0);
}

TEST_CASE("quantize-weights: an outer weight read by two bodies stays where it is, float") {
  ir::Model model = make_model({node("If", {"cond"}, {"y"},
                                     {graph_attr("then_branch", matmul_body("w", "yt", nullptr)),
                                      graph_attr("else_branch", matmul_body("w", "ye", nullptr))})},
                               {-1, 64}, {{"w", random_tensor({64, 32}, 9)}});
  model.graph.inputs.push_back(test::value_info("cond", DType::kBool, {}, ""));
  passes::WeightQuantization pass(passes::PassOptions("quantize-weights", {}));
  passes::Remarks remarks;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  ir::Model m = model;
  REQUIRE(pass.run(m, ctx).ok());
  CHECK(pass.records().empty());
  CHECK(m.graph.find_initializer("w") != nullptr);
}

TEST_CASE("constants-to-initializers: Constants inside an If body become the body's initializers") {
  ir::Graph then_body = matmul_body("wc", "yt", nullptr);
  then_body.nodes.insert(then_body.nodes.begin(),
                         node("Constant", {}, {"wc"}, {test::tensor_attr("value", random_tensor({64, 32}, 10))}));
  const Tensor inner = random_tensor({64, 32}, 12);
  ir::Model model = make_model({node("If", {"cond"}, {"y"},
                                     {graph_attr("then_branch", std::move(then_body)),
                                      graph_attr("else_branch", matmul_body("w_inner", "ye", &inner))})},
                               {-1, 64}, {});
  model.graph.inputs.push_back(test::value_info("cond", DType::kBool, {}, ""));
  ir::Model m = model;
  passes::Remarks remarks;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  REQUIRE(passes::ConstantsToInitializers({}).run(m, ctx).ok());
  CHECK(branch(m, "then_branch").find_initializer("wc") != nullptr);
  CHECK(branch(m, "then_branch").nodes.size() == 1);
  CHECK(branch(model, "then_branch").nodes.size() == 2);  // the original's body is its own
  const Tensor x = random_tensor({2, 64}, 13, 1.0f);
  CHECK(run_if(m, x, true) == run_if(model, x, true));
}

TEST_CASE("layer model: a weight read through a Cast to f32 is a layer, scored, and quantize-weights folds the Cast") {
  const ir::Model model = make_model({node("Cast", {"w"}, {"w32"}, {int_attr("to", 1)}), node("MatMul", {"x", "w32"}, {"y"})},
                                     {-1, 64}, {{"w", random_tensor({64, 48}, 14)}});
  auto layers = passes::analysis::build_layer_model(model.graph);
  REQUIRE(layers.ok());
  const passes::analysis::Layer* layer = layers->find("w");
  REQUIRE(layer != nullptr);
  CHECK(layer->op == "MatMul");
  CHECK(layer->channels == 48);
  CHECK(layer->blocker == "read through a Cast");
  std::vector<passes::QuantizedTensorRecord> records;
  quantized(model, {}, &records);
  CHECK(records.size() == 1);
}

TEST_CASE("quantize-weights: an If body reading an outer weight through an Identity gets it quantized") {
  ir::Graph then_body = matmul_body("w_view", "yt", nullptr);
  then_body.nodes.insert(then_body.nodes.begin(), node("Identity", {"w"}, {"w_view"}));
  const Tensor inner = random_tensor({64, 32}, 16);
  ir::Model model = make_model({node("If", {"cond"}, {"y"},
                                     {graph_attr("then_branch", std::move(then_body)),
                                      graph_attr("else_branch", matmul_body("w_inner", "ye", &inner))})},
                               {-1, 64}, {{"w", random_tensor({64, 32}, 15)}});
  model.graph.inputs.push_back(test::value_info("cond", DType::kBool, {}, ""));
  std::vector<passes::QuantizedTensorRecord> records;
  const ir::Model q = quantized(model, {}, &records);
  REQUIRE(records.size() == 2);
  CHECK(branch(q, "then_branch").find_initializer("w_quantized") != nullptr);
  const Tensor x = random_tensor({2, 64}, 17, 1.0f);
  CHECK(relative_diff(run_if(q, x, true), run_if(model, x, true)) < 0.02);
}

TEST_CASE("quantize-activations: mode=dynamic also quantizes the inputs of If bodies' MatMuls") {
  // Each body holds its weight (as quantize-weights leaves them: outer weights moved in).
  const Tensor a = random_tensor({64, 32}, 19), b = random_tensor({64, 32}, 20);
  ir::Model model = make_model({node("If", {"cond"}, {"y"},
                                     {graph_attr("then_branch", matmul_body("wa", "yt", &a)),
                                      graph_attr("else_branch", matmul_body("wb", "ye", &b))})},
                               {-1, 64}, {});
  model.graph.inputs.push_back(test::value_info("cond", DType::kBool, {}, ""));
  ir::Model m = model;
  passes::QuantizeActivations pass(passes::PassOptions("quantize-activations", {{"mode", "dynamic"}}));
  passes::Remarks remarks;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  REQUIRE(pass.run(m, ctx).ok());
  REQUIRE(ir::verify_model(m).ok());
  size_t dynamic = 0;
  ir::for_each_graph(m.graph, [&](ir::Graph& g) {
    for (const auto& n : g.nodes) dynamic += n.op_type == "DynamicQuantizeLinear";
  });
  CHECK(dynamic == 2);  // x in each branch
  CHECK(count_ops(model, "DynamicQuantizeLinear") == 0);
  size_t in_original = 0;
  ir::for_each_graph(const_cast<ir::Graph&>(model.graph), [&](ir::Graph& g) { in_original += g.nodes.size(); });
  CHECK(in_original == 3);  // If + one MatMul per branch: the input model's bodies are untouched
  const Tensor x = random_tensor({2, 64}, 18, 1.0f);
  for (bool cond : {true, false}) CHECK(relative_diff(run_if(m, x, cond), run_if(model, x, cond)) < 0.03);
}
