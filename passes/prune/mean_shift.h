// Mean-shift correction after structured pruning (prune-structured{mean-shift=true}).
// Each refit (recovery.h) matches its consumer's output on the unpruned model's statistics, but
// in the pruned model every consumer sees inputs that earlier removals moved, and the residual
// stream's mean drifts block after block. For every consumer c that lost inputs, in graph
// order, the value t_c its output is added into (the residual Add's output; c's own output when
// it feeds no Add) is observed on the first `batches` calibration batches and c's bias absorbs
// the difference of the per-channel means:
//   b_c += E_original[t_c] - E_pruned[t_c]
// measured on the model with the corrections before c already made, so each block starts from a
// corrected stream. Only a mean (one vector per consumer) is fitted: it cannot overfit the rows.
// A consumer without a bias, or whose bias other nodes read, is left as it is (named in `skipped`).
#pragma once
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "passes/analysis/layer_model.h"

namespace ember::passes::prune {

struct MeanShiftReport {
  std::vector<std::string> corrected, skipped;  // consumer nodes
  double mean_abs_shift = 0;                    // mean |b_c change| over the corrected channels
};

// `consumers` are layers of `original` (their weights keep their names in `pruned`).
Result<MeanShiftReport> correct_mean_shift(const ir::Model& original, ir::Model& pruned, const calibration::CalibrationSet& calib,
                                           const std::vector<analysis::Layer>& consumers, int64_t batches);

}  // namespace ember::passes::prune
