// Calibrator: runs a CalibrationSet through the interpreter and feeds one Observer per chosen
// value, batch by batch, so no activation outlives its batch. Values can be graph inputs or
// node outputs; values the interpreter folds to constants at load are reported, not observed.
//
// Errors name what the user must fix:
//   * a model the interpreter cannot run: the unsupported operators are listed, with the note
//     that quantization needing no calibration still works;
//   * NaN or inf: the value, the element, and the batch (with its rows) of the set;
//   * names that are not values of the model.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "calibration/observer.h"
#include "calibration/table.h"
#include "ir/model.h"
#include "ir/status.h"

namespace ember::calibration {

struct CalibratorOptions {
  ObserverOptions observer;
  std::vector<std::string> values;  // names to observe
  int64_t max_rows = 0;             // stop after the batch that reaches this many rows; 0: all
  int threads = 0;                  // interpreter threads, 0: all cores
  std::function<void(int64_t done, int64_t total)> progress;  // batches
};

struct CalibrationResult {
  std::map<std::string, ObserverResult> values;
  std::map<std::string, std::string> skipped;  // value -> why it has no statistics
  int64_t rows = 0;
  int64_t batches = 0;
};

Result<CalibrationResult> calibrate_values(const ir::Model& model, const CalibrationSet& set, const CalibratorOptions& options);

// A table of the observed values, with affine parameters for the method.
CalibrationTable make_calibration_table(const CalibrationResult& result, const ObserverOptions& options,
                                        const CalibrationSet& set);

// Values fixed before any input arrives: initializers (unless a graph input may override
// them), Constant outputs, and outputs of nodes that read only such values.
std::set<std::string> constant_values(const ir::Graph& graph);

// Run-time (non-constant) inputs of the nodes whose op type is in `op_types`: the data inputs
// of MatMul (A and B), Gemm (A and B), Conv and ConvTranspose (X), and every input of other ops.
// In graph order, without duplicates. The default set is what static INT8 quantizes.
std::vector<std::string> activation_inputs(const ir::Model& model,
                                           const std::set<std::string>& op_types = {"MatMul", "Gemm", "Conv"});

}  // namespace ember::calibration
