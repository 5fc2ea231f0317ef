// smooth-quant{alpha=0.5}: SmoothQuant-style scale migration (Xiao et al., 2023), so that
// per-tensor INT8 activations survive the few channels with outliers that LayerNorm outputs
// carry in transformers.
//
// Before: LN(x; gamma, beta) -> Y -> [Reshape ->] Linear(Y, W)
// After:  LN(x; gamma/s, beta/s) -> Y/s -> [Reshape ->] Linear(Y/s, diag(s) W)     (same function)
// with, per input channel j,  s_j = max|Y_j|^alpha / max|W_j,:|^(1 - alpha)
// (max|Y_j| from calibration; W_j,: is the row of W that multiplies channel j, taken over every
// linear reading Y). alpha = 0 leaves activations alone, 1 moves all the range into weights.
//
// Preconditions, checked per LayerNorm (a group that fails them is left unchanged):
//   * LayerNormalization over the last axis, gamma (and beta, if present) float initializers;
//   * Y is read only by MatMul/Gemm (as input A; Gemm with transA = 0) with float initializer
//     weights, directly or through Reshapes that keep the last dimension;
//   * Y is not a graph output.
// Initializers that something outside the group also reads are copied before scaling.
// Pipeline order: smooth-quant, then quantize-weights (which quantizes the scaled weights),
// then quantize-activations{mode=static}. Needs a calibration set (ember opt --calib SET).
#pragma once
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "passes/pass.h"

namespace ember::passes {

struct SmoothGroup {
  size_t norm_node = 0;          // the LayerNormalization
  std::string activation;        // its output Y
  int64_t channels = 0;          // length of gamma
  std::vector<size_t> linears;   // MatMul/Gemm nodes whose input A is Y (or a Reshape of it)
};

std::vector<SmoothGroup> find_smooth_groups(const ir::Graph& graph);

struct SmoothOptions {
  double alpha = 0.5;
  int64_t max_rows = 0;  // calibration rows; 0: the whole set
};

// Calibrates the groups' activations and rescales. Returns the number of groups smoothed.
Result<size_t> smooth_activations(ir::Model& model, const calibration::CalibrationSet& set, const SmoothOptions& options,
                                  Remarks* remarks, std::string_view pass_name);

class SmoothQuant final : public Pass {
 public:
  explicit SmoothQuant(const PassOptions& options) : options_(options) {}
  static std::vector<OptionSpec> option_specs();
  std::string_view name() const override { return "smooth-quant"; }
  Status run(ir::Model& model, PassContext& ctx) override;

 private:
  PassOptions options_;
};

}  // namespace ember::passes
