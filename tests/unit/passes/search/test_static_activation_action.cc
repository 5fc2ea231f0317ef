// Static INT8 activations as a search action (issue 16, "static or dynamic INT8 activations where
// safe"): the recipe spells it {"kind": "int8", "activations": "static"} (or quantize_activations
// offers it beside every plain INT8), only single-reader MatMul/Gemm layers get it, its predicted
// loss adds the measured activation error to the INT8 weights' (activation_cost.h), realisation
// ends with quantize-activations{mode=static,include=...} naming the chosen nodes, and the chosen
// model replays byte for byte.
#include <doctest/doctest.h>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"
#include "tests/unit/passes/tiny_gpt2_run.h"
#include "formats/onnx_save.h"
#include "passes/pass_manager.h"
#include "passes/search/activation_cost.h"
#include "passes/search/compress.h"
#include "passes/search/realize.h"
#include "passes/search/recipe_json.h"

namespace ember::static_activation_action_test {
namespace {

using passes::LayerAction;

const std::string kSamples = std::string(EMBER_SOURCE_DIR) + "/samples";

LayerAction int8_static() {
  LayerAction a{LayerAction::Kind::kInt8};
  a.static_activations = true;
  return a;
}

}  // namespace

TEST_CASE("static activation action: recipe spelling, names and where it is offered") {
  auto recipe = passes::parse_recipe(R"({"schema": "ember.recipe/1", "actions": [{"kind": "fp32"}, {"kind": "int8", "activations": "static"}]})", "r.json");
  REQUIRE_MESSAGE(recipe.ok(), recipe.status().message());
  REQUIRE(recipe->actions.size() == 2);
  CHECK(recipe->actions[1] == int8_static());
  CHECK(passes::recipe_to_json(*recipe)["actions"][1]["activations"] == "static");
  CHECK(passes::action_name(int8_static()) == "int8-a8-static");
  CHECK(passes::search::action_name(int8_static()) == "int8-a8-static");
  CHECK(!passes::parse_recipe(R"({"schema": "ember.recipe/1", "actions": [{"kind": "int4", "block": 32, "activations": "static"}]})", "r.json").ok());

  auto model = formats::load_onnx(kSamples + "/kjv-gpt2-tiny.onnx");
  REQUIRE(model.ok());
  passes::SearchRecipe offered;
  offered.quantize_activations = true;
  auto layers = passes::search::search_layers(*model, offered, {});
  REQUIRE(layers.ok());
  int with = 0;
  for (const auto& l : *layers) {
    bool has = false;
    for (const auto& a : l.allowed) has = has || a.static_activations;
    with += has;
    if (l.op.find("Gather") != std::string::npos) CHECK_MESSAGE(!has, l.weight);  // tables and tied heads: never
  }
  CHECK(with == 8);  // two blocks: c_attn, attn c_proj, c_fc, mlp c_proj
}

TEST_CASE("static activation action: predicted from measured errors, realized as quantize-activations, replayed byte for byte") {
  auto tiny = test::open_tiny_gpt2();
  passes::SearchRecipe recipe;
  recipe.actions = {LayerAction{}, int8_static()};
  auto layers = passes::search::search_layers(tiny.fp32, recipe, {});
  REQUIRE(layers.ok());
  passes::AnalysisManager analyses(&tiny.calib);
  auto inputs = analyses.get<passes::analysis::LayerInputAnalysis>(tiny.fp32, {});
  REQUIRE(inputs.ok());
  auto rho = passes::search::activation_error_ratios(tiny.fp32, tiny.calib, *layers, **inputs);
  REQUIRE(rho.ok());
  for (size_t i = 0; i < layers->size(); ++i)
    if ((*layers)[i].allowed.size() == 2) CHECK_MESSAGE((*rho)[i] > 0, (*layers)[i].weight);
  passes::search::LossTable loss(layers->size());
  for (size_t i = 0; i < layers->size(); ++i) loss[i].assign((*layers)[i].allowed.size(), 1.0);
  // Without the importance analysis's INT8 noise, rho times the action's own loss; with it, rho N / 2.
  passes::search::add_activation_losses(loss, *layers, *rho, {});
  for (size_t i = 0; i < layers->size(); ++i)
    if ((*layers)[i].allowed.size() == 2) CHECK(loss[i][1] == doctest::Approx(1.0 + (*rho)[i]));
  passes::search::add_activation_losses(loss, *layers, *rho, std::vector<double>(layers->size(), 0.5));
  for (size_t i = 0; i < layers->size(); ++i)
    if ((*layers)[i].allowed.size() == 2) CHECK(loss[i][1] == doctest::Approx(1.0 + 1.5 * (*rho)[i]));

  // A size target below FP32 with only FP32 and int8-a8-static allowed: some layers take it.
  auto fp32_bytes = formats::serialize_onnx(tiny.fp32);
  REQUIRE(fp32_bytes.ok());
  passes::CompressOptions o;
  o.task = calibration::EvalTask::kLanguageModel;
  o.eval_path = kSamples + "/kjv-lm-eval.npy";
  o.recipe = recipe;
  o.recipe.target = {passes::SearchTarget::Kind::kSizeBytes, double(fp32_bytes->size()) - 300000};
  auto result = passes::compress_model(tiny.fp32, tiny.calib, o);
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  const passes::Candidate& chosen = result->candidates[result->chosen];
  MESSAGE("chosen " << chosen.scheme << ": " << chosen.pipeline);
  CHECK(chosen.pipeline.find("quantize-activations{") != std::string::npos);
  int quantize_nodes = 0;
  for (const auto& n : result->model.graph.nodes) quantize_nodes += n.op_type == "QuantizeLinear";
  CHECK(quantize_nodes > 0);
  auto bytes = formats::serialize_onnx(result->model);
  REQUIRE(bytes.ok());
  CHECK(test::replayed_bytes(chosen.pipeline, tiny) == *bytes);
}

}  // namespace ember::static_activation_action_test
