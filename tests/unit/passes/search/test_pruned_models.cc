// Candidates that prune alike continue from the same pruned model and its layer statistics
// (passes/search/candidate.h, PrunedModels): the bytes are those of a candidate built from
// scratch, the most recent prunings are kept, and a different pruning is built anew.
#include <doctest/doctest.h>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"
#include "tests/unit/passes/tiny_gpt2_run.h"
#include "formats/onnx_save.h"
#include "passes/search/candidate.h"
#include "passes/search/compress.h"

namespace ember::pruned_models_test {
namespace {

using passes::LayerAction;

const std::string kSamples = std::string(EMBER_SOURCE_DIR) + "/samples";

// Every FFN layer pruned at `ratio` with `precision`, the rest FP32.
std::vector<LayerAction> pruned_ffns(const std::vector<passes::search::SearchLayer>& layers, double ratio, LayerAction precision) {
  std::vector<LayerAction> out(layers.size());
  precision.ratio = ratio;
  for (size_t i = 0; i < layers.size(); ++i)
    if (!layers[i].prune_group.empty() && !layers[i].prune_heads) out[i] = precision;
  return out;
}

}  // namespace

TEST_CASE("pruned models: a candidate that prunes like an earlier one gives the bytes of one built from scratch") {
  auto tiny = test::open_tiny_gpt2();
  passes::SearchRecipe recipe;
  recipe.actions = {LayerAction{}, LayerAction{LayerAction::Kind::kInt8}, LayerAction{LayerAction::Kind::kInt4, 32, "gptq"},
                    LayerAction{LayerAction::Kind::kPrune, 0, "rtn", 0.25}, LayerAction{LayerAction::Kind::kPrune, 0, "rtn", 0.5}};
  auto layers = passes::search::search_layers(tiny.fp32, recipe, {});
  REQUIRE(layers.ok());
  passes::CompressOptions o;
  o.task = calibration::EvalTask::kLanguageModel;
  o.eval_path = kSamples + "/kjv-lm-eval.npy";
  o.eval_limit = 2;
  o.recipe = recipe;
  passes::CompressResult unused;
  auto judge = passes::judge_fp32(tiny.fp32, tiny.calib, o, unused);
  REQUIRE_MESSAGE(judge.ok(), judge.status().message());
  const std::vector<passes::PassRecord> no_records;

  // Three candidates, two of which prune alike (0.25) with different precisions, one at 0.5.
  const LayerAction int4{LayerAction::Kind::kInt4, 32, "gptq"};
  const LayerAction int8{LayerAction::Kind::kInt8};
  const std::vector<std::vector<LayerAction>> order = {pruned_ffns(*layers, 0.25, int4), pruned_ffns(*layers, 0.5, int4),
                                                       pruned_ffns(*layers, 0.25, int8), pruned_ffns(*layers, 0.25, int4)};
  passes::AnalysisManager shared(&tiny.calib);
  passes::search::SearchContext ctx{tiny.fp32, no_records, shared, *judge->evaluator, judge->budget, judge->reference, *layers};
  std::vector<std::string> cached_bytes;
  for (size_t k = 0; k < order.size(); ++k) {
    auto built = passes::search::build_candidate(ctx, "c" + std::to_string(k), order[k]);
    REQUIRE_MESSAGE(built.ok(), built.status().message());
    auto bytes = formats::serialize_onnx(built->model);
    REQUIRE(bytes.ok());
    cached_bytes.push_back(*bytes);
    CHECK(ctx.pruned->recent.size() <= passes::search::PrunedModels::kKept);
  }
  // From scratch: a fresh context (no pruned models kept) per candidate.
  for (size_t k = 0; k < order.size(); ++k) {
    passes::AnalysisManager fresh(&tiny.calib);
    passes::search::SearchContext alone{tiny.fp32, no_records, fresh, *judge->evaluator, judge->budget, judge->reference, *layers};
    auto built = passes::search::build_candidate(alone, "alone", order[k]);
    REQUIRE(built.ok());
    auto bytes = formats::serialize_onnx(built->model);
    REQUIRE(bytes.ok());
    CHECK_MESSAGE(*bytes == cached_bytes[k], "candidate " << k);
  }
  CHECK(cached_bytes[0] == cached_bytes[3]);
  CHECK(cached_bytes[0] != cached_bytes[2]);
}

TEST_CASE("pruned models: the most recent prunings are kept, the oldest dropped") {
  passes::search::PrunedModels kept;
  for (const char* entry : {"a", "b", "c"}) kept.keep({entry, ir::Model{}, passes::AnalysisManager{}, {}, {}});
  CHECK(kept.recent.size() == passes::search::PrunedModels::kKept);
  CHECK(kept.find("a") == nullptr);
  CHECK(kept.find("b") != nullptr);
  CHECK(kept.find("c") != nullptr);
}

}  // namespace ember::pruned_models_test
