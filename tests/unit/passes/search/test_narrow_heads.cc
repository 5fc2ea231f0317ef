// The head-narrowing stage of a search (narrow_heads.h): the ratios measured in order, the largest
// within a quarter of the budget kept, the pipeline starting with it so that `ember opt` replays
// the chosen model; nothing kept when the budget leaves no room; bad ratios refused.
#include <doctest/doctest.h>

#include "formats/onnx_save.h"
#include "passes/search/actions.h"
#include "passes/search/compress.h"
#include "passes/search/narrow_heads.h"
#include "tests/unit/passes/tiny_gpt2_run.h"

namespace ember::narrow_heads_test {
namespace {

using passes::LayerAction;

const std::string kSamples = std::string(EMBER_SOURCE_DIR) + "/samples";

passes::CompressOptions tiny_options(double budget, std::vector<double> widths) {
  passes::CompressOptions o;
  o.task = calibration::EvalTask::kLanguageModel;
  o.eval_path = kSamples + "/kjv-lm-eval.npy";
  o.eval_limit = 8;
  o.budget = budget;
  o.recipe.actions = {LayerAction{}, LayerAction{LayerAction::Kind::kInt8, 0, "rtn"}};
  o.recipe.head_widths = std::move(widths);
  return o;
}

}  // namespace

TEST_CASE("narrowing stage: the default ratios, sorted, and only without a target and with pruning allowed") {
  passes::SearchRecipe recipe;
  CHECK(passes::search::head_widths(recipe) == std::vector<double>{0.25, 0.5, 0.75});
  recipe.target = {passes::SearchTarget::Kind::kSizeBytes, 1e6};
  CHECK(passes::search::head_widths(recipe).empty());
  recipe.target = {};
  recipe.actions = {LayerAction{}, LayerAction{LayerAction::Kind::kInt8, 0, "rtn"}};
  CHECK(passes::search::head_widths(recipe).empty());  // no prune action: no narrowing by default
  recipe.head_widths = std::vector<double>{0.5, 0.25, 0.5};
  CHECK(passes::search::head_widths(recipe) == std::vector<double>{0.25, 0.5});
}

TEST_CASE("narrowing stage: a ratio of 0 or below or above 0.95 is refused, and so is an energy or latency target") {
  passes::SearchRecipe recipe;
  CHECK(passes::search::check_head_widths(recipe).ok());
  for (double bad : {0.0, -0.25, 0.96, 1.0}) {
    recipe.head_widths = std::vector<double>{0.25, bad};
    const Status s = passes::search::check_head_widths(recipe);
    CHECK_MESSAGE(s.code() == StatusCode::kInvalidInput, bad);
  }
  recipe.head_widths = std::vector<double>{0.5};
  recipe.target = {passes::SearchTarget::Kind::kEnergyJoules, 1e-3};
  CHECK(passes::search::check_head_widths(recipe).code() == StatusCode::kInvalidInput);
  recipe.head_widths = std::vector<double>{};
  CHECK(passes::search::check_head_widths(recipe).ok());
  // compress refuses before any calibration.
  auto tiny = test::open_tiny_gpt2();
  passes::CompressOptions o = tiny_options(0.5, {0.0});
  auto result = passes::compress_model(tiny.fp32, tiny.calib, o);
  REQUIRE(!result.ok());
  CHECK(result.status().code() == StatusCode::kInvalidInput);
}

TEST_CASE("narrowing stage: kjv-gpt2-tiny keeps the largest ratio within a quarter of the budget and replays exactly") {
  auto tiny = test::open_tiny_gpt2();
  auto result = passes::compress_model(tiny.fp32, tiny.calib, tiny_options(0.5, {0.25, 0.5}));
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  const auto& s = result->search;
  REQUIRE(!s.narrowing.empty());
  const double room = result->quality_limit - result->fp32_quality;
  double kept = 0;
  for (const auto& t : s.narrowing) {
    CHECK(t.within_share == (t.quality - result->fp32_quality <= passes::search::kNarrowShare * room));
    if (t.within_share) kept = t.ratio;
  }
  CHECK(s.head_width == kept);
  REQUIRE_MESSAGE(s.head_width > 0, "a budget of +50% leaves the tiny model room to narrow");
  const passes::Candidate& chosen = result->candidates[result->chosen];
  MESSAGE("chosen " << chosen.scheme << ": " << chosen.pipeline);
  CHECK(chosen.pipeline.find("prune-structured{ffn=0,head-width=" + std::string(s.head_width == 0.5 ? "0.5" : "0.25")) != std::string::npos);
  CHECK(result->search.stages.front().name == "narrowing");
  // Every candidate starts from the narrowed model; the replay goes through the narrowing.
  for (const auto& c : result->candidates) CHECK(c.pipeline.find("head-width=") != std::string::npos);
  auto bytes = formats::serialize_onnx(result->model);
  REQUIRE(bytes.ok());
  CHECK(test::replayed_bytes(chosen.pipeline, tiny) == *bytes);
}

TEST_CASE("narrowing stage: with no room in the budget nothing is kept and the pipeline does not narrow") {
  auto tiny = test::open_tiny_gpt2();
  auto result = passes::compress_model(tiny.fp32, tiny.calib, tiny_options(0.0, {0.5}));
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  const auto& s = result->search;
  REQUIRE(s.narrowing.size() == 1);
  REQUIRE_MESSAGE(s.narrowing[0].quality > result->fp32_quality, "halving the tiny model's heads costs bits per byte");
  CHECK_FALSE(s.narrowing[0].within_share);
  CHECK(s.head_width == 0);
  for (const auto& c : result->candidates) CHECK(c.pipeline.find("head-width") == std::string::npos);
}

}  // namespace ember::narrow_heads_test
