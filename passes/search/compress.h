// The progressive, budgeted controller behind `ember compress`.
// The search (the default; search_model.cc):
//   1. Check the target against what the cheapest action of every layer allows (exit 2
//      before any calibration when it cannot be met).
//   2. Measure the FP32 model's quality (the reference) and its gradient importance (once,
//      through the AnalysisManager); predict the loss of every action of every layer
//      (action_cost.h) and calibrate the predictions on two measured uniform models.
//   3. Allocate one action per layer (allocation.h): the least predicted loss under a size,
//      bits-per-weight, energy or latency target (energy and latency costs per action:
//      resource_plan.h, measured before step 2), or the smallest model whose predicted loss fits
//      the budget.
//   4. Verify progressively (progressive.h): FFN layers, then attention, then the aggressive
//      actions; each stage is a candidate built by a replayable pipeline and measured; a stage
//      that breaks the budget backs off its most damaging layers by bisection.
// The uniform ladder (options.schemes non-empty, `--scheme`): recipes tried in order (INT4 b32
// GPTQ everywhere, INT4 with INT8 embeddings, W8A8, INT8 weights); the first within budget wins.
// Either way, when no candidate meets the budget the best-effort one is returned with
// budget_met = false (exit 1 in the CLI).
// Budget: for lm, the allowed relative increase of bits per byte (0.015 = +1.5%); for
// classify, the allowed absolute drop of accuracy (0.01 = one point).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "calibration/evaluation.h"
#include "ir/model.h"
#include "passes/pass.h"
#include "passes/pass_manager.h"
#include "passes/search/evaluator.h"
#include "passes/search/search_recipe.h"

namespace ember::passes {

class LatencyTable;

struct CompressOptions {
  calibration::EvalTask task = calibration::EvalTask::kLanguageModel;
  std::string eval_path;
  int64_t eval_limit = 0;
  std::optional<double> budget;  // none: the default for the task (lm 0.015 relative, classify 0.01 absolute); recipe.budget.allowed wins
  std::vector<std::string> schemes;  // uniform recipe names to try, in order; empty: the search
  SearchRecipe recipe;               // what the search is asked to do (target, budget, actions, overrides, limits)
  int threads = 0;
  std::function<void(const std::string& stage)> on_stage;  // progress text
  AnalysisManager::ProgressSink analysis_progress;          // progress of long analyses (may be empty)
  // Rows for the importance analysis chosen by the caller; nullptr (what `ember compress` passes):
  // the first recipe.importance_rows calibration rows after the hold-back (holdout.h
  // importance_rows), or every row when pruning is allowed. Layer statistics use the whole set.
  const calibration::CalibrationSet* importance_calib = nullptr;
  // Latency targets: the lookup table to read and extend (latency_table.h); nullptr: one for this
  // run only. Its entries decide the chosen model, so a recorded table reproduces it.
  LatencyTable* latency_table = nullptr;
};

struct Candidate {
  std::string scheme;      // "int4-gptq", "int4-mixed", "w8a8", "w8", ...
  std::string pipeline;    // canonical pipeline text
  double quality = 0;
  size_t model_bytes = 0;  // serialized size
  bool within_budget = false;
  std::vector<PassRecord> passes;
  double bits_per_weight = 0;  // over the search's layers (0 for the uniform ladder)
  bool within_target = true;
  std::optional<double> predicted_energy_joules{}, predicted_latency_seconds{};  // energy and latency targets
  bool pareto = false;         // no other candidate is both smaller and better
  double measure_seconds = 0;  // the evaluator's wall seconds (timings.json only, never the manifest)
};

// What the search decided per layer, for the manifest's `search` section.
struct SearchLayerRecord {
  std::string node, weight, op, stage, action;
  int64_t params = 0;
  double bits_per_weight = 32, pruned_ratio = 0;
  std::map<std::string, double> sensitivity;  // action name -> predicted loss
  double predicted_loss = 0;
  // The measured change of the progressive stages that applied the action, the layer's share by
  // its predicted loss, in the predicted loss's units (measured_effect.h); none when not measured.
  std::optional<double> measured_loss;
  // Energy and latency targets: the chosen action's predicted joules and seconds per inference.
  std::optional<double> predicted_energy_joules{}, predicted_latency_seconds{};
};

// One ratio of the head-narrowing stage (narrow_heads.h), measured on the narrowed FP32 model.
struct NarrowingTrial {
  double ratio = 0;
  double quality = 0;
  bool within_share = false;  // its damage within the share of the budget the narrowing may take
};

struct SearchStageRecord {
  std::string name;
  int64_t candidates = 0;
  double seconds = 0;  // for timings.json and --json only; never in the manifest
};

struct SearchSummary {
  bool ran = false;
  std::string target_kind = "none";  // none | size_bytes | bits_per_weight | energy_joules | latency_seconds
  double target_value = 0, target_achieved = 0;
  double gptq_factor = 0, metric_per_loss = 0;  // the calibrated cost scale
  double prune_factor = 0;                      // measured / predicted pruning damage (0: no pruning probe)
  std::vector<SearchLayerRecord> layers;
  std::vector<SearchStageRecord> stages;
  // The head-narrowing stage (narrow_heads.h): the ratio every attention head lost before the
  // per-layer search (0: none) and every ratio measured.
  double head_width = 0;
  std::vector<NarrowingTrial> narrowing;
  std::string narrowing_skipped;  // why the narrowing pass could not run on this model (empty: it ran)
  // Energy and latency targets (resource_cost.h), per inference on one calibration row: the
  // chosen model's and the FP32 model's predictions; latency also measured end to end by
  // ember's interpreter on this CPU (a timing: it differs between runs).
  std::optional<double> predicted_energy_joules, fp32_energy_joules;
  std::optional<double> predicted_latency_seconds, fp32_latency_seconds;
  std::optional<double> measured_latency_seconds, fp32_measured_latency_seconds;
  std::string latency_table_sha256;  // of the table entries the latency predictions came from
  int64_t latency_entries = 0, latency_measured = 0, latency_reused = 0;
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
  SearchSummary search;            // filled when the search ran (not the uniform ladder)
  int64_t holdout_rows = 0;        // calibration rows held back for a fidelity budget (0: none; then eval_rows are eval-set rows)
};

// The recipe names compress knows, smallest model first.
const std::vector<std::string>& compression_ladder();
// The pipeline of a recipe name (invalid_input for unknown names).
Result<std::vector<PipelineEntry>> recipe_pipeline(const std::string& scheme);

// Analyses of the FP32 model are computed once and shared by all candidates (analysis_manager.h).
// A negative or NaN budget, and a target no allocation can meet, are invalid_input before any
// calibration runs.
Result<CompressResult> compress_model(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                      const CompressOptions& options);
// The quality side both ways share: the evaluator the options ask for, its budget, and the FP32
// model measured once (its figures are written into `result`: metric, reference, limit, bytes).
struct Judge {
  std::unique_ptr<QualityEvaluator> evaluator;
  Budget budget;
  double reference = 0;  // the FP32 model's quality
};
Result<Judge> judge_fp32(const ir::Model& fp32, const calibration::CalibrationSet& calib, const CompressOptions& options,
                         CompressResult& result);

// The two ways compress_model goes: the uniform ladder (options.schemes) and the search.
Result<CompressResult> compress_uniform(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                        const CompressOptions& options);
Result<CompressResult> compress_search(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                       const CompressOptions& options);

}  // namespace ember::passes
