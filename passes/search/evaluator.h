// How a compression search measures a candidate's quality: one interface, so the search does
// not care whether quality is a task metric on a labelled eval set (bits per byte, accuracy) or
// label-free fidelity to the FP32 model's outputs (KL, top-1 agreement, SQNR, cosine, expected accuracy drop).
#pragma once
#include <memory>
#include <string>

#include "calibration/dataset.h"
#include "calibration/evaluation.h"
#include "ir/model.h"
#include "passes/budget.h"
#include "passes/search/search_recipe.h"

namespace ember::passes {

class QualityEvaluator {
 public:
  virtual ~QualityEvaluator() = default;
  // The quality of a model (metric name, value, rows measured).
  virtual Result<calibration::EvalResult> measure(const ir::Model& model) = 0;
  // The budget that `allowed` (none: the metric's default) means for this metric.
  virtual Result<Budget> budget(std::optional<double> allowed) const = 0;
};

struct EvaluatorOptions {
  SearchBudget budget;                 // metric "auto" picks the task metric when eval_path is set
  calibration::EvalTask task = calibration::EvalTask::kLanguageModel;
  std::string eval_path;               // empty: no labelled eval set
  int64_t eval_limit = 0;
  int threads = 0;
};

// The evaluator the options ask for. `fp32` and `calib` are what a label-free evaluator
// compares against: it measures on calib.held_back() (the rows compress_model holds back at its
// top, hold_back_rows in holdout.h), or on `calib` itself when nothing was held back from it; the
// FP32 outputs on those rows are captured here, once. A labelled evaluator
// reads only the eval set. invalid_input (before any calibration runs) for: an unknown metric, a
// task metric without an eval set or for the other task, a classify eval set without labels, a
// fidelity metric that does not fit the model's outputs (calibration/fidelity.h).
Result<std::unique_ptr<QualityEvaluator>> make_evaluator(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                                         const EvaluatorOptions& options);

// True when the budget is label-free (a fidelity metric, or "auto" without an eval set): the
// calibration set must then hold rows back.
bool uses_fidelity(const SearchBudget& budget, const std::string& eval_path);

// Checks what can be checked without the model, before any work: the metric's name, that a task
// metric has an eval set of its task, and the budget's value against the metric (make_metric_budget).
// For "auto" without an eval set the value is checked when the metric is known (make_evaluator).
Status check_budget_request(const EvaluatorOptions& options);

// The split of compress_model's first lines: with a label-free budget, the last `holdout_rows`
// calibration rows are held back (`last`) and the others calibrate (`first`); otherwise every
// row calibrates and `last` is the same set (unused).
Result<calibration::CalibrationSet::Split> held_back_rows(const calibration::CalibrationSet& calib, const SearchBudget& budget,
                                                          const std::string& eval_path, int64_t holdout_rows);

}  // namespace ember::passes
