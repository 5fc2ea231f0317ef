// prune-structured{channels=R}: convolution channel groups on built graphs (BN, residual Add,
// depthwise, Flatten -> Gemm; Concat in test_prune_concat.cc), joint masks, refusals, the
// physical shrink, equivalence with the removed channels zeroed, recovery, kept-count rounding, and digits-cnn.
#include <doctest/doctest.h>

#include <filesystem>

#include "calibration/evaluation.h"
#include "formats/onnx_load.h"
#include "passes/prune/conv_groups.h"
#include "passes/prune/kept_rounding.h"
#include "passes/prune/model_macs.h"
#include "passes/prune/prune_structured.h"
#include "tests/unit/passes/prune_channels_test_util.h"

using namespace ember;
using namespace ember::chan_test;
using namespace ember::passes;
using test::floats_of;
using test::ints_attr;

namespace {

// x [N, 2, 6, 6] -> c1 (6, 3x3, bias) -> BN -> Relu -> MaxPool 2 -> c2 (4, 3x3, no bias) -> y
ir::Model bn_model() {
  Rng rng(3);
  ir::Model m = image_model(2);
  conv(m, rng, "c1", "x", "h", 6, 2, 3, true);
  add_initializer(m, "bn.s", Tensor::from_vector<float>({6}, {1.0f, 0.5f, 2.0f, 1.5f, 0.8f, 1.2f}));
  add_initializer(m, "bn.b", Tensor::from_vector<float>({6}, {0.1f, -0.2f, 0.3f, 0.0f, 0.5f, -0.1f}));
  add_initializer(m, "bn.m", Tensor::from_vector<float>({6}, {0.0f, 0.1f, -0.1f, 0.2f, 0.0f, 0.05f}));
  add_initializer(m, "bn.v", Tensor::from_vector<float>({6}, {1.0f, 0.5f, 2.0f, 1.0f, 0.7f, 1.3f}));
  m.graph.nodes.push_back(node("BatchNormalization", "bn", {"h", "bn.s", "bn.b", "bn.m", "bn.v"}, {"hb"}));
  m.graph.nodes.push_back(node("Relu", "act", {"hb"}, {"a"}));
  m.graph.nodes.push_back(node("MaxPool", "pool", {"a"}, {"p"}, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})}));
  conv(m, rng, "c2", "p", "y", 4, 6, 3, false);
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 4, 3, 3}));
  return m;
}

// x [N, 2, 6, 6] -> c0 (4, 1x1) -> r; r -> c1 (4, 3x3) -> Relu -> a; s = r + a; s -> c2 (3, 1x1) -> y
ir::Model residual_model() {
  Rng rng(5);
  ir::Model m = image_model(2);
  conv(m, rng, "c0", "x", "r", 4, 2, 1, false);
  conv(m, rng, "c1", "r", "h", 4, 4, 3, false);
  m.graph.nodes.push_back(node("Relu", "act", {"h"}, {"a"}));
  m.graph.nodes.push_back(node("Add", "residual", {"r", "a"}, {"s"}));
  conv(m, rng, "c2", "s", "y", 3, 4, 1, true);
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 3, kSide, kSide}));
  return m;
}

// x -> c1 (6, 1x1) -> Relu -> dw (depthwise 3x3, group 6) -> Relu -> c2 (4, 1x1) -> y
ir::Model depthwise_model() {
  Rng rng(9);
  ir::Model m = image_model(2);
  conv(m, rng, "c1", "x", "h", 6, 2, 1, false);
  m.graph.nodes.push_back(node("Relu", "act1", {"h"}, {"a"}));
  conv(m, rng, "dw", "a", "d", 6, 1, 3, false, 6);
  m.graph.nodes.push_back(node("Relu", "act2", {"d"}, {"e"}));
  conv(m, rng, "c2", "e", "y", 4, 6, 1, true);
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 4, kSide, kSide}));
  return m;
}

// x -> c1 (4, 3x3) -> Relu -> Flatten -> Gemm (W [5, 144], transB) -> y
ir::Model flatten_model() {
  Rng rng(13);
  ir::Model m = image_model(1);
  conv(m, rng, "c1", "x", "h", 4, 1, 3, false);
  m.graph.nodes.push_back(node("Relu", "act", {"h"}, {"a"}));
  m.graph.nodes.push_back(node("Flatten", "flat", {"a"}, {"f"}, {int_attr("axis", 1)}));
  add_initializer(m, "fc.w", random_matrix(rng, 5, 4 * kSide * kSide, 0.2));
  add_initializer(m, "fc.b", Tensor::from_vector<float>({5}, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}));
  m.graph.nodes.push_back(node("Gemm", "fc", {"f", "fc.w", "fc.b"}, {"y"}, {int_attr("transB", 1)}));
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 5}));
  return m;
}

