// The progressive, budgeted controller behind `ember compress`.
//   1. Measure the FP32 model's quality on the eval set (the reference).
//   2. Try recipes from the smallest model to the largest: INT4 block 32 (GPTQ) everywhere,
//      INT4 with INT8 embeddings and head, W8A8, INT8 weights. Each candidate is built by a
//      pass pipeline, evaluated on the eval set, and kept if it meets the budget.
//   3. The first (smallest) candidate within budget wins. When none meets it, the candidate
//      with the best quality is returned with budget_met = false (exit 1 in the CLI).
// Budget: for lm, the allowed relative increase of bits per byte (0.015 = +1.5%); for
// classify, the allowed absolute drop of accuracy (0.01 = one point).
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "calibration/evaluation.h"
#include "ir/model.h"
#include "passes/pass.h"
#include "passes/pass_manager.h"
#include "passes/search/search_recipe.h"

namespace ember::passes {

struct CompressOptions {
  calibration::EvalTask task = calibration::EvalTask::kLanguageModel;
  std::string eval_path;
  int64_t eval_limit = 0;
  std::optional<double> budget;  // none: the default for the task (lm 0.015 relative, classify 0.01 absolute); recipe.budget.allowed wins
  std::vector<std::string> schemes;  // recipe names to try, in order; empty: the whole ladder
  SearchRecipe recipe;               // what the search is asked to do (target, budget, actions, overrides, limits)
  int threads = 0;
  std::function<void(const std::string& stage)> on_stage;  // progress text
  AnalysisManager::ProgressSink analysis_progress;          // progress of long analyses (may be empty)
};

struct Candidate {
  std::string scheme;      // "int4-gptq", "int4-mixed", "w8a8", "w8", ...
  std::string pipeline;    // canonical pipeline text
  double quality = 0;
  size_t model_bytes = 0;  // serialized size
  bool within_budget = false;
  std::vector<PassRecord> passes;
};

struct CompressResult {
  ir::Model model;                 // the chosen candidate's model
  std::string metric;              // "bits_per_byte" or "accuracy"
  double fp32_quality = 0;
  int64_t eval_rows = 0;
  size_t fp32_bytes = 0;
  double budget = 0;
  double quality_limit = 0;        // the worst quality the budget allows
  bool budget_met = false;
  size_t chosen = 0;               // index into candidates
  std::vector<Candidate> candidates;
  Remarks remarks;                 // of the chosen candidate
  std::map<std::string, int64_t> analyses_computed;  // analysis name -> times computed (each once per model state)
  int64_t holdout_rows = 0;        // calibration rows held back for a fidelity budget (0: none; then eval_rows are eval-set rows)
};

// The recipe names compress knows, smallest model first.
const std::vector<std::string>& compression_ladder();
// The pipeline of a recipe name (invalid_input for unknown names).
Result<std::vector<PipelineEntry>> recipe_pipeline(const std::string& scheme);

// Analyses of the FP32 model are computed once and shared by all candidates (analysis_manager.h).
// A negative or NaN budget is invalid_input (make_budget).
Result<CompressResult> compress_model(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                      const CompressOptions& options);

}  // namespace ember::passes
