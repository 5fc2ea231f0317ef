// quantize-activations, QDQ forms: where the pairs go (structure), that outputs stay close
// to float (numerics), options (exclude, ops, act-act, act-type) and errors.
#include <doctest/doctest.h>

#include "tests/unit/passes/activation_test_util.h"

using namespace ember;
using namespace ember::act_test;

TEST_CASE("quantize-activations static: one QDQ pair per activation at MatMul/Gemm inputs, residual stays float") {
  ScratchDir dir("qact_static");
  ir::Model m = block_model();
  const ir::Model original = m;
  auto calib = block_calibration(dir, m);
  passes::Remarks remarks;
  REQUIRE(run_pipeline(m, "quantize-activations{mode=static,method=minmax}", &calib, &remarks).ok());
  CHECK(count_ops(m, "QuantizeLinear") == 2);
  CHECK(count_ops(m, "DequantizeLinear") == 2);
  CHECK(remarks.stats["quantize-activations"]["activations-qdq"] == 2);
  // The MatMul and Gemm read dequantized copies; LayerNorm's output still feeds the residual Add.
  CHECK(find_node(m, "fc1")->inputs[0] != "ln_out");
  CHECK(find_node(m, "fc2")->inputs[0] != "hr");
  CHECK(find_node(m, "residual")->inputs[0] == "ln_out");
  CHECK(find_node(m, "fc1")->inputs[1] == "W1");
  CHECK(m.graph.find_initializer("ln_out_scale"));
  CHECK(m.graph.find_initializer("ln_out_zero_point")->dtype() == DType::kU8);

  const Tensor x = block_input(5, 32);
  const auto before = run(original, {{"x", x}}), after = run(m, {{"x", x}});
  CHECK(relative_error(after[0], before[0]) < 0.03);
  CHECK(relative_error(after[0], before[0]) > 0);  // quantization did happen
  CHECK(relative_error(after[1], before[1]) == 0);  // the residual path is untouched
}

TEST_CASE("quantize-activations static: every method and s8 activations stay close to float") {
  ScratchDir dir("qact_methods");
  const ir::Model original = block_model();
  const Tensor x = block_input(6, 32);
  const auto reference = run(original, {{"x", x}});
  for (std::string method : {"minmax", "percentile", "entropy", "mse"})
    for (std::string type : {"u8", "s8"}) {
      CAPTURE(method);
      CAPTURE(type);
      ir::Model m = original;
      auto calib = block_calibration(dir, m);
      REQUIRE(run_pipeline(m, "quantize-activations{mode=static,method=" + method + ",act-type=" + type + "}", &calib).ok());
      CHECK(m.graph.find_initializer("hr_zero_point")->dtype() == (type == "s8" ? DType::kI8 : DType::kU8));
      CHECK(relative_error(run(m, {{"x", x}})[0], reference[0]) < 0.06);
    }
}

TEST_CASE("quantize-activations: exclude, ops and act-act choose the targets") {
  ScratchDir dir("qact_targets");
  ir::Model m = block_model();
  auto calib = block_calibration(dir, m);
  REQUIRE(run_pipeline(m, "quantize-activations{mode=static,exclude=^fc2$}", &calib).ok());
  CHECK(count_ops(m, "QuantizeLinear") == 1);
  CHECK(find_node(m, "fc2")->inputs[0] == "hr");

  m = block_model();
  REQUIRE(run_pipeline(m, "quantize-activations{mode=dynamic,ops=Gemm}", nullptr).ok());
  CHECK(count_ops(m, "DynamicQuantizeLinear") == 1);
  CHECK(find_node(m, "fc1")->inputs[0] == "ln_out");

  // ops can opt residual Adds in, "unless an option says otherwise".
  m = block_model();
  REQUIRE(run_pipeline(m, "quantize-activations{mode=static,ops=Add}", &calib).ok());
  CHECK(count_ops(m, "QuantizeLinear") == 2);  // ln_out and x
  CHECK(find_node(m, "residual")->inputs[0] != "ln_out");

  // Two activation inputs (attention-like): only with act-act.
  ir::Model att = empty_model(17);
  att.graph.inputs.push_back(tensor_info("q", DType::kF32, {2, 3}));
  att.graph.inputs.push_back(tensor_info("k", DType::kF32, {3, 2}));
  att.graph.nodes.push_back(node("MatMul", "scores", {"q", "k"}, {"s"}));
  att.graph.outputs.push_back(tensor_info("s", DType::kF32, {2, 2}));
  ir::Model plain = att;
  REQUIRE(run_pipeline(plain, "quantize-activations{mode=dynamic}", nullptr).ok());
  CHECK(count_ops(plain, "DynamicQuantizeLinear") == 0);
  REQUIRE(run_pipeline(att, "quantize-activations{mode=dynamic,act-act=true}", nullptr).ok());
  CHECK(count_ops(att, "DynamicQuantizeLinear") == 2);
}

TEST_CASE("quantize-activations static: a value read by two linears gets one shared pair") {
  ScratchDir dir("qact_shared");
  ir::Model m = block_model();
  Rng rng(3);
  add_initializer(m, "W3", random_matrix(rng, kChannels, 5, 0.2));
  m.graph.nodes.push_back(node("MatMul", "fc3", {"ln_out", "W3"}, {"z"}));
  m.graph.outputs.push_back(tensor_info("z", DType::kF32, {-1, 5}));
  auto calib = block_calibration(dir, m);
  REQUIRE(run_pipeline(m, "quantize-activations{mode=static}", &calib).ok());
  CHECK(count_ops(m, "QuantizeLinear") == 2);
  CHECK(find_node(m, "fc1")->inputs[0] == find_node(m, "fc3")->inputs[0]);
}

