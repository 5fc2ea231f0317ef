// Structured pruning as a search action (issue 16): an FFN's two layers get pruned actions
// that combine each prune ratio with each precision, they form one knapsack item so both lose
// the same neurons, the allocation picks pruning when it is cheap, progressive verification
// backs a pair off together, realisation writes prune-structured{ffn-per-layer=...} before the
// quantization, the manifest's pipeline replays the chosen model byte for byte, and each layer
// gets a measured effect.
#include <doctest/doctest.h>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"
#include "tests/unit/passes/tiny_gpt2_run.h"
#include "formats/onnx_save.h"
#include "passes/pass_manager.h"
#include "passes/search/compress.h"
#include "passes/search/layer_items.h"
#include "passes/search/measured_effect.h"
#include "passes/search/progressive.h"
#include "passes/search/realize.h"

namespace ember::prune_action_test {
namespace {

using passes::LayerAction;
using passes::search::SearchLayer;

const std::string kSamples = std::string(EMBER_SOURCE_DIR) + "/samples";

passes::SearchRecipe pruning_recipe() {
  passes::SearchRecipe recipe;
  recipe.actions = {LayerAction{}, LayerAction{LayerAction::Kind::kInt8}, LayerAction{LayerAction::Kind::kInt4, 32, "gptq"},
                    LayerAction{LayerAction::Kind::kPrune, 0, "rtn", 0.1}, LayerAction{LayerAction::Kind::kPrune, 0, "rtn", 0.25}};
  return recipe;
}

// An FFN pair (first: 64 x 32 -> 128 neurons, second: 128 -> 64) and one attention layer.
std::vector<SearchLayer> synthetic_layers() {
  std::vector<SearchLayer> layers(3);
  layers[0].weight = "fc", layers[0].channels = 128, layers[0].reduction = 64;
  layers[1].weight = "proj", layers[1].channels = 64, layers[1].reduction = 128;
  layers[2].weight = "attn", layers[2].channels = 64, layers[2].reduction = 64;
  for (auto& l : layers) {
    l.params = l.channels * l.reduction;
    l.allowed = {LayerAction{}, LayerAction{LayerAction::Kind::kInt4, 32, "rtn"}};
  }
  for (size_t i : {size_t{0}, size_t{1}}) {
    layers[i].prune_group = "fc_node";
    layers[i].prune_units = 128;
    layers[i].prune_rows = i == 0;
    layers[i].allowed.push_back({LayerAction::Kind::kPrune, 0, "rtn", 0.25});
    layers[i].allowed.push_back({LayerAction::Kind::kInt4, 32, "rtn", 0.25});
  }
  return layers;
}

}  // namespace

TEST_CASE("prune action: bytes follow the pruned shape, an FFN pair is one item with matching ratios") {
  const auto layers = synthetic_layers();
  const LayerAction pruned_int4{LayerAction::Kind::kInt4, 32, "rtn", 0.25};
  CHECK(passes::search::pruned_units(layers[0], 0.25) == 32);
  // 96 kept neurons: fc is 96 x 64, proj 64 x 96; INT4 b32: n / 2 + 4 C ceil(K / 32).
  CHECK(passes::search::action_bytes(layers[0], pruned_int4) == 96 * 64 / 2 + 4 * 96 * 2);
  CHECK(passes::search::action_bytes(layers[1], pruned_int4) == 64 * 96 / 2 + 4 * 64 * 3);
  CHECK(passes::search::action_bytes(layers[0], layers[0].allowed[2]) == 4 * 96 * 64);
  CHECK(passes::search::action_name(pruned_int4) == "int4-b32-rtn+prune-0.25");
  CHECK(passes::search::is_aggressive(pruned_int4));
  const auto items = passes::search::layer_items(layers);
  REQUIRE(items.size() == 2);
  CHECK(items[0].layers == std::vector<size_t>{0, 1});
  CHECK(items[0].options.size() == 2 * 2 * 2);  // P^2 (R + 1): two precisions, one ratio
  for (const auto& o : items[0].options)
    CHECK(passes::search::prune_ratio(layers[0].allowed[o[0]]) == passes::search::prune_ratio(layers[1].allowed[o[1]]));
  CHECK(items[1].options.size() == 2);
}

TEST_CASE("prune action: the allocation picks pruning when it is cheap, and not when it is dear") {
  const auto layers = synthetic_layers();
  const auto items = passes::search::layer_items(layers);
  // Losses: INT4 costs 1 everywhere; pruning adds `prune` to each layer of the pair.
  auto solve = [&](double prune, int64_t capacity) {
    std::vector<std::vector<double>> loss(layers.size());
    for (size_t i = 0; i < layers.size(); ++i)
      for (const auto& a : layers[i].allowed)
        loss[i].push_back((a.kind == LayerAction::Kind::kInt4 ? 1.0 : 0.0) + (passes::search::prune_ratio(a) > 0 ? prune : 0.0));
    const auto options = passes::search::item_options(layers, items, loss, 0);
    auto allocation = passes::search::allocate_under_cost(options, capacity, 1 << 16);
    REQUIRE(allocation.ok());
    CHECK(allocation->cost <= capacity);
    return passes::search::item_actions(layers, items, allocation->choice);
  };
  // Everything INT4 unpruned: 4096 + 1024 + 4096 + 1536 + 2048 + 512 bytes = 13312; pruned pair saves 2304.
  const int64_t capacity = 13312 - 1000;
  const auto cheap = solve(0.1, capacity);
  CHECK(passes::search::prune_ratio(cheap[0]) == 0.25);
  CHECK(passes::search::prune_ratio(cheap[1]) == 0.25);
  // When pruning predicts more loss than keeping the attention layer FP32... it still must fit:
  // the attention layer cannot give the bytes back, so pruning stays, with both layers alike.
  const auto dear = solve(50.0, capacity);
  CHECK(passes::search::prune_ratio(dear[0]) == passes::search::prune_ratio(dear[1]));
  // With room for everything unpruned, dear pruning is not chosen.
  const auto roomy = solve(50.0, 13312);
  CHECK(passes::search::prune_ratio(roomy[0]) == 0);
  CHECK(passes::search::prune_ratio(roomy[1]) == 0);
}

TEST_CASE("prune action: progressive verification prunes last and backs an FFN pair off together") {
  auto layers = synthetic_layers();
  for (auto& l : layers) l.stage = passes::search::Stage::kFfn;
  const LayerAction pruned{LayerAction::Kind::kInt4, 32, "rtn", 0.25};
  const std::vector<LayerAction> chosen = {pruned, pruned, LayerAction{LayerAction::Kind::kInt4, 32, "rtn"}};
  auto predicted = [](size_t i, const LayerAction& a) {
    return (a.kind == LayerAction::Kind::kKeepFloat ? 0.0 : 1.0) + (passes::search::prune_ratio(a) > 0 ? 2.0 + double(i) : 0.0);
  };
  std::vector<std::vector<LayerAction>> tried;
  auto never_pruned = [&](const std::string&, const std::vector<LayerAction>& actions) -> Result<bool> {
    // Realisation must always see a consistent pair.
    CHECK(passes::search::prune_ratio(actions[0]) == passes::search::prune_ratio(actions[1]));
    tried.push_back(actions);
    return passes::search::prune_ratio(actions[0]) == 0;
  };
  auto outcome = passes::search::run_progressive(layers, chosen, predicted, true, never_pruned, {});
  REQUIRE(outcome.ok());
  CHECK(passes::search::prune_ratio(tried.front()[0]) == 0);  // the first stage applies the precision only
  CHECK(outcome->within_budget);
  CHECK(outcome->actions[0] == (LayerAction{LayerAction::Kind::kInt4, 32, "rtn"}));
  CHECK(outcome->actions[1] == (LayerAction{LayerAction::Kind::kInt4, 32, "rtn"}));
  CHECK(!outcome->accepted.empty());
}

TEST_CASE("prune action: the measured effect splits each stage's measured change by the predictions") {
  const std::vector<LayerAction> b32(2, LayerAction{LayerAction::Kind::kInt4, 32, "rtn"});
  std::vector<LayerAction> mixed = b32;
  mixed[1].block = 128;
  // Stage 1: both to b32, measured 0.3 (predicted 1 and 2: 0.1 and 0.2); stage 2: layer 1 to
  // b128, measured +0.4.
  auto predicted = [](size_t i, const LayerAction& a) {
    return a.kind == LayerAction::Kind::kKeepFloat ? 0.0 : (a.block == 128 ? 5.0 : 1.0 + double(i));
  };
  const auto effects = passes::search::measured_effects({{b32, 0.3}, {mixed, 0.7}}, mixed, predicted, 2.0);
  REQUIRE(effects[0]);
  REQUIRE(effects[1]);
  CHECK(*effects[0] == doctest::Approx(0.1 / 2.0));
  CHECK(*effects[1] == doctest::Approx((0.2 + 0.4) / 2.0));
  const auto other = passes::search::measured_effects({{b32, 0.3}}, mixed, predicted, 2.0);
  CHECK(other[0]);
  CHECK(!other[1]);  // its chosen action was never measured
}

TEST_CASE("prune action: realisation prunes before it quantizes, naming exact neuron counts") {
  auto layers = synthetic_layers();
  const LayerAction pruned{LayerAction::Kind::kInt4, 32, "rtn", 0.25};
  auto pipeline = passes::search::realize_actions(layers, {pruned, pruned, LayerAction{}});
  REQUIRE(pipeline.ok());
  REQUIRE(pipeline->size() == 3);
  CHECK(pipeline->at(0).name == "prune-structured");
  CHECK(pipeline->at(0).options.values().at("ffn-per-layer") == "fc_node:32");
  CHECK(pipeline->at(0).options.values().at("ffn") == "0");
  CHECK(pipeline->at(1).name == "quantize-weights");
  CHECK(pipeline->at(1).options.values().at("include") == "^(fc|proj)$");
  // A pair that disagrees is a bug, refused; a layer outside an FFN cannot be pruned.
  CHECK(!passes::search::realize_actions(layers, {pruned, LayerAction{LayerAction::Kind::kInt4, 32, "rtn"}, LayerAction{}}).ok());
  CHECK(!passes::search::realize_actions(layers, {LayerAction{}, LayerAction{}, pruned}).ok());
}

TEST_CASE("prune action: the search on kjv-gpt2-tiny prunes its FFNs, and the manifest's pipeline replays the model exactly") {
  auto tiny = test::open_tiny_gpt2();
  const passes::SearchRecipe recipe = pruning_recipe();
  auto layers = passes::search::search_layers(tiny.fp32, recipe, {});
  REQUIRE(layers.ok());
  int prunable = 0;
  for (const auto& l : *layers) {
    const bool ffn = l.weight.find("mlp") != std::string::npos;
    CHECK_MESSAGE(ffn == !l.prune_group.empty(), l.weight);
    if (ffn) {
      ++prunable;
      CHECK(l.allowed.size() == 3 * 3);  // fp32, int8, int4 b32: unpruned, and at 0.1 and 0.25 (FP32 pruned is kPrune)
    }
  }
  CHECK(prunable == 4);  // two blocks, two layers each

  passes::CompressOptions o;
  o.task = calibration::EvalTask::kLanguageModel;
  o.eval_path = kSamples + "/kjv-lm-eval.npy";
  o.recipe = recipe;
  o.recipe.budget.allowed = 0.08;  // +8% bits per byte: room for pruning on the tiny model
  auto result = passes::compress_model(tiny.fp32, tiny.calib, o);
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  const passes::Candidate& chosen = result->candidates[result->chosen];
  bool probed = false;
  for (const auto& c : result->candidates) probed = probed || c.scheme.rfind("uniform-prune-", 0) == 0;
  CHECK(probed);
  CHECK(result->search.prune_factor > 0);
  bool pruned = false, measured = false;
  for (const auto& l : result->search.layers) {
    pruned = pruned || l.pruned_ratio > 0;
    measured = measured || l.measured_loss.has_value();
  }
  CHECK(measured);
  MESSAGE("chosen " << chosen.scheme << ": " << chosen.pipeline);
  CHECK(pruned == (chosen.pipeline.find("prune-structured") != std::string::npos));
  auto bytes = formats::serialize_onnx(result->model);
  REQUIRE(bytes.ok());
  // Replay: the chosen pipeline on the original model, as `ember opt --calib SET --passes` does.
  CHECK(test::replayed_bytes(chosen.pipeline, tiny) == *bytes);
  // Every candidate that pruned replays too (the pruned probe at least).
  for (const auto& c : result->candidates)
    if (c.pipeline.find("prune-structured") != std::string::npos) CHECK(test::replayed_bytes(c.pipeline, tiny).size() == c.model_bytes);
}

}  // namespace ember::prune_action_test

