// Energy and latency targets of the search (passes/search/resource_cost.h, target.h,
// latency_table.h): the allocation never exceeds a hard target, a target below the all-cheapest
// prediction is refused, the energy costs are the manifest's estimate, and the latency table is
// measured once and then reused (also through its file form).
#include <doctest/doctest.h>

#include <random>

#include "passes/pass_manager.h"
#include "passes/report/layer_stats.h"
#include "passes/search/allocation.h"
#include "passes/search/latency_table.h"
#include "passes/search/layer_timing.h"
#include "passes/search/realize.h"
#include "passes/search/resource_cost.h"
#include "passes/search/target.h"
#include "runtime/energy_model.h"
#include "tests/unit/test_support.h"

namespace ember::resource_target_test {
namespace {

using passes::LayerAction;
using passes::SearchTarget;
using passes::search::ResourceCosts;
using passes::search::SearchLayer;

// X [8, 64] -> MatMul W1 [64, 128] -> Relu -> MatMul W2 [128, 64] -> Y.
ir::Model two_layer_model() {
  ir::Model m = test::empty_model(17);
  m.graph.inputs.push_back(test::value_info("X", DType::kF32, {8, 64}, ""));
  m.graph.outputs.push_back(test::value_info("Y", DType::kF32));
  m.graph.set_initializer("W1", test::normal_tensor({64, 128}, 1, 0.1f));
  m.graph.set_initializer("W2", test::normal_tensor({128, 64}, 2, 0.1f));
  m.graph.nodes.push_back(test::node("MatMul", "mm1", {"X", "W1"}, {"h"}));
  m.graph.nodes.push_back(test::node("Relu", "relu", {"h"}, {"r"}));
  m.graph.nodes.push_back(test::node("MatMul", "mm2", {"r", "W2"}, {"Y"}));
  return m;
}

std::map<std::string, Tensor> feeds() { return {{"X", test::normal_tensor({8, 64}, 3)}}; }

std::vector<SearchLayer> layers_of(const ir::Model& m) {
  passes::SearchRecipe recipe;
  recipe.actions = {LayerAction{}, LayerAction{LayerAction::Kind::kInt8, 0, "rtn", 0}, LayerAction{LayerAction::Kind::kInt4, 32, "rtn", 0}};
  auto layers = passes::search::search_layers(m, recipe, {});
  REQUIRE(layers.ok());
  REQUIRE(layers->size() == 2);
  return *layers;
}

// Items of the allocation as the search builds them for an energy or latency target.
std::vector<std::vector<passes::search::Option>> items_of(SearchTarget::Kind kind, const ResourceCosts& costs) {
  std::vector<std::vector<passes::search::Option>> items;
  for (size_t i = 0; i < costs.cost.size(); ++i) {
    std::vector<passes::search::Option> options;
    for (size_t a = 0; a < costs.cost[i].size(); ++a)
      options.push_back({passes::search::resource_units(kind, costs.cost[i][a]), 1.0 / double(a + 1)});
    items.push_back(std::move(options));
  }
  return items;
}

}  // namespace

TEST_CASE("resource targets: the allocation's predicted value never exceeds a hard latency or energy target") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> seconds(1e-5, 3e-3);
  for (int trial = 0; trial < 40; ++trial) {
    const SearchTarget::Kind kind = trial % 2 ? SearchTarget::Kind::kLatencySeconds : SearchTarget::Kind::kEnergyJoules;
    std::vector<SearchLayer> layers(3 + size_t(trial % 5));
    ResourceCosts costs;
    costs.fixed = seconds(rng) * 3;
    double cheapest = costs.fixed, dearest = costs.fixed;
    for (auto& layer : layers) {
      layer.allowed = {LayerAction{}, LayerAction{LayerAction::Kind::kInt8, 0, "rtn", 0}, LayerAction{LayerAction::Kind::kInt4, 32, "rtn", 0}};
      std::vector<double> row = {seconds(rng), seconds(rng), seconds(rng)};
      cheapest += *std::min_element(row.begin(), row.end());
      dearest += *std::max_element(row.begin(), row.end());
      costs.cost.push_back(row);
    }
    for (double t : {0.0, 0.1, 0.37, 0.5, 0.93, 1.0}) {
      const double value = cheapest + t * (dearest - cheapest) + 1e-7;  // each cost is rounded up to 1 ns or 1 pJ
      const SearchTarget target{kind, value};
      auto capacity = passes::search::resource_capacity(target, layers, costs);
      REQUIRE(capacity.ok());
      auto allocation = passes::search::allocate_under_cost(items_of(kind, costs), *capacity);
      REQUIRE(allocation.ok());
      std::vector<LayerAction> actions;
      for (size_t i = 0; i < layers.size(); ++i) actions.push_back(layers[i].allowed[allocation->choice[i]]);
      CHECK(costs.predicted(layers, actions) <= value);
    }
    // Below what every layer's cheapest action predicts: refused, saying so (exit 2 in the CLI).
    auto refused = passes::search::resource_capacity(SearchTarget{kind, cheapest * 0.98}, layers, costs);
    REQUIRE(!refused.ok());
    CHECK(refused.status().code() == StatusCode::kInvalidInput);
    CHECK(refused.status().message().find("cheapest allowed action") != std::string::npos);
  }
}

