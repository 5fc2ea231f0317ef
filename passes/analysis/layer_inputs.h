// Statistics of the inputs of linear layers over a calibration set, streamed: the float
// model runs batch by batch and an interpreter observer folds each watched activation into
//   X^T X  (for GPTQ's Hessian and AWQ's output-error model), and
//   sum |x| and sum x per input channel (AWQ's activation scale; pruning's means), when asked for.
// Activations are never stored. A row is the last dimension of an activation (a token).
// About `max_rows` rows per activation are used: the first batch shows how many rows a batch
// gives, then only as many batches run as the cap needs, evenly spaced over the set (the
// forward passes cost more than the statistics); when one batch alone exceeds the cap a
// deterministic pseudo-random subset of its rows is kept. `batch_rows` > 0 runs the set's
// batches in slices of that many rows (models exported for batch 1 need 1).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/quantize/gptq.h"

namespace ember::calibration {
class CalibrationSet;
}

namespace ember::passes::analysis {

using quant::HessianAccumulator;

struct LayerInputStats {
  int64_t dim = 0;
  std::unique_ptr<HessianAccumulator> xtx;
  std::vector<double> abs_sum;  // empty unless requested
  std::vector<double> sum;      // sum x per input channel, with abs_sum (pruning's bias compensation)
  int64_t rows = 0;             // rows observed
  std::vector<float> mean_abs() const;
  std::vector<double> mean() const;  // E[x] per input channel; empty without sums
};

struct LayerInputRequest {
  std::string value;  // activation name
  int64_t dim = 0;    // its last dimension (the layer's reduction size)
};

// Runs `model` (left untouched) over every batch of `calib`. Values the run never produced
// (renamed or removed by the interpreter's simplification) are absent from the result.
Result<std::map<std::string, LayerInputStats>> collect_layer_inputs(const ir::Model& model,
                                                                    const calibration::CalibrationSet& calib,
                                                                    const std::vector<LayerInputRequest>& requests,
                                                                    int64_t max_rows, bool mean_abs,
                                                                    int64_t batch_rows = 0);

// The layer-input analysis of the AnalysisManager: the statistics above (X^T X, the GPTQ
// Hessians, and sum |x|) for the activation input of every linear use of every layer weight
// (layer_model.h), from one streamed run of the model over the calibration set.
struct LayerInputAnalysis {
  static constexpr std::string_view kName = "layer-inputs";
  struct Options {
    int64_t max_rows = 8192;  // rows per activation entering its statistics
    int64_t batch_rows = 0;   // rows per inference; 0 = as the set was opened
    std::string key() const { return "max-rows=" + std::to_string(max_rows) + ",batch=" + std::to_string(batch_rows); }
  };
  struct Output {
    std::map<std::string, LayerInputStats> stats;  // by activation name
  };
  static Result<Output> compute(const ir::Model& model, const calibration::CalibrationSet& set, const Options& options,
                                const std::function<void(int64_t, int64_t)>& progress);
};

}  // namespace ember::passes::analysis