// Squeeze-excitation: x -> c1 (4, 1x1) -> Relu -> a; a -> GlobalAveragePool -> se1 (2) -> Relu ->
// se2 (4, bias) -> Sigmoid -> s; Mul(a, s) -> c2 (3, 1x1) -> y
ir::Model excitation_model() {
  Rng rng(27);
  ir::Model m = image_model(2);
  conv(m, rng, "c1", "x", "h", 4, 2, 1, false);
  m.graph.nodes.push_back(node("Relu", "act", {"h"}, {"a"}));
  m.graph.nodes.push_back(node("GlobalAveragePool", "squeeze", {"a"}, {"g"}));
  conv(m, rng, "se1", "g", "e1", 2, 4, 1, true);
  m.graph.nodes.push_back(node("Relu", "se_act", {"e1"}, {"e2"}));
  conv(m, rng, "se2", "e2", "e3", 4, 2, 1, true);
  m.graph.nodes.push_back(node("Sigmoid", "gate", {"e3"}, {"s"}));
  m.graph.nodes.push_back(node("Mul", "excite", {"a", "s"}, {"z"}));
  conv(m, rng, "c2", "z", "y", 3, 4, 1, true);
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 3, kSide, kSide}));
  return m;
}

// `original` with the rows of `producers` zeroed for the channels that the pruned model dropped
// from `first` (matched by their values): equal to the pruned model when the path maps 0 to 0
// (no biases, no BN shift).
ir::Model zeroed_rows(const ir::Model& original, const ir::Model& p, const std::vector<std::string>& producers) {
  const std::string& first = producers[0];
  const std::vector<float> w = floats_of(*original.graph.find_initializer(first)), kept = floats_of(*p.graph.find_initializer(first));
  const int64_t rows = shape_of(original, first)[0], per = int64_t(w.size()) / rows;
  std::vector<int64_t> removed;
  for (int64_t r = 0; r < rows; ++r) {
    bool found = false;
    for (size_t j = 0; (j + 1) * size_t(per) <= kept.size() && !found; ++j)
      found = std::equal(w.begin() + r * per, w.begin() + (r + 1) * per, kept.begin() + long(j) * per);
    if (!found) removed.push_back(r);
  }
  ir::Model ref = original;
  for (const auto& name : producers) {
    std::vector<float> v = floats_of(*original.graph.find_initializer(name));
    const int64_t n = int64_t(v.size()) / shape_of(original, name)[0];
    for (int64_t r : removed) std::fill(v.begin() + r * n, v.begin() + (r + 1) * n, 0.0f);
    ref.graph.set_initializer(name, Tensor::from_vector<float>(shape_of(original, name), v));
  }
  return ref;
}

}  // namespace

