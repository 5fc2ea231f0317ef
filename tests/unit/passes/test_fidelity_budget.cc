// Budgets per metric (passes/budget.h), the label-free evaluator (passes/search/evaluator.h) and
// compress_model with no eval set on the bundled digits CNN (samples/).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "calibration/dataset.h"
#include "formats/npz.h"
#include "formats/onnx_load.h"
#include "passes/budget.h"
#include "passes/search/compress.h"
#include "passes/search/evaluator.h"
#include "tests/unit/calibration/calib_test_util.h"

namespace ember::fidelity_budget_test {
namespace {

const std::string kSamples = std::string(EMBER_SOURCE_DIR) + "/samples";

std::string error_of(const std::string& metric, std::optional<double> allowed) {
  auto b = passes::make_metric_budget(metric, allowed);
  return b.ok() ? std::string() : b.status().message();
}

struct Digits {
  ir::Model model;
  calibration::CalibrationSet calib;
};

Digits open_digits() {
  auto model = formats::load_onnx(kSamples + "/digits-cnn.onnx");
  REQUIRE(model.ok());
  auto calib = calibration::CalibrationSet::open(kSamples + "/digits-calib.npz", model->graph.feed_inputs());
  REQUIRE(calib.ok());
  return {std::move(*model), std::move(*calib)};
}

}  // namespace

TEST_CASE("budget: each metric's kind and limit") {
  auto kl = passes::make_metric_budget("kl", 0.05);
  REQUIRE(kl.ok());
  CHECK(kl->lower_is_better);
  CHECK(kl->limit(0.0) == doctest::Approx(0.05));
  CHECK(kl->within(0.049, 0.0));
  CHECK(!kl->within(0.051, 0.0));
  auto sqnr = passes::make_metric_budget("sqnr", 25);
  REQUIRE(sqnr.ok());
  CHECK(sqnr->limit(200) == 25);  // a floor, whatever the reference
  CHECK(sqnr->within(25.5, 200));
  CHECK(!sqnr->within(24.9, 200));
  auto top1 = passes::make_metric_budget("top1", std::nullopt);  // default 0.01
  REQUIRE(top1.ok());
  CHECK(top1->limit(1.0) == doctest::Approx(0.99));
  CHECK(passes::make_metric_budget("cosine", std::nullopt)->limit(1.0) == doctest::Approx(0.995));
  auto eacc = passes::make_metric_budget("expected-accuracy", std::nullopt);  // default 0.01, like accuracy
  REQUIRE(eacc.ok());
  CHECK(eacc->lower_is_better);
  CHECK(eacc->limit(0.0) == doctest::Approx(0.01));
  CHECK(!eacc->within(0.0101, 0.0));
  // The task metrics keep their meaning: relative for bits per byte, absolute for accuracy.
  CHECK(passes::make_metric_budget("bits_per_byte", 0.01)->limit(2.0) == doctest::Approx(2.02));
  CHECK(passes::make_metric_budget("accuracy", std::nullopt)->limit(0.9) == doctest::Approx(0.89));
  // The old two-argument form still means what it meant.
  CHECK(passes::make_budget(true, 0.015)->limit(1.0) == doctest::Approx(1.015));
}

TEST_CASE("budget: values the metric cannot take are refused, saying why") {
  CHECK(error_of("kl", -0.1).find("never a gain") != std::string::npos);
  CHECK(error_of("kl", std::numeric_limits<double>::quiet_NaN()).find("finite") != std::string::npos);
  CHECK(error_of("sqnr", std::numeric_limits<double>::infinity()).find("finite") != std::string::npos);
  CHECK(error_of("top1", 1.0).find("below 1") != std::string::npos);
  CHECK(error_of("cosine", 1.5).find("below 1") != std::string::npos);
  CHECK(error_of("expected-accuracy", 1.0).find("below 1") != std::string::npos);
  CHECK(error_of("accuracy", 1.0).find("below 1") != std::string::npos);
  CHECK(error_of("sqnr", 250).find("200") != std::string::npos);
  CHECK(error_of("perplexity", 0.1).find("unknown budget metric") != std::string::npos);
  CHECK(error_of("kl", 3.0).empty());  // KL has no upper bound
  CHECK(error_of("top1", 0.0).empty());
}

TEST_CASE("evaluator: the budget request is checked before any work") {
  passes::EvaluatorOptions o;
  CHECK(passes::check_budget_request(o).ok());  // auto, no eval set: label-free
  o.budget.metric = "bleu";
  CHECK(!passes::check_budget_request(o).ok());
  o.budget.metric = "accuracy";  // needs an eval set
  CHECK(passes::check_budget_request(o).message().find("fidelity") != std::string::npos);
  o.eval_path = kSamples + "/kjv-lm-eval.npy";
  o.task = calibration::EvalTask::kLanguageModel;  // accuracy is not the lm task's metric
  CHECK(!passes::check_budget_request(o).ok());
  o.budget.metric = "auto";
  o.budget.allowed = -0.01;
  CHECK(!passes::check_budget_request(o).ok());
  o.eval_path.clear();
  CHECK(!passes::check_budget_request(o).ok());  // negative, label-free
  o.budget.allowed = 30;  // 30 nats or a 30 dB floor? Ambiguous without a metric.
  CHECK(passes::check_budget_request(o).message().find("--budget-metric") != std::string::npos);
  o.budget.allowed.reset();
  CHECK(passes::check_budget_request(o).ok());
  CHECK(passes::uses_fidelity(o.budget, ""));
  CHECK(!passes::uses_fidelity(o.budget, "eval.npz"));
  o.budget.metric = "kl";
  CHECK(passes::uses_fidelity(o.budget, "eval.npz"));  // an explicit fidelity metric ignores the eval set
}

TEST_CASE("evaluator: a classify eval set without labels is refused, suggesting the fidelity budget") {
  calib_test::ScratchDir dir("fidelity_nolabels");
  auto eval = formats::read_npz(kSamples + "/digits-eval.npz");
  REQUIRE(eval.ok());
  eval->erase("labels");
  REQUIRE(formats::write_npz(dir.file("eval.npz"), *eval).ok());
  Digits d = open_digits();
  passes::EvaluatorOptions o;
  o.task = calibration::EvalTask::kClassify;
  o.eval_path = dir.file("eval.npz");
  auto evaluator = passes::make_evaluator(d.model, d.calib, o);
  REQUIRE(!evaluator.ok());
  CHECK(evaluator.status().message().find("labels") != std::string::npos);
  CHECK(evaluator.status().message().find("fidelity") != std::string::npos);
}

TEST_CASE("evaluator: label-free on the digits CNN: auto is kl for its Gemm logits, FP32 scores perfectly") {
  Digits d = open_digits();
  auto split = passes::held_back_rows(d.calib, {}, "", 32);
  REQUIRE(split.ok());
  CHECK(split->first.num_rows() == 32);
  CHECK(split->last.num_rows() == 32);
  for (const char* metric : {"auto", "kl", "top1", "sqnr", "cosine", "expected-accuracy"}) {
    passes::EvaluatorOptions o;
    o.budget.metric = metric;
    auto evaluator = passes::make_evaluator(d.model, split->last, o);
    REQUIRE_MESSAGE(evaluator.ok(), evaluator.status().message());
    auto q = (*evaluator)->measure(d.model);
    REQUIRE(q.ok());
    CHECK(q->samples == 32);
    if (std::string(metric) == "auto") CHECK(q->metric == "kl");
    const double perfect = q->metric == "kl" || q->metric == "expected-accuracy" ? 0.0 : q->metric == "sqnr" ? 200.0 : 1.0;
    CHECK(q->value == doctest::Approx(perfect));
    CHECK((*evaluator)->budget(std::nullopt).ok());
  }
  // Given the calibration rows, the evaluator measures on the rows held back from them.
  auto from_first = passes::make_evaluator(d.model, split->first, {});
  REQUIRE(from_first.ok());
  CHECK((*from_first)->measure(d.model)->samples == 32);
  // A budget the metric cannot take fails when the evaluator is made, before any calibration.
  passes::EvaluatorOptions bad;
  bad.budget = {"top1", 1.0};
  CHECK(!passes::make_evaluator(d.model, split->last, bad).ok());
}

TEST_CASE("compress: no eval set, no task: a label-free budget on held-back calibration rows") {
  Digits d = open_digits();
  passes::CompressOptions o;
  o.schemes = {"w8"};
  auto result = passes::compress_model(d.model, d.calib, o);
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  CHECK(result->metric == "kl");
  CHECK(result->holdout_rows == 32);
  CHECK(result->eval_rows == 32);
  CHECK(result->fp32_quality == 0.0);
  CHECK(passes::metric_lower_is_better(result->metric));
  CHECK(result->budget == doctest::Approx(0.01));
  CHECK(result->budget_met);
  CHECK(result->candidates[0].quality > 0.0);  // INT8 weights move the logits a little
  CHECK(result->candidates[0].quality < 0.01);
  // Holding back every row leaves none to calibrate: refused before any candidate is built.
  o.recipe.holdout_rows = 64;
  auto too_many = passes::compress_model(d.model, d.calib, o);
  REQUIRE(!too_many.ok());
  CHECK(too_many.status().code() == StatusCode::kInvalidInput);
}

}  // namespace ember::fidelity_budget_test
