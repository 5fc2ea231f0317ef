// The search behind `ember compress` on the bundled tiny GPT-2 (samples/): a size target is never
// exceeded on the real serialized model, the manifest's pipeline replays the chosen model byte
// for byte, infeasible targets are refused before any calibration, and what the search records.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"
#include "tests/unit/passes/tiny_gpt2_run.h"
#include "formats/onnx_save.h"
#include "passes/pass_manager.h"
#include "passes/quantize/weight_quantizer.h"
#include "passes/report/manifest.h"
#include "passes/search/actions.h"
#include "passes/search/compress.h"
#include "passes/search/realize.h"
#include "tests/unit/calibration/json_schema_lite.h"

namespace ember::search_test {
namespace {

const std::string kSamples = std::string(EMBER_SOURCE_DIR) + "/samples";

passes::CompressOptions search_options(passes::SearchTarget target, double budget) {
  passes::CompressOptions o;
  o.task = calibration::EvalTask::kLanguageModel;
  o.eval_path = kSamples + "/kjv-lm-eval.npy";
  o.recipe.target = target;
  o.recipe.budget.allowed = budget;
  return o;
}

}  // namespace

TEST_CASE("search: a size target is never exceeded and the pipeline replays the model exactly") {
  auto run = test::open_tiny_gpt2();
  const passes::SearchTarget target{passes::SearchTarget::Kind::kSizeBytes, 600000};
  auto result = passes::compress_model(run.fp32, run.calib, search_options(target, 0.05));
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  auto bytes = formats::serialize_onnx(result->model);
  REQUIRE(bytes.ok());
  CHECK(bytes->size() <= 600000);
  const passes::Candidate& chosen = result->candidates[result->chosen];
  CHECK(chosen.within_target);
  CHECK(chosen.model_bytes == bytes->size());
  CHECK(test::replayed_bytes(chosen.pipeline, run) == *bytes);
  // The search records one decision per layer, and the stages it measured.
  REQUIRE(result->search.ran);
  CHECK(result->search.target_kind == "size_bytes");
  CHECK(result->search.layers.size() == 10);  // the tied embedding and LM head are one layer
  bool any_int4 = false;
  for (const auto& l : result->search.layers) {
    any_int4 = any_int4 || l.action.rfind("int4", 0) == 0;
    // Stages from the graph: Q/K/V and the output projection, the FFN pair, the tables.
    const std::string expected = l.weight.find("attn") != std::string::npos  ? "attention"
                                 : l.weight.find("mlp") != std::string::npos ? "ffn"
                                                                             : "embedding";
    CHECK_MESSAGE(l.stage == expected, l.weight);
  }
  CHECK(any_int4);
  // The bytes the allocation counted per action are the bytes quantize-weights wrote.
  std::map<std::string, const passes::SearchLayerRecord*> by_weight;
  for (const auto& l : result->search.layers) by_weight[l.weight] = &l;
  int compared = 0;
  for (const auto& p : chosen.passes)
    if (const auto* q = dynamic_cast<const passes::QuantizeWeightsResult*>(p.result.get()))
      for (const auto& r : q->tensors) {
        REQUIRE(by_weight.count(r.name));
        const auto* l = by_weight.at(r.name);
        CHECK(double(r.bytes_after) == doctest::Approx(l->bits_per_weight * double(l->params) / 8.0));
        ++compared;
      }
  CHECK(compared > 0);
  CHECK(result->analyses_computed.at("importance") == 1);
  CHECK(result->analyses_computed.at("layer-inputs") == 1);
}

TEST_CASE("search: a bits-per-weight target holds, and the manifest's search section follows the schema") {
  auto run = test::open_tiny_gpt2();
  const passes::SearchTarget target{passes::SearchTarget::Kind::kBitsPerWeight, 6.0};
  auto result = passes::compress_model(run.fp32, run.calib, search_options(target, 0.05));
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  CHECK(result->candidates[result->chosen].bits_per_weight <= 6.0);
  std::map<std::string, Tensor> feeds = run.calib.batch(0);
  auto stats = passes::measure_layers(run.fp32, result->model, feeds);
  REQUIRE(stats.ok());
  passes::ManifestInputs in;
  in.tool_version = "test";
  in.model_file = "model.onnx";
  in.model_sha256 = std::string(64, '0');
  in.calibration_hash = run.calib.content_hash();
  const nlohmann::json m = passes::build_manifest(in, *result, *stats, result->model);
  REQUIRE(m.contains("search"));
  const auto& s = m["search"];
  CHECK(s["target"]["kind"] == "bits_per_weight");
  CHECK(s["target"]["achieved"].get<double>() <= 6.0);
  int chosen = 0;
  for (const auto& c : s["candidates"]) chosen += c["chosen"].get<bool>() ? 1 : 0;
  CHECK(chosen == 1);
  for (const auto& l : s["layers"]) CHECK(l["sensitivity"].contains(l["action"].get<std::string>()));
  std::ifstream schema_file(std::string(EMBER_SOURCE_DIR) + "/schemas/manifest.schema.json");
  calib_test::SchemaChecker checker(nlohmann::json::parse(schema_file));
  const auto errors = checker.check(m);
  for (const auto& e : errors) MESSAGE("schema: " << e);
  CHECK(errors.empty());
}

TEST_CASE("search: an infeasible target is refused before any calibration, saying why") {
  auto run = test::open_tiny_gpt2();
  passes::CompressOptions o = search_options({passes::SearchTarget::Kind::kSizeBytes, 100000}, 0.05);
  o.eval_path = kSamples + "/does-not-exist.npy";  // would fail if the search got as far as evaluating
  auto small = passes::compress_model(run.fp32, run.calib, o);
  REQUIRE(!small.ok());
  CHECK(small.status().code() == StatusCode::kInvalidInput);
  CHECK(small.status().message().find("smallest model") != std::string::npos);
  o.recipe.target = {passes::SearchTarget::Kind::kBitsPerWeight, 3.0};
  auto bpw = passes::compress_model(run.fp32, run.calib, o);
  REQUIRE(!bpw.ok());
  CHECK(bpw.status().message().find("bits per weight") != std::string::npos);
  o.recipe.target = {passes::SearchTarget::Kind::kSizeBytes, -5};
  CHECK(passes::compress_model(run.fp32, run.calib, o).status().code() == StatusCode::kInvalidInput);
}

TEST_CASE("search: realisation names each layer exactly, GPTQ passes first") {
  using passes::LayerAction;
  std::vector<passes::search::SearchLayer> layers(3);
  layers[0].weight = "a.weight";
  layers[1].weight = "a_weight";
  layers[2].weight = "b(1).weight";
  const std::vector<LayerAction> actions = {{LayerAction::Kind::kInt8, 0, "rtn", 0},
                                            {LayerAction::Kind::kInt4, 64, "gptq", 0},
                                            {LayerAction::Kind::kKeepFloat, 0, "rtn", 0}};
  auto pipeline = passes::search::realize_actions(layers, actions);
  REQUIRE(pipeline.ok());
  REQUIRE(pipeline->size() == 3);
  CHECK(pipeline->at(0).options.values().at("method") == "gptq");
  CHECK(pipeline->at(0).options.values().at("include") == "^(a_weight)$");
  CHECK(pipeline->at(1).options.values().at("include") == "^(a\\.weight)$");
  CHECK(passes::search::exact_names_regex({"b(1).weight"}) == "^(b\\(1\\)\\.weight)$");
  layers[2].weight = "bad,name";
  auto refused = passes::search::realize_actions(layers, {actions[0], actions[1], {LayerAction::Kind::kInt8, 0, "rtn", 0}});
  CHECK(refused.status().code() == StatusCode::kInvalidInput);
}

}  // namespace ember::search_test