TEST_CASE("channel groups: Conv -> BN -> Relu -> MaxPool -> Conv, shrunk with the BN parameters") {
  const ir::Model m = bn_model();
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 1);
  CHECK(found.groups[0].name == "c1");
  CHECK(found.groups[0].constants.size() == 4);
  CHECK(found.groups[0].consumers.size() == 1);
  CHECK(output_error(pruned(m, 2, "channels=0,score=magnitude"), m, 2) == 0.0);
  const ir::Model p = pruned(m, 2, "channels=0.5,score=magnitude,recovery=none");
  CHECK(shape_of(p, "c1.w") == Shape{3, 2, 3, 3});
  CHECK(shape_of(p, "c1.b") == Shape{3});
  CHECK(shape_of(p, "bn.v") == Shape{3});
  CHECK(shape_of(p, "c2.w") == Shape{4, 3, 3, 3});
  // Equal to the original with c2's columns of the removed channels zeroed.
  ir::Model ref = m;
  std::vector<float> w2 = floats_of(*m.graph.find_initializer("c2.w"));
  const std::vector<float> b1 = floats_of(*m.graph.find_initializer("c1.b")), kept_b1 = floats_of(*p.graph.find_initializer("c1.b"));
  for (int64_t c = 0; c < 6; ++c)
    if (std::find(kept_b1.begin(), kept_b1.end(), b1[size_t(c)]) == kept_b1.end())
      for (int64_t o = 0; o < 4; ++o) std::fill(w2.begin() + (o * 6 + c) * 9, w2.begin() + (o * 6 + c + 1) * 9, 0.0f);
  ref.graph.set_initializer("c2.w", Tensor::from_vector<float>({4, 6, 3, 3}, w2));
  CHECK(output_error(p, ref, 2) < 1e-5);
  // Bias compensation gives c2 a bias and moves it closer to the original; the refit closer still.
  const ir::Model bias = pruned(m, 2, "channels=0.5,score=magnitude,recovery=bias");
  const ir::Model lsq = pruned(m, 2, "channels=0.5,score=magnitude,recovery=lsq");
  CHECK(find_node(bias, "c2")->inputs.size() == 3);
  CHECK(output_error(bias, m, 2) < output_error(p, m, 2));
  CHECK(output_error(lsq, m, 2) < output_error(bias, m, 2));
  // Exporters may leave node names empty: groups are labelled by op and index.
  ir::Model unnamed = m;
  for (auto& n : unnamed.graph.nodes) n.name.clear();
  CHECK(groups_of(unnamed, 2).groups[0].name == "Conv#0");
  CHECK(output_error(pruned(unnamed, 2, "channels=0.5,score=magnitude,recovery=lsq"), lsq, 2) < 1e-6);
}

TEST_CASE("channel groups: a residual Add ties its producers into one mask") {
  const ir::Model m = residual_model();
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 1);  // c0 and c1 write the stream; c1 and c2 read it
  CHECK(found.groups[0].name == "c0+c1");
  CHECK(found.groups[0].consumers.size() == 2);
  const ir::Model p = pruned(m, 2, "channels=0.5,score=magnitude,recovery=none");
  CHECK(shape_of(p, "c0.w") == Shape{2, 2, 1, 1});
  CHECK(shape_of(p, "c1.w") == Shape{2, 2, 3, 3});
  CHECK(shape_of(p, "c2.w") == Shape{3, 2, 1, 1});
  CHECK(output_error(p, zeroed_rows(m, p, {"c0.w", "c1.w"}), 2) < 1e-5);
  const ir::Model lsq = pruned(m, 2, "channels=0.5,score=magnitude,recovery=lsq");
  CHECK(output_error(lsq, m, 2) < output_error(p, m, 2));
}

TEST_CASE("channel groups: a squeeze-excitation Mul joins the excitation Conv to the group") {
  const ir::Model m = excitation_model();
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 2);  // c1+se2 (consumers se1 and c2), and se1 -> se2
  CHECK(found.groups[0].name == "c1+se2");
  CHECK(found.groups[0].consumers.size() == 2);
  CHECK(found.groups[1].name == "se1");
  const ir::Model p = pruned(m, 2, "channel-ratios=c1:0.5,score=magnitude,recovery=none");
  CHECK(shape_of(p, "c1.w") == Shape{2, 2, 1, 1});
  CHECK(shape_of(p, "se2.w") == Shape{2, 2, 1, 1});
  CHECK(shape_of(p, "se2.b") == Shape{2});
  CHECK(shape_of(p, "se1.w") == Shape{2, 2, 1, 1});
  CHECK(shape_of(p, "c2.w") == Shape{3, 2, 1, 1});
  CHECK(output_error(p, zeroed_rows(m, p, {"c1.w"}), 2) < 1e-5);  // a removed channel is 0 before and after the gate
}

TEST_CASE("channel groups: a depthwise Conv is pruned with its producer, group updated") {
  const ir::Model m = depthwise_model();
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 1);
  CHECK(found.groups[0].depthwise.size() == 1);
  const ir::Model p = pruned(m, 2, "channels=0.5,score=magnitude,recovery=none");
  CHECK(shape_of(p, "dw.w") == Shape{3, 1, 3, 3});
  CHECK(find_node(p, "dw")->attr_int("group", 0) == 3);
  CHECK(shape_of(p, "c2.w") == Shape{4, 3, 1, 1});
  CHECK(output_error(p, zeroed_rows(m, p, {"c1.w"}), 2) < 1e-5);
}