TEST_CASE("resource targets: negative, zero and NaN targets are invalid input") {
  for (double v : {-1.0, 0.0, std::nan("")}) {
    CHECK(passes::search::check_target({SearchTarget::Kind::kLatencySeconds, v}).code() == StatusCode::kInvalidInput);
    CHECK(passes::search::check_target({SearchTarget::Kind::kEnergyJoules, v}).code() == StatusCode::kInvalidInput);
  }
  CHECK(passes::search::check_target({SearchTarget::Kind::kLatencySeconds, 0.012}).ok());
  CHECK(passes::search::check_target({SearchTarget::Kind::kEnergyJoules, 0.002}).ok());
  // A huge target is no limit, and no overflow of the integer units.
  std::vector<SearchLayer> layers(1);
  layers[0].allowed = {LayerAction{}};
  ResourceCosts costs;
  costs.cost = {{0.5}};
  auto capacity = passes::search::resource_capacity({SearchTarget::Kind::kEnergyJoules, 1e300}, layers, costs);
  REQUIRE(capacity.ok());
  CHECK(*capacity > passes::search::resource_units(SearchTarget::Kind::kEnergyJoules, 0.5));
  CHECK(*capacity <= int64_t(1e17));
}

TEST_CASE("energy costs: FP32 is the manifest's estimate, an INT8 layer reads its bytes and does int8 MACs") {
  const ir::Model m = two_layer_model();
  const auto layers = layers_of(m);
  auto timer = passes::search::LayerTimer::create(m, feeds(), layers, 1);
  REQUIRE(timer.ok());
  auto stats = passes::measure_layers(m, m, feeds());
  REQUIRE(stats.ok());
  auto energy = passes::search::energy_costs(**timer, layers, *stats);
  REQUIRE(energy.ok());
  const std::vector<LayerAction> fp32(layers.size());
  CHECK(energy->predicted(layers, fp32) == doctest::Approx(stats->fp32_microjoules * 1e-6));
  // W1 under INT8 per channel: 64*128 codes + 128 f32 scales read; 8*128 outputs of 64 MACs each.
  const runtime::EnergyModel em;
  const double expected = ((64.0 * 128 + 4 * 128) * em.dram_pj_per_byte + 8.0 * 128 * 64 * em.int8_mac_pj) * 1e-12;
  CHECK(energy->action_cost(layers, 0, layers[0].allowed[1]) == doctest::Approx(expected));
  // The prediction of a quantized model agrees with the manifest's estimate of the real file.
  std::vector<LayerAction> int8(layers.size(), layers[0].allowed[1]);
  auto pipeline = passes::search::realize_actions(layers, int8);
  REQUIRE(pipeline.ok());
  auto manager = passes::PassManager::from_entries(*pipeline);
  REQUIRE(manager.ok());
  ir::Model q = m;
  passes::AnalysisManager analyses;
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks, nullptr);
  REQUIRE(manager->run(q, ctx).ok());
  auto qstats = passes::measure_layers(m, q, feeds());
  REQUIRE(qstats.ok());
  CHECK(energy->predicted(layers, int8) == doctest::Approx(qstats->compressed_microjoules * 1e-6).epsilon(0.01));
}

TEST_CASE("latency table: every entry is measured once, then reused, also from its file form") {
  const ir::Model m = two_layer_model();
  const auto layers = layers_of(m);
  auto timer = passes::search::LayerTimer::create(m, feeds(), layers, 1);
  REQUIRE(timer.ok());
  passes::LatencyTable table;
  auto first = passes::search::latency_costs(**timer, "model-hash", feeds(), layers, table, {});
  REQUIRE(first.ok());
  // Two layers of distinct shapes, three precisions each, and the whole model.
  CHECK(table.measured() == 7);
  CHECK(first->entries.size() == 7);
  for (const auto& row : first->cost)
    for (double s : row) CHECK(s >= 0);
  const int64_t measured = table.measured();
  auto second = passes::search::latency_costs(**timer, "model-hash", feeds(), layers, table, {});
  REQUIRE(second.ok());
  CHECK(table.measured() == measured);  // nothing timed again
  CHECK(second->cost == first->cost);
  CHECK(second->fixed == first->fixed);
  // The file form gives back the same numbers, bit for bit, and a run on it measures nothing.
  auto reread = passes::LatencyTable::parse(table.to_json(), "table.json");
  REQUIRE(reread.ok());
  CHECK(reread->entries() == table.entries());
  auto third = passes::search::latency_costs(**timer, "model-hash", feeds(), layers, *reread, {});
  REQUIRE(third.ok());
  CHECK(reread->measured() == 0);
  CHECK(reread->reused() == 7);
  CHECK(third->cost == first->cost);
  CHECK(passes::latency_entries_digest(third->entries) == passes::latency_entries_digest(first->entries));
  // Another model (another hash) reuses the layer entries and times only itself.
  auto other = passes::search::latency_costs(**timer, "other-model", feeds(), layers, *reread, {});
  REQUIRE(other.ok());
  CHECK(reread->measured() == 1);
}

TEST_CASE("latency table: files that are not tables are invalid input naming the file") {
  for (const char* text : {"not json", "[]", "{\"entries\": {}}", "{\"format\": \"ember.latency-table/1\"}",
                           "{\"format\": \"ember.latency-table/1\", \"entries\": {\"k\": -1}}",
                           "{\"format\": \"ember.latency-table/1\", \"entries\": {\"k\": \"fast\"}}"}) {
    auto t = passes::LatencyTable::parse(text, "bad.json");
    REQUIRE(!t.ok());
    CHECK(t.status().code() == StatusCode::kInvalidInput);
    CHECK(t.status().message().find("bad.json") != std::string::npos);
  }
  auto missing = passes::LatencyTable::load("/nonexistent/dir/table.json");
  REQUIRE(missing.ok());  // a table not written yet is empty
  CHECK(missing->entries().empty());
}

}  // namespace ember::resource_target_test