namespace ember::search_test {

// Recipe overrides steer the actions per layer, matched with the recipe's hardened rules
// (recipe_rules.h): by op type, by a name regex, and excludes; the last match wins.
TEST_CASE("search: recipe overrides and excludes choose each layer's actions") {
  auto run = test::open_tiny_gpt2();
  passes::SearchRecipe recipe;
  auto baseline = passes::search::search_layers(run.fp32, recipe, {});
  REQUIRE(baseline.ok());
  REQUIRE(baseline->size() >= 2);
  const size_t defaults = passes::search::default_actions().size();
  const std::string first = baseline->front().weight;

  passes::LayerOverride only_int8;
  only_int8.actions = {passes::LayerAction{passes::LayerAction::Kind::kInt8}};  // every layer (no name, no op)
  passes::LayerOverride exclude_first;
  exclude_first.name_regex = "^" + first + "$";
  exclude_first.exclude = true;
  recipe.overrides = {only_int8, exclude_first};
  auto layers = passes::search::search_layers(run.fp32, recipe, {});
  REQUIRE(layers.ok());
  for (const auto& l : *layers) {
    if (l.weight == first) {
      CHECK(l.allowed.size() == 1);  // FP32 only
    } else {
      CHECK(l.allowed.size() == 2);  // FP32 and INT8
      CHECK(l.allowed[1].kind == passes::LayerAction::Kind::kInt8);
    }
  }
  CHECK(defaults > 2);

  recipe.overrides = {exclude_first, only_int8};  // the last match wins: nothing stays excluded
  layers = passes::search::search_layers(run.fp32, recipe, {});
  REQUIRE(layers.ok());
  CHECK(layers->front().allowed.size() == 2);

  passes::LayerOverride bad;
  bad.name_regex = "h.(0";
  recipe.overrides = {bad};
  CHECK(!passes::search::search_layers(run.fp32, recipe, {}).ok());
}

// Pruning beyond 30% is offered only where the back-off measures it: without a target.
TEST_CASE("search: the default prune ratios reach 50% without a target, 30% under one") {
  auto run = test::open_tiny_gpt2();
  auto largest_ratio = [&](const passes::SearchRecipe& recipe) {
    auto layers = passes::search::search_layers(run.fp32, recipe, {});
    REQUIRE(layers.ok());
    double largest = 0;
    for (const auto& l : *layers)
      for (const auto& a : l.allowed) largest = std::max(largest, passes::search::prune_ratio(a));
    return largest;
  };
  passes::SearchRecipe recipe;
  CHECK(largest_ratio(recipe) == doctest::Approx(0.5));
  recipe.target = {passes::SearchTarget::Kind::kSizeBytes, 1e6};
  CHECK(largest_ratio(recipe) == doctest::Approx(0.3));
  recipe.target = {passes::SearchTarget::Kind::kBitsPerWeight, 4.5};
  CHECK(largest_ratio(recipe) == doctest::Approx(0.3));
}

}  // namespace ember::search_test