TEST_CASE("channel groups: Flatten -> Gemm loses each channel's H*W features") {
  const ir::Model m = flatten_model();
  const auto found = groups_of(m, 1);
  REQUIRE(found.groups.size() == 1);
  REQUIRE(found.groups[0].consumers.size() == 1);
  CHECK(found.groups[0].consumers[0].linear);
  CHECK(found.groups[0].consumers[0].spatial == kSide * kSide);
  const ir::Model p = pruned(m, 1, "channels=0.5,score=magnitude,recovery=none");
  CHECK(shape_of(p, "c1.w") == Shape{2, 1, 3, 3});
  CHECK(shape_of(p, "fc.w") == Shape{5, 2 * kSide * kSide});
  CHECK(output_error(p, zeroed_rows(m, p, {"c1.w"}), 1) < 1e-5);
}

TEST_CASE("channel groups: graph outputs, grouped Convs and shared weights are left alone, named") {
  ir::Model out = bn_model();  // the activation is also a graph output
  out.graph.outputs.push_back(tensor_info("a", DType::kF32, {-1, 6, kSide, kSide}));
  const auto o = groups_of(out, 2);
  CHECK(o.groups.empty());
  REQUIRE(o.skipped.size() == 2);  // c1's activation and c2's output
  CHECK(o.skipped[0].layer == "c1");
  CHECK(o.skipped[0].reason.find("value 'a' is a graph output") != std::string::npos);

  ir::Model grouped = depthwise_model();  // group 2 over 6 channels: not depthwise
  Rng rng(1);
  grouped.graph.set_initializer("dw.w", Tensor::from_vector<float>({6, 3, 3, 3}, normals(rng, 162, 0.3)));
  for (auto& n : grouped.graph.nodes)
    if (n.name == "dw")
      for (auto& a : n.attributes)
        if (a.name == "group") a.i = 2;
  const auto g = groups_of(grouped, 2);
  REQUIRE(!g.skipped.empty());
  CHECK(g.skipped[0].reason.find("grouped Conv") != std::string::npos);
}

TEST_CASE("channel recovery: the refit is exact when a removed channel is a multiple of a kept one") {
  // c1 1x1 -> Relu -> dw -> Relu -> c2 1x1 with channel 1 = 0.2 * channel 0 in c1 and dw (so
  // 0.04 times channel 0 after both Relus, which are positively homogeneous).
  ir::Model m = depthwise_model();
  std::vector<float> w1 = floats_of(*m.graph.find_initializer("c1.w")), dw = floats_of(*m.graph.find_initializer("dw.w"));
  std::vector<float> w2 = floats_of(*m.graph.find_initializer("c2.w"));
  for (int i = 0; i < 2; ++i) w1[size_t(2 + i)] = 0.2f * w1[size_t(i)];
  for (int i = 0; i < 9; ++i) dw[size_t(9 + i)] = 0.2f * dw[size_t(i)];
  m.graph.set_initializer("c1.w", Tensor::from_vector<float>({6, 2, 1, 1}, w1));
  m.graph.set_initializer("dw.w", Tensor::from_vector<float>({6, 1, 3, 3}, dw));
  m.graph.set_initializer("c2.w", Tensor::from_vector<float>({4, 6, 1, 1}, w2));
  const ir::Model none = pruned(m, 2, "channels=0.17,score=magnitude,ranking=uniform,recovery=none");
  const ir::Model lsq = pruned(m, 2, "channels=0.17,score=magnitude,ranking=uniform,recovery=lsq,damp=1e-7");
  REQUIRE(shape_of(lsq, "c1.w") == Shape{5, 2, 1, 1});
  CHECK(floats_of(*lsq.graph.find_initializer("c1.w"))[2] != doctest::Approx(w1[2]));  // channel 1 went
  CHECK(output_error(none, m, 2) > 1e-3);
  CHECK(output_error(lsq, m, 2) < 1e-4);
}

