// The predicted loss of static INT8 activations (the int8-a8-static action), from calibration
// statistics measured once.
// Before: the prepared FP32 model, its layer-input statistics (E[x_j^2] per input channel, the
//         GPTQ analysis, computed once) and the calibration set.
// After:  per layer that allows the action, rho = the output error of quantizing its input
//         against the output error of its INT8 per-channel weights:
//           rho = (s^2 / 12) sum_cj W_cj^2  /  sum_cj dW_cj^2 E[x_j^2]
//         with s = (hi - lo) / 255 the u8 step of the clip range quantize-activations{mode=static}
//         calibrates (percentile 99.99, the pass's default; one run of the model over the
//         calibration set observes every such input), rounding noise of variance s^2 / 12 per
//         element (uncorrelated: E[dx dx^T] = s^2/12 I), and dW the INT8 per-channel RTN error
//         (the weight's error through a diagonal E[x x^T]). Both errors reach the loss through
//         the same output gradients, and rounding noise has no first-order term, so the action
//         predicts L_int8 + rho N_int8 / 2: the weights' loss plus the activations' second-order
//         term, N_int8 = sum F dw^2 of the INT8 weights (the importance analysis's candidate;
//         without it, rho L_int8). Clipping beyond the calibrated range is not counted.
#pragma once
#include <vector>

#include "calibration/dataset.h"
#include "ir/model.h"
#include "ir/status.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/analysis_manager.h"
#include "passes/search/action_cost.h"

namespace ember::passes::search {

// rho per layer (0 for layers that allow no static activations).
Result<std::vector<double>> activation_error_ratios(const ir::Model& prepared, const calibration::CalibrationSet& calib,
                                                    const std::vector<SearchLayer>& layers,
                                                    const analysis::LayerInputAnalysis::Output& inputs);

// Adds rho * second_order[i] to each static-activation action's loss (rho * its own loss where
// second_order[i] < 0: unknown), after the RTN predictions are made monotone: the activations'
// error is not a weight precision's.
void add_activation_losses(LossTable& loss, const std::vector<SearchLayer>& layers, const std::vector<double>& rho,
                           const std::vector<double>& second_order);
// N_int8 / 2 per layer from the importance report (-1 where it has no INT8 candidate).
std::vector<double> int8_second_order(const std::vector<SearchLayer>& layers, const analysis::ImportanceReport& importance);

// The whole step on the search's FP32 analyses (layer inputs cached, calibration set): nothing
// when no layer allows static activations.
Status add_measured_activation_losses(LossTable& loss, const ir::Model& prepared, const std::vector<SearchLayer>& layers,
                                      const analysis::ImportanceReport& importance, AnalysisManager& analyses);

// True when some layer allows a static-activation action.
bool any_static_activations(const std::vector<SearchLayer>& layers);

}  // namespace ember::passes::search
