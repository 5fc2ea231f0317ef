// compress_model and the manifest builder on the bundled tiny GPT-2 (samples/): candidates
// share the FP32 model's analyses, a budget nobody meets still yields the best effort, the
// manifest follows its schema, embeds the passes' typed records and is deterministic.
#include <doctest/doctest.h>

#include <fstream>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"
#include "tests/unit/passes/tiny_gpt2_run.h"
#include "formats/onnx_save.h"
#include "passes/report/manifest.h"
#include "passes/search/compress.h"
#include "tests/unit/calibration/json_schema_lite.h"

namespace ember::compress_test {

namespace {

const std::string kSamples = std::string(EMBER_SOURCE_DIR) + "/samples";

passes::CompressOptions options(std::vector<std::string> schemes, std::optional<double> budget) {
  passes::CompressOptions o;
  o.task = calibration::EvalTask::kLanguageModel;
  o.eval_path = kSamples + "/kjv-lm-eval.npy";
  o.eval_limit = 0;  // every row of the sample set
  o.budget = budget;
  o.schemes = std::move(schemes);
  return o;
}

}  // namespace

TEST_CASE("compress: candidates reuse the FP32 analyses, and a missed budget keeps the best effort") {
  auto run = test::open_tiny_gpt2();
  // A zero budget no INT4 candidate meets (over the sample's rows both lose 0.2-1.4%): both are tried and
  // the better one is kept.
  auto result = passes::compress_model(run.fp32, run.calib, options({"int4-gptq", "int4-mixed"}, 0.0));
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  CHECK(!result->budget_met);
  REQUIRE(result->candidates.size() == 2);
  const auto& best = result->candidates[result->chosen];
  for (const auto& c : result->candidates) CHECK(best.quality <= c.quality);
  CHECK(result->quality_limit == doctest::Approx(result->fp32_quality));

  // Two GPTQ candidates: the layer inputs (and their Hessians) of the FP32 model are computed once.
  auto twice = passes::compress_model(run.fp32, run.calib, options({"int4-gptq", "int4-gptq"}, 0.0));
  REQUIRE(twice.ok());
  CHECK(twice->analyses_computed.at("layer-inputs") == 1);
  CHECK(twice->candidates[0].quality == twice->candidates[1].quality);

  // A generous budget stops at the first candidate.
  auto met = passes::compress_model(run.fp32, run.calib, options({"w8", "int4-gptq"}, 0.5));
  REQUIRE(met.ok());
  CHECK(met->budget_met);
  CHECK(met->candidates.size() == 1);

  // A negative or NaN budget is refused before any work.
  for (double bad : {-0.1, std::nan("")}) {
    auto refused = passes::compress_model(run.fp32, run.calib, options({"w8"}, bad));
    CHECK(refused.status().code() == StatusCode::kInvalidInput);
  }
}

TEST_CASE("manifest: follows its schema, embeds typed pass records, is deterministic") {
  auto run = test::open_tiny_gpt2();
  auto result = passes::compress_model(run.fp32, run.calib, options({"w8"}, 0.5));
  REQUIRE(result.ok());
  std::map<std::string, Tensor> feeds = run.calib.batch(0);
  auto stats = passes::measure_layers(run.fp32, result->model, feeds);
  REQUIRE(stats.ok());
  passes::ManifestInputs in;
  in.tool_version = "test";
  in.model_file = "model.onnx";
  in.model_sha256 = std::string(64, '0');
  in.model_bytes = 1234;
  in.source_file = "kjv-gpt2-tiny.onnx";
  in.calibration_hash = run.calib.content_hash();
  const nlohmann::json a = passes::build_manifest(in, *result, *stats, result->model);
  const nlohmann::json b = passes::build_manifest(in, *result, *stats, result->model);
  CHECK(a.dump() == b.dump());
  std::ifstream schema_file(std::string(EMBER_SOURCE_DIR) + "/schemas/manifest.schema.json");
  REQUIRE(schema_file.good());
  calib_test::SchemaChecker checker(nlohmann::json::parse(schema_file));
  const auto errors = checker.check(a);
  for (const auto& e : errors) MESSAGE("schema: " << e);
  CHECK(errors.empty());
  // The quantize-weights record: every tensor it quantized, typed, and no timing.
  bool found = false;
  for (const auto& p : a["passes"])
    if (p["name"] == "quantize-weights") {
      found = true;
      CHECK(!p.contains("seconds"));
      REQUIRE(p.contains("result"));
      CHECK(p["result"]["tensors"].size() > 0);
      CHECK(p["result"]["tensors"][0]["bits"] == 8);
      for (const auto& [counter, value] : p["stats"].items()) CHECK(counter.find("seconds") == std::string::npos);
    }
  CHECK(found);
  CHECK(a["quality"]["budget_met"] == true);
  const std::string report = passes::build_report(in, *result, *stats);
  CHECK(report.find("The accuracy budget is met") != std::string::npos);
}

}  // namespace ember::compress_test
