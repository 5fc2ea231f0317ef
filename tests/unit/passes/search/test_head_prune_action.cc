// Attention heads as a search action (issue 16): an attention block's projections and output
// projection form one knapsack item whose layers share one prune ratio (every precision each),
// the allocation solves over the options no other beats in cost and loss, progressive back-off
// keeps a block's four layers alike, realisation writes prune-structured{heads-per-block=...},
// and on kjv-gpt2-tiny (fused c_attn + Split) the chosen model replays byte for byte.
#include <doctest/doctest.h>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"
#include "tests/unit/passes/tiny_gpt2_run.h"
#include "formats/onnx_save.h"
#include "passes/pass_manager.h"
#include "passes/search/compress.h"
#include "passes/search/layer_items.h"
#include "passes/search/progressive.h"
#include "passes/search/realize.h"

namespace ember::head_prune_action_test {
namespace {

using passes::LayerAction;
using passes::search::SearchLayer;

const std::string kSamples = std::string(EMBER_SOURCE_DIR) + "/samples";

// A block of 4 heads of 16 channels over a width of 64: separate Q, K, V (64 -> 64) and the
// output projection (64 -> 64), each FP32 or INT4 b32, unpruned or at ratio 0.25 (one head).
std::vector<SearchLayer> block_layers() {
  std::vector<SearchLayer> layers(4);
  const char* names[] = {"q", "k", "v", "o"};
  for (size_t i = 0; i < 4; ++i) {
    SearchLayer& l = layers[i];
    l.weight = names[i], l.channels = 64, l.reduction = 64, l.params = 64 * 64;
    l.prune_group = "q_node", l.prune_units = 4, l.prune_heads = true, l.prune_width = 16, l.prune_rows = i < 3;
    l.allowed = {LayerAction{}, LayerAction{LayerAction::Kind::kInt4, 32, "rtn"}, LayerAction{LayerAction::Kind::kPrune, 0, "rtn", 0.25},
                 LayerAction{LayerAction::Kind::kInt4, 32, "rtn", 0.25}};
  }
  return layers;
}

}  // namespace

TEST_CASE("head prune action: bytes follow the pruned shape, a block is one item, its options are the efficient ones") {
  const auto layers = block_layers();
  const LayerAction pruned{LayerAction::Kind::kInt4, 32, "rtn", 0.25};
  CHECK(passes::search::pruned_units(layers[0], 0.25) == 1);
  // One head fewer: Q is 48 x 64 (48 output channels), O 64 x 48 (48 input rows).
  CHECK(passes::search::action_bytes(layers[0], pruned) == 48 * 64 / 2 + 4 * 48 * 2);
  CHECK(passes::search::action_bytes(layers[3], pruned) == 64 * 48 / 2 + 4 * 64 * 2);
  CHECK(passes::search::action_bytes(layers[3], LayerAction{LayerAction::Kind::kPrune, 0, "rtn", 0.25}) == 4 * 64 * 48);
  // Energy and latency scale by the share kept: 3 of 4 heads.
  CHECK(passes::search::kept_share(layers[0], pruned) == doctest::Approx(0.75));
  CHECK(passes::search::kept_share(layers[3], LayerAction{LayerAction::Kind::kInt4, 32, "rtn"}) == 1.0);
  const auto items = passes::search::layer_items(layers);
  REQUIRE(items.size() == 1);
  CHECK(items[0].layers == std::vector<size_t>{0, 1, 2, 3});
  CHECK(items[0].options.size() == 2 * 16);  // P^4 (R + 1): two precisions, one ratio
  for (const auto& o : items[0].options)
    for (size_t k = 1; k < 4; ++k)
      CHECK(passes::search::prune_ratio(layers[k].allowed[o[k]]) == passes::search::prune_ratio(layers[0].allowed[o[0]]));
  // Partners go round the block.
  size_t at = 0, steps = 0;
  do {
    at = *passes::search::prune_partner(layers, at);
    ++steps;
  } while (at != 0 && steps < 10);
  CHECK(steps == 4);
  // Losses: INT4 costs 1 a layer, pruning 0.5 a layer. Each kept option is not dominated, and the
  // choice over them maps back to a consistent block.
  std::vector<std::vector<double>> loss(4);
  for (size_t i = 0; i < 4; ++i)
    for (const auto& a : layers[i].allowed)
      loss[i].push_back((a.kind == LayerAction::Kind::kInt4 ? 1.0 : 0.0) + (passes::search::prune_ratio(a) > 0 ? 0.5 : 0.0));
  const auto all = passes::search::item_options(layers, items, loss, 0);
  const auto efficient = passes::search::efficient_options(all);
  REQUIRE(efficient.options.size() == 1);
  CHECK(efficient.options[0].size() < all[0].size());
  for (const auto& kept : efficient.options[0])
    for (const auto& other : all[0]) CHECK(!(other.cost <= kept.cost && other.loss < kept.loss));
  auto allocation = passes::search::allocate_under_cost(efficient.options, 3 * (48 * 64 / 2 + 4 * 48 * 2) + 64 * 48 / 2 + 4 * 64 * 2, 1 << 16);
  REQUIRE(allocation.ok());
  const auto actions = passes::search::item_actions(layers, items, efficient, allocation->choice);
  for (const auto& a : actions) CHECK(a == pruned);  // the only way to fit: every layer pruned and INT4
}

TEST_CASE("head prune action: realisation names exact head counts, back-off keeps a block's layers alike") {
  auto layers = block_layers();
  const LayerAction pruned{LayerAction::Kind::kInt4, 32, "rtn", 0.25};
  const LayerAction b32{LayerAction::Kind::kInt4, 32, "rtn"};
  auto pipeline = passes::search::realize_actions(layers, {pruned, pruned, pruned, pruned});
  REQUIRE(pipeline.ok());
  REQUIRE(pipeline->at(0).name == "prune-structured");
  const auto& o = pipeline->at(0).options.values();
  CHECK(o.at("heads-per-block") == "q_node:1");
  CHECK(o.at("head-score") == "taylor");
  CHECK(o.count("ffn-per-layer") == 0);
  CHECK(!passes::search::realize_actions(layers, {pruned, pruned, b32, pruned}).ok());
  for (auto& l : layers) l.stage = passes::search::Stage::kAttention;
  auto predicted = [](size_t i, const LayerAction& a) {
    return (a.kind == LayerAction::Kind::kKeepFloat ? 0.0 : 1.0) + (passes::search::prune_ratio(a) > 0 ? 1.0 + double(i) : 0.0);
  };
  auto consistent_unpruned = [&](const std::string&, const std::vector<LayerAction>& actions) -> Result<bool> {
    for (size_t k = 1; k < 4; ++k) CHECK(passes::search::prune_ratio(actions[k]) == passes::search::prune_ratio(actions[0]));
    return passes::search::prune_ratio(actions[0]) == 0;
  };
  auto outcome = passes::search::run_progressive(layers, std::vector<LayerAction>(4, pruned), predicted, true, consistent_unpruned, {});
  REQUIRE(outcome.ok());
  for (const auto& a : outcome->actions) CHECK(a == b32);
}

TEST_CASE("head prune action: the search on kjv-gpt2-tiny removes heads, and the manifest's pipeline replays the model exactly") {
  auto tiny = test::open_tiny_gpt2();
  // Only FP32 and pruning at 0.5; FFNs may not be pruned, so a size target below FP32 must remove heads.
  passes::SearchRecipe recipe;
  recipe.actions = {LayerAction{}, LayerAction{LayerAction::Kind::kPrune, 0, "rtn", 0.5}};
  recipe.overrides = {passes::LayerOverride{"mlp", "", false, {LayerAction{}}}};
  passes::AnalysisManager analyses(&tiny.calib);
  const auto groups = passes::search::prunable_head_groups(tiny.fp32, recipe, analyses);
  REQUIRE(!groups.empty());
  auto layers = passes::search::search_layers(tiny.fp32, recipe, {}, groups);
  REQUIRE(layers.ok());
  int64_t head_layers = 0, fp32_bytes = 0;
  for (const auto& l : *layers) {
    head_layers += l.prune_heads;
    CHECK_MESSAGE(l.prune_heads == (l.weight.find("attn") != std::string::npos), l.weight);
    fp32_bytes += 4 * l.params;
  }
  CHECK(head_layers == 2 * int64_t(groups.size()));  // fused c_attn and c_proj per block
  auto bytes_fp32 = formats::serialize_onnx(tiny.fp32);
  REQUIRE(bytes_fp32.ok());

  passes::CompressOptions o;
  o.task = calibration::EvalTask::kLanguageModel;
  o.eval_path = kSamples + "/kjv-lm-eval.npy";
  o.recipe = recipe;
  o.recipe.target = {passes::SearchTarget::Kind::kSizeBytes, double(bytes_fp32->size()) - 20000};
  auto result = passes::compress_model(tiny.fp32, tiny.calib, o);
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  const passes::Candidate& chosen = result->candidates[result->chosen];
  MESSAGE("chosen " << chosen.scheme << ": " << chosen.pipeline);
  CHECK(chosen.pipeline.find("heads-per-block=") != std::string::npos);
  CHECK(chosen.pipeline.find("ffn-per-layer") == std::string::npos);
  CHECK(chosen.model_bytes <= size_t(o.recipe.target.value));
  auto bytes = formats::serialize_onnx(result->model);
  REQUIRE(bytes.ok());
  CHECK(test::replayed_bytes(chosen.pipeline, tiny) == *bytes);
}

}  // namespace ember::head_prune_action_test
