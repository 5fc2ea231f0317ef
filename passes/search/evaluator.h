// How a compression search measures a candidate's quality: one interface, so the search does
// not care whether quality is a task metric on a labelled eval set (bits per byte, accuracy) or
// label-free fidelity to the FP32 model's outputs (KL, top-1 agreement, SQNR, cosine).
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
// compares against; a labelled evaluator reads only the eval set.
Result<std::unique_ptr<QualityEvaluator>> make_evaluator(const ir::Model& fp32, const calibration::CalibrationSet& calib,
                                                         const EvaluatorOptions& options);

}  // namespace ember::passes
