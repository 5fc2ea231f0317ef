// Each layer's measured effect, for the manifest beside its predicted loss (issue 16: "per
// layer the action chosen and its predicted and measured effect").
// Before: the states progressive verification accepted, in order (all FP32 before the first),
//         each measured: damage d_k = how much worse than FP32 (metric units, >= 0 is worse).
// After:  per layer, the sum over the stages that changed it of its share of the stage's
//         measured change:
//           m_i = sum_k (d_k - d_{k-1}) * p_ik / sum_{j changed at k} p_jk,
//           p_ik = predicted_i(state_k) - predicted_i(state_{k-1})  (signed: a layer whose loss a
//                  stage lowers gives back its part; equal shares when the sum is not positive)
//         divided by metric_per_loss, so it is in the predicted loss's units. A stage is one
//         measurement of all the layers it changes: the split between them follows the
//         predictions, the stage total is measured. Layers whose chosen action is not the
//         last accepted state's (a refitted allocation chose otherwise) get no measured effect.
#pragma once
#include <functional>
#include <optional>
#include <vector>

#include "passes/search/actions.h"

namespace ember::passes::search {

struct MeasuredState {
  std::vector<LayerAction> actions;
  double damage = 0;  // measured, metric units
};

std::vector<std::optional<double>> measured_effects(const std::vector<MeasuredState>& accepted, const std::vector<LayerAction>& chosen,
                                                    const std::function<double(size_t, const LayerAction&)>& predicted,
                                                    double metric_per_loss);

}  // namespace ember::passes::search