TEST_CASE("channel pruning: bad options, rounding to a multiple") {
  ScratchDir dir("prune_channels_bad");
  ir::Model m = bn_model();
  auto calib = image_calibration(dir, m, 2);
  for (const char* bad : {"channels=1", "channels=-0.1", "channels=0.5,multiple=0", "channels=0.5,score=obs"}) {
    const Status s = run_pipeline(m, std::string("prune-structured{") + bad + "}", &calib);
    CHECK_MESSAGE(s.code() == StatusCode::kInvalidInput, bad);
  }
  CHECK(shape_of(m, "c1.w") == Shape{6, 2, 3, 3});  // left whole
  const ir::Model p = pruned(m, 2, "channels=0.4,score=magnitude,multiple=4");  // 6 - 2 = 4 kept: a multiple already
  CHECK(shape_of(p, "c1.w")[0] == 4);
  prune::NeuronSelection sel{{{0, 1, 2}}, {0.3}};
  prune::round_kept_to_multiple(sel, {{0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 1.0}}, 4);  // 7 kept -> 8
  CHECK(sel.removed[0] == std::vector<int64_t>{0, 1});
  prune::round_kept_to_multiple(sel, {{0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 1.0}}, 3);  // 8 kept -> 9
  CHECK(sel.removed[0] == std::vector<int64_t>{0});
}

TEST_CASE("channel pruning: digits-cnn at 50% of its conv channels keeps its accuracy") {
  const std::string shared = EMBER_SHARED_DIR, dir = shared + "/models", data = shared + "/data";
  if (!std::filesystem::exists(dir + "/digits-cnn.onnx")) {
    MESSAGE("SKIP: " << dir << "/digits-cnn.onnx is absent");
    return;
  }
  auto model = formats::load_onnx(dir + "/digits-cnn.onnx");
  REQUIRE(model.ok());
  calibration::CalibrationOptions o;
  o.batch = 32;
  auto calib = calibration::CalibrationSet::open(data + "/digits-calib.npz", model->graph.feed_inputs(), o);
  REQUIRE(calib.ok());
  // Whole-model MACs per image: c1 16*9*64 + c2 32*144*64 + f1 512*64 + f2 64*10.
  auto macs = prune::model_macs(*model, calib->batch(0));
  REQUIRE(macs.ok());
  CHECK(*macs == 9216 + 294912 + 32768 + 640);
  ir::Model m = *model;
  passes::Remarks remarks;
  REQUIRE(run_pipeline(m, "prune-structured{channels=0.5,score=taylor,recovery=lsq}", &*calib, &remarks).ok());
  CHECK(m.graph.find_initializer("c1.weight")->dim(0) + m.graph.find_initializer("c2.weight")->dim(0) == 24);
  CHECK(m.graph.find_initializer("f1.weight")->dim(1) == m.graph.find_initializer("c2.weight")->dim(0) * 16);
  auto interp = runtime::Interpreter::create(m);
  REQUIRE(interp.ok());
  calibration::EvalOptions eo;
  eo.task = calibration::EvalTask::kClassify;
  auto eval = calibration::evaluate(**interp, data + "/digits-eval.npz", eo);
  REQUIRE(eval.ok());
  CHECK(eval->value >= 0.975);
  // lsq-seq: the second group's statistics measured again after the first group is pruned.
  ir::Model seq = *model;
  REQUIRE(run_pipeline(seq, "prune-structured{channels=0.5,score=taylor,recovery=lsq-seq}", &*calib).ok());
  auto seq_interp = runtime::Interpreter::create(seq);
  REQUIRE(seq_interp.ok());
  auto seq_eval = calibration::evaluate(**seq_interp, data + "/digits-eval.npz", eo);
  REQUIRE(seq_eval.ok());
  CHECK(seq_eval->value >= 0.975);
  CHECK(floats_of(*seq.graph.find_initializer("f1.weight")) != floats_of(*m.graph.find_initializer("f1.weight")));
  // Per-group ratios: /c2/Conv loses 75%, /c1/Conv follows channels=0.25 alone.
  ir::Model per = *model;
  REQUIRE(run_pipeline(per, "prune-structured{channels=0.25,channel-ratios=/c2/Conv:0.75,score=magnitude}", &*calib).ok());
  CHECK(per.graph.find_initializer("c2.weight")->dim(0) == 8);
  CHECK(per.graph.find_initializer("c1.weight")->dim(0) == 12);
  ir::Model bad = *model;
  const Status s = run_pipeline(bad, "prune-structured{channel-ratios=/c9/Conv:0.5,score=magnitude}", &*calib);
  CHECK(s.message().find("'/c9/Conv', which is no prunable channel group") != std::string::npos);
  CHECK(run_pipeline(bad, "prune-structured{channel-ratios=/c2/Conv:1.5}", &*calib).code() == StatusCode::kInvalidInput);
}
