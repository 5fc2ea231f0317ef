// prune-structured{params=R}: one parameter budget for FFN neurons and attention heads
// (joint_selection.h, split_search.h): the greedy knapsack by score per parameter with its
// floors, and on kjv-gpt2-tiny the measured split, its budget, determinism and bad options.
#include <doctest/doctest.h>

#include "formats/onnx_load.h"
#include "passes/prune/joint_selection.h"
#include "tests/unit/passes/activation_test_util.h"

using namespace ember;

namespace {

int64_t parameters(const ir::Model& m) {
  int64_t n = 0;
  for (const auto& [name, t] : m.graph.initializers) n += t.numel();
  return n;
}

}  // namespace

TEST_CASE("prune joint: the budget takes the least loss per parameter, keeps each layer's floor, stops at the target") {
  const std::vector<double> neurons = {1, 2, 3, 4}, heads = {10, 20};
  // Per parameter: neurons 1, 2, 3, 4 (1 each); heads 2.5, 5 (4 each). Total 4 + 8 = 12 parameters.
  const std::vector<passes::prune::BudgetLayer> layers = {{&neurons, 1}, {&heads, 4}};
  CHECK(passes::prune::select_by_params(layers, 0.25, 0.1) == std::vector<int64_t>{2, 1});  // 1, 2 then the head: 6 >= 3
  CHECK(passes::prune::select_by_params(layers, 0.1, 0.1) == std::vector<int64_t>{2, 0});   // 2 >= 1.2
  // The floor: each layer keeps at least one unit, whatever the budget asks.
  CHECK(passes::prune::select_by_params(layers, 0.99, 0.1) == std::vector<int64_t>{3, 1});
  CHECK(passes::prune::select_by_params(layers, 0, 0.1) == std::vector<int64_t>{0, 0});
}

TEST_CASE("prune joint: kjv-gpt2-tiny loses the budget's parameters in neurons and heads, the same way twice") {
  const std::string samples = std::string(EMBER_SOURCE_DIR) + "/samples";
  auto model = formats::load_onnx(samples + "/kjv-gpt2-tiny.onnx");
  REQUIRE(model.ok());
  calibration::CalibrationOptions co;
  co.batch = 1;  // the dynamo export's value_info is specialised to batch 1
  co.limit = 8;
  auto calib = calibration::CalibrationSet::open(samples + "/kjv-lm-calib.npy", model->graph.feed_inputs(), co);
  REQUIRE(calib.ok());
  const std::string pipeline =
      "constants-to-initializers,prune-structured{params=0.2,score=magnitude,head-score=magnitude,recovery=lsq},dce";
  ir::Model a = *model, b = *model;
  passes::Remarks remarks;
  REQUIRE(act_test::run_pipeline(a, pipeline, &*calib, &remarks).ok());
  REQUIRE(act_test::run_pipeline(b, pipeline, &*calib).ok());
  // 2 FFNs of 512 neurons (257 parameters each) and 2 blocks of 4 heads (16480 each): 395008.
  const double prunable = 2 * 512 * 257 + 8 * 16480;
  const int64_t before = parameters(*model), removed = before - parameters(a);
  INFO("removed ", removed, " of ", prunable);
  CHECK(static_cast<double>(removed) >= 0.2 * prunable);
  CHECK(static_cast<double>(removed) < 0.2 * prunable + 16480 + 257);
  int splits = 0;
  for (const auto& e : remarks.entries) splits += e.message.find("params split with") != std::string::npos;
  CHECK(splits >= 2);  // the grid of head counts was measured
  CHECK(remarks.stats["prune-structured"]["neurons-removed"] + remarks.stats["prune-structured"]["heads-removed"] > 0);
  for (const auto& [name, t] : a.graph.initializers) {
    INFO(name);
    REQUIRE(b.graph.find_initializer(name));
    CHECK(t.same_content(*b.graph.find_initializer(name)));
  }
  for (const char* probe : {"kind", "layer"}) {  // scores rescaled by probes, then ranked per parameter
    INFO(probe);
    ir::Model m = *model;
    const std::string p = "constants-to-initializers,prune-structured{params=0.2,probe=" + std::string(probe) +
                          ",score=magnitude,head-score=magnitude,recovery=none},dce";
    REQUIRE(act_test::run_pipeline(m, p, &*calib).ok());
    CHECK(static_cast<double>(before - parameters(m)) >= 0.2 * prunable);
  }
  {  // min-keep=0.75: each FFN gives at most 128 neurons (65792 parameters in all, under the 79002 asked),
     // each block one head: a split without heads cannot meet the budget and must not win for its lower KL
    ir::Model m = *model;
    const std::string p = "constants-to-initializers,prune-structured{params=0.2,min-keep=0.75,score=magnitude,"
                          "head-score=magnitude,recovery=none},dce";
    REQUIRE(act_test::run_pipeline(m, p, &*calib).ok());
    CHECK(static_cast<double>(before - parameters(m)) >= 0.2 * prunable);
  }
  for (const char* bad : {"prune-structured{params=1}", "prune-structured{params=-0.1}", "prune-structured{params=0.2,probe=best}",
                          "prune-structured{params=0.2,probe-batches=-1}"}) {
    INFO(bad);
    ir::Model m = *model;
    CHECK(act_test::run_pipeline(m, bad, &*calib).code() == StatusCode::kInvalidInput);
  }
}