namespace ember::prune_action_test {

TEST_CASE("prune action: a last stage over the budget tries the repaired allocation before bisecting") {
  auto layers = synthetic_layers();
  const LayerAction pruned{LayerAction::Kind::kInt4, 32, "rtn", 0.25};
  const LayerAction b32{LayerAction::Kind::kInt4, 32, "rtn"};
  const std::vector<LayerAction> chosen = {pruned, pruned, b32};
  auto predicted = [](size_t, const LayerAction& a) { return a.kind == LayerAction::Kind::kKeepFloat ? 0.0 : 1.0; };
  std::vector<std::string> tried;
  auto no_pruning = [&](const std::string& name, const std::vector<LayerAction>& actions) -> Result<bool> {
    tried.push_back(name);
    return passes::search::prune_ratio(actions[0]) == 0;
  };
  const std::vector<LayerAction> repaired = {b32, b32, b32};
  int repairs = 0;
  const passes::search::RepairStage repair = [&]() -> Result<std::optional<std::vector<LayerAction>>> {
    ++repairs;
    return std::optional<std::vector<LayerAction>>(repaired);
  };
  for (auto& l : layers) l.stage = passes::search::Stage::kFfn;
  // The ffn stage already applies b32 everywhere: the aggressive stage only adds the pruning.
  auto outcome = passes::search::run_progressive(layers, chosen, predicted, true, no_pruning, {}, repair);
  REQUIRE(outcome.ok());
  CHECK(repairs == 1);
  CHECK(outcome->actions == repaired);
  for (const auto& name : tried) CHECK(name.find("backoff") == std::string::npos);
  // A repair that does not fit leaves it to the bisection.
  tried.clear();
  const passes::search::RepairStage bad = [&]() -> Result<std::optional<std::vector<LayerAction>>> {
    return std::optional<std::vector<LayerAction>>(std::vector<LayerAction>{pruned, pruned, LayerAction{}});
  };
  outcome = passes::search::run_progressive(layers, chosen, predicted, true, no_pruning, {}, bad);
  REQUIRE(outcome.ok());
  CHECK(outcome->within_budget);
  CHECK(passes::search::prune_ratio(outcome->actions[0]) == 0);
  bool bisected = false;
  for (const auto& name : tried) bisected = bisected || name.find("backoff") != std::string::npos;
  CHECK(bisected);
}

}  // namespace ember::prune_action_test
