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

// One inference's rows of a calibration set: rows [start, start + count) of one batch.
struct CalibrationUnit {
  int64_t batch = 0, start = 0, count = -1;  // count -1: the whole batch
};

// The inference units of a set: its batches, or slices of `batch_rows` rows of them.
int64_t calibration_unit_count(const calibration::CalibrationSet& calib, int64_t batch_rows);
// Unit 0 and then `needed` - 1 more, evenly spaced over the set: the units a row cap needs.
std::vector<CalibrationUnit> calibration_units(const calibration::CalibrationSet& calib, int64_t batch_rows, int64_t needed);
// The feeds of one unit, and its name for error messages.
std::map<std::string, Tensor> unit_feeds(const calibration::CalibrationSet& calib, const CalibrationUnit& unit);
std::string unit_name(const CalibrationUnit& unit);
// How many units a cap of `max_rows` rows per activation needs when a unit gives `per_unit` rows.
int64_t calibration_units_needed(const calibration::CalibrationSet& calib, int64_t batch_rows, int64_t max_rows,
                                 int64_t per_unit);

// Folds watched activations into LayerInputStats through an interpreter observer. Units are
// observed in order: the first shows how many rows a unit gives (then set_units_needed fixes
// the row sampling for the rest), as collect_layer_inputs does.
class LayerInputCollector {
 public:
  LayerInputCollector(const std::vector<LayerInputRequest>& requests, int64_t max_rows, bool mean_abs);
  ~LayerInputCollector();
  LayerInputCollector(LayerInputCollector&&) noexcept;
  // Folds `value` in when `name` is watched and the value has the layer's layout.
  Status observe(const std::string& name, const Tensor& value);
  // The most rows one unit gave any watched activation (at least 1), after the first unit.
  int64_t rows_per_unit() const;
  // After the first unit: `needed` units run in all (the row sampling keeps about max_rows).
  void set_units_needed(int64_t needed);
  // The statistics of every activation that was observed.
  std::map<std::string, LayerInputStats> take();

 private:
  struct Watches;
  std::unique_ptr<Watches> watches_;
  int64_t cap_;
  bool mean_abs_;
  bool sized_ = false;  // set_units_needed was called: the first unit's rows are counted
};

// Runs `model` (left untouched) over every batch of `calib`; values inside If / Loop / Scan
// bodies are observed at every run of their body (a Loop's or Scan's rows of all iterations). Values the run never produced
// (renamed or removed by the interpreter's simplification) are absent from the result.
Result<std::map<std::string, LayerInputStats>> collect_layer_inputs(const ir::Model& model,
                                                                    const calibration::CalibrationSet& calib,
                                                                    const std::vector<LayerInputRequest>& requests,
                                                                    int64_t max_rows, bool mean_abs,
                                                                    int64_t batch_rows = 0);

// The layer-input analysis of the AnalysisManager: the statistics above (X^T X, the GPTQ
// Hessians, and sum |x|) for the activation input of every linear use of every layer weight
// (layer_model.h), bodies' layers included (build_layer_model_with_bodies), from one streamed
// run of the model over the calibration set.
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