TEST_CASE("quantize-activations static: weights from quantize-weights are left alone") {
  ScratchDir dir("qact_dqweights");
  ir::Model m = block_model();
  dequantized_weight(m, "W1");
  const ir::Model original = m;
  auto calib = block_calibration(dir, m);
  REQUIRE(run_pipeline(m, "quantize-activations{mode=static}", &calib).ok());
  CHECK(count_ops(m, "DequantizeLinear") == 3);  // the weight's plus two activation pairs
  CHECK(find_node(m, "fc1")->inputs[1] == "W1");
  const Tensor x = block_input(8, 16);
  CHECK(relative_error(run(m, {{"x", x}})[0], run(original, {{"x", x}})[0]) < 0.03);
}

TEST_CASE("quantize-activations dynamic QDQ: DynamicQuantizeLinear -> DequantizeLinear at each input") {
  ir::Model m = block_model();
  const ir::Model original = m;
  REQUIRE(run_pipeline(m, "quantize-activations", nullptr).ok());  // mode=dynamic, format=qdq by default
  CHECK(count_ops(m, "DynamicQuantizeLinear") == 2);
  CHECK(count_ops(m, "DequantizeLinear") == 2);
  CHECK(count_ops(m, "QuantizeLinear") == 0);
  const Tensor x = block_input(9, 32);
  const double err = relative_error(run(m, {{"x", x}})[0], run(original, {{"x", x}})[0]);
  CHECK(err < 0.05);
  CHECK(err > 0);
}

TEST_CASE("quantize-activations: a model the interpreter cannot run") {
  ScratchDir dir("qact_unsupported");
  ir::Model m = block_model();
  m.graph.nodes.push_back(node("MysteryOp", "mystery", {"y"}, {"y2"}));
  m.graph.outputs.push_back(tensor_info("y2", DType::kF32, {-1, 4}));
  auto calib = block_calibration(dir, block_model());
  ir::Model dynamic = m;
  CHECK(run_pipeline(dynamic, "quantize-activations{mode=dynamic}", nullptr).ok());  // needs no calibration
  CHECK(count_ops(dynamic, "DynamicQuantizeLinear") == 2);
  Status s = run_pipeline(m, "quantize-activations{mode=static}", &calib);
  CHECK(s.code() == StatusCode::kUnsupported);
  CHECK(s.message().find("MysteryOp") != std::string::npos);
}

TEST_CASE("quantize-activations: option and precondition errors") {
  ir::Model m = block_model();
  CHECK(run_pipeline(m, "quantize-activations{mode=static}", nullptr).code() == StatusCode::kInvalidInput);
  CHECK(run_pipeline(m, "quantize-activations{mode=static,format=ort}", nullptr).code() == StatusCode::kInvalidInput);
  CHECK(run_pipeline(m, "quantize-activations{mode=sometimes}", nullptr).code() == StatusCode::kInvalidInput);
  CHECK(run_pipeline(m, "quantize-activations{exclude=(unclosed}", nullptr).code() == StatusCode::kInvalidInput);
  CHECK(run_pipeline(m, "quantize-activations{method=kl}", nullptr).code() == StatusCode::kInvalidInput);
  CHECK(run_pipeline(m, "quantize-activations{granularity=row}", nullptr).code() == StatusCode::kInvalidInput);
  CHECK(run_pipeline(m, "quantize-activations{act-type=s8}", nullptr).code() == StatusCode::kInvalidInput);
  CHECK(run_pipeline(m, "quantize-activations{smoothquant=0.5}", nullptr).code() == StatusCode::kInvalidInput);
  CHECK(count_ops(m, "DynamicQuantizeLinear") == 0);  // nothing changed on errors
  ir::Model old = block_model(9);
  CHECK(run_pipeline(old, "quantize-activations", nullptr).code() == StatusCode::kUnsupported);
}

TEST_CASE("quantize-activations static: Conv input of an NCHW model") {
  ScratchDir dir("qact_conv");
  Rng rng(4);
  ir::Model m = empty_model(17);
  m.graph.inputs.push_back(tensor_info("img", DType::kF32, {-1, 2, 5, 5}));
  add_initializer(m, "K", Tensor::from_vector<float>({3, 2, 3, 3}, normals(rng, 54, 0.3)));
  add_initializer(m, "Kb", Tensor::from_vector<float>({3}, {0.1f, 0.2f, -0.1f}));
  m.graph.nodes.push_back(node("Conv", "conv", {"img", "K", "Kb"}, {"feat"}));
  m.graph.outputs.push_back(tensor_info("feat", DType::kF32, {-1, 3, 3, 3}));
  const ir::Model original = m;
  const std::string path = dir.file("img.npy");
  REQUIRE(formats::write_npy(path, Tensor::from_vector<float>({16, 2, 5, 5}, normals(rng, 800))).ok());
  auto set = calibration::CalibrationSet::open(path, m.graph.feed_inputs());
  REQUIRE(set.ok());
  REQUIRE(run_pipeline(m, "quantize-activations{mode=static,method=mse}", &*set).ok());
  CHECK(count_ops(m, "QuantizeLinear") == 1);
  CHECK(find_node(m, "conv")->inputs[0] != "img");
  const Tensor x = Tensor::from_vector<float>({4, 2, 5, 5}, normals(rng, 200));
  CHECK(relative_error(run(m, {{"img", x}})[0], run(original, {{"img", x}})[0]) < 0.03);
}
