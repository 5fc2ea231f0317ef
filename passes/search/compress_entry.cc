// The entry of `ember compress` (compress.h): holds calibration rows back for a label-free
// budget (holdout.h), then runs the per-layer search (search_controller.cc) or the uniform
// ladder (uniform_ladder.cc); both first judge the FP32 model with the same evaluator and budget.
#include "formats/onnx_save.h"
#include "passes/search/compress.h"
#include "passes/search/evaluator.h"
#include "passes/search/holdout.h"

namespace ember::passes {

Result<Judge> judge_fp32(const ir::Model& fp32, const calibration::CalibrationSet& calib, const CompressOptions& options,
                         CompressResult& result) {
  EvaluatorOptions eval_options;
  eval_options.budget = options.recipe.budget;
  eval_options.task = options.task;
  eval_options.eval_path = options.eval_path;
  eval_options.eval_limit = options.recipe.eval_limit > 0 ? options.recipe.eval_limit : options.eval_limit;
  eval_options.threads = options.threads;
  Judge judge;
  EMBER_ASSIGN_OR_RETURN(judge.evaluator, make_evaluator(fp32, calib, eval_options));
  EMBER_ASSIGN_OR_RETURN(judge.budget, judge.evaluator->budget(options.recipe.budget.allowed ? options.recipe.budget.allowed : options.budget));
  if (options.on_stage) options.on_stage("measuring the FP32 model");
  EMBER_ASSIGN_OR_RETURN(const calibration::EvalResult reference, judge.evaluator->measure(fp32));
  judge.reference = reference.value;
  result.metric = reference.metric;
  result.fp32_quality = reference.value;
  result.eval_rows = reference.samples;
  EMBER_ASSIGN_OR_RETURN(const std::string fp32_bytes, formats::serialize_onnx(fp32));
  result.fp32_bytes = fp32_bytes.size();
  result.budget = judge.budget.allowed;
  result.quality_limit = judge.budget.limit(reference.value);
  return judge;
}

Result<CompressResult> compress_model(const ir::Model& fp32, const calibration::CalibrationSet& all_calib,
                                      const CompressOptions& options) {
  // A label-free budget holds the last recipe.holdout_rows rows back (holdout.h).
  EMBER_ASSIGN_OR_RETURN(const calibration::CalibrationSet calib, hold_back_rows(all_calib, options));
  Result<CompressResult> result = options.schemes.empty() ? compress_search(fp32, calib, options) : compress_uniform(fp32, calib, options);
  if (result.ok()) result->holdout_rows = held_back_count(calib);
  return result;
}

}  // namespace ember::passes
