// smooth-quant: LayerNorm -> linear groups are found (through Reshapes), rescaling keeps the
// function, balances the channels, and groups that cannot be rescaled are left alone.
#include <doctest/doctest.h>

#include <algorithm>

#include "passes/quantize/smoothquant.h"
#include "tests/unit/passes/activation_test_util.h"

using namespace ember;
using namespace ember::act_test;

namespace {

// The block model without the residual, with a Reshape between LayerNorm and the MatMul
// and a second linear (Gemm, transB = 1) reading the LayerNorm output directly.
ir::Model smoothable_model() {
  ir::Model m = block_model();
  std::erase_if(m.graph.nodes, [](const ir::Node& n) { return n.name == "residual"; });
  m.graph.outputs.pop_back();
  add_initializer(m, "shape", Tensor::from_vector<int64_t>({2}, {-1, kChannels}));
  for (auto& n : m.graph.nodes)
    if (n.name == "fc1") n.inputs[0] = "ln_2d";
  m.graph.nodes.insert(m.graph.nodes.begin() + 1, node("Reshape", "flatten", {"ln_out", "shape"}, {"ln_2d"}));
  Rng rng(5);
  add_initializer(m, "Wt", random_matrix(rng, 3, kChannels, 0.3));
  m.graph.nodes.push_back(node("Gemm", "side", {"ln_out", "Wt"}, {"side_out"}, {int_attr("transB", 1)}));
  m.graph.outputs.push_back(tensor_info("side_out", DType::kF32, {-1, 3}));
  return m;
}

// max|channel| / min|channel| of the LayerNorm output over some rows.
double channel_imbalance(const ir::Model& m) {
  ir::Model probe = m;
  probe.graph.outputs.push_back(tensor_info("ln_out", DType::kF32, {-1, kChannels}));
  const Tensor out = run(probe, {{"x", block_input(3, 64)}}).back();
  std::vector<double> amax(kChannels, 0.0);
  for (int64_t i = 0; i < out.numel(); ++i)
    amax[static_cast<size_t>(i % kChannels)] = std::max(amax[static_cast<size_t>(i % kChannels)], static_cast<double>(std::fabs(out.data<float>()[i])));
  return *std::max_element(amax.begin(), amax.end()) / *std::min_element(amax.begin(), amax.end());
}

}  // namespace

TEST_CASE("smooth-quant: finds LayerNorm groups through Reshape, keeps the function, balances channels") {
  ScratchDir dir("smooth_ok");
  ir::Model m = smoothable_model();
  const auto groups = passes::find_smooth_groups(m.graph);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].activation == "ln_out");
  CHECK(groups[0].linears.size() == 2);

  const ir::Model original = m;
  auto calib = block_calibration(dir, m);
  passes::Remarks remarks;
  REQUIRE(run_pipeline(m, "smooth-quant{alpha=0.5}", &calib, &remarks).ok());
  CHECK(remarks.stats["smooth-quant"]["groups-smoothed"] == 1);
  CHECK(m.graph.find_initializer("gamma")->data<float>()[2] < 25.0f);  // the outlier channel shrank
  const Tensor x = block_input(4, 16);
  const auto before = run(original, {{"x", x}}), after = run(m, {{"x", x}});
  CHECK(relative_error(after[0], before[0]) < 1e-5);
  CHECK(relative_error(after[1], before[1]) < 1e-5);
  CHECK(channel_imbalance(m) < channel_imbalance(original) / 3);
}

TEST_CASE("smooth-quant: a LayerNorm output read by a residual Add is not rescaled") {
  ScratchDir dir("smooth_residual");
  ir::Model m = block_model();  // ln_out also feeds Add(ln_out, x)
  CHECK(passes::find_smooth_groups(m.graph).empty());
  auto calib = block_calibration(dir, m);
  const Tensor gamma = m.graph.find_initializer("gamma")->clone();
  REQUIRE(run_pipeline(m, "smooth-quant", &calib).ok());
  CHECK(m.graph.find_initializer("gamma")->same_content(gamma));
}

TEST_CASE("smooth-quant: weights read outside the group are copied, not changed") {
  ScratchDir dir("smooth_shared");
  ir::Model m = smoothable_model();
  m.graph.inputs.push_back(tensor_info("other", DType::kF32, {-1, kChannels}));
  m.graph.nodes.push_back(node("MatMul", "outside", {"other", "W1"}, {"other_out"}));
  m.graph.outputs.push_back(tensor_info("other_out", DType::kF32, {-1, 16}));
  const Tensor w1 = m.graph.find_initializer("W1")->clone();
  const ir::Model original = m;
  const std::string path = dir.file("calib.npz");
  REQUIRE(formats::write_npz(path, {{"x", block_input(1, 32)}, {"other", block_input(2, 32)}}).ok());
  auto set = calibration::CalibrationSet::open(path, m.graph.feed_inputs());
  REQUIRE(set.ok());
  REQUIRE(run_pipeline(m, "smooth-quant", &*set).ok());
  CHECK(m.graph.find_initializer("W1")->same_content(w1));
  CHECK(find_node(m, "fc1")->inputs[1] != "W1");
  const std::map<std::string, Tensor> feeds = {{"x", block_input(6, 8)}, {"other", block_input(7, 8)}};
  const auto before = run(original, feeds), after = run(m, feeds);
  for (size_t i = 0; i < before.size(); ++i) CHECK(relative_error(after[i], before[i]) < 1e-5);
}

TEST_CASE("smooth-quant: needs calibration data and a valid alpha") {
  ir::Model m = smoothable_model();
  CHECK(run_pipeline(m, "smooth-quant", nullptr).code() == StatusCode::kInvalidInput);
  ScratchDir dir("smooth_alpha");
  auto calib = block_calibration(dir, m);
  CHECK(run_pipeline(m, "smooth-quant{alpha=1.5}", &calib).code() == StatusCode::kInvalidInput);
}
