// The first line of compress_model: with a label-free budget (a fidelity metric, or "auto"
// without an eval set), the last `recipe.holdout_rows` calibration rows are held back. They
// never feed calibration statistics; the evaluator measures fidelity on them.
//
//   before: calib = rows 0 .. n-1
//   after:  calibration rows 0 .. n-h-1, whose held_back() is rows n-h .. n-1 (make_evaluator
//           finds them there, so the code between needs no other change)
#pragma once
#include <optional>

#include "calibration/dataset.h"
#include "passes/search/compress.h"

namespace ember::passes {

// Checks the budget request first (check_budget_request: exit 2 before any calibration runs),
// then splits. With a task budget every row calibrates (a copy of `calib`, nothing held back).
// invalid_input when the set is too small to hold rows back and keep one for calibration.
Result<calibration::CalibrationSet> hold_back_rows(const calibration::CalibrationSet& calib, const CompressOptions& options);

// The rows the search's gradient importance scores: the first `rows` rows of the calibration
// rows (`calib` is what hold_back_rows returned, so a held-back row is never scored); none (score
// them all) when `rows` is 0 or not below the set's size. Importance is the search's costliest
// analysis (a forward and a backward pass per row); layer statistics and GPTQ use every row.
Result<std::optional<calibration::CalibrationSet>> importance_rows(const calibration::CalibrationSet& calib, int64_t rows);

// How many rows `calib` holds back (0: none), for CompressResult::holdout_rows.
inline int64_t held_back_count(const calibration::CalibrationSet& calib) {
  return calib.held_back() ? calib.held_back()->num_rows() : 0;
}

}  // namespace ember::passes
