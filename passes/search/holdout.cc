#include "passes/search/holdout.h"

#include "passes/search/evaluator.h"

namespace ember::passes {

Result<calibration::CalibrationSet> hold_back_rows(const calibration::CalibrationSet& calib, const CompressOptions& options) {
  EvaluatorOptions request;
  request.budget = options.recipe.budget;
  if (!request.budget.allowed) request.budget.allowed = options.budget;
  request.task = options.task;
  request.eval_path = options.eval_path;
  EMBER_TRY(check_budget_request(request));
  EMBER_ASSIGN_OR_RETURN(calibration::CalibrationSet::Split split,
                         held_back_rows(calib, request.budget, options.eval_path, options.recipe.holdout_rows));
  return std::move(split.first);
}

Result<std::optional<calibration::CalibrationSet>> importance_rows(const calibration::CalibrationSet& calib, int64_t rows) {
  if (rows <= 0 || rows >= calib.num_rows()) return std::optional<calibration::CalibrationSet>();
  EMBER_ASSIGN_OR_RETURN(calibration::CalibrationSet::Split split, calib.split_last(calib.num_rows() - rows));
  return std::optional<calibration::CalibrationSet>(std::move(split.first));
}

}  // namespace ember::passes
