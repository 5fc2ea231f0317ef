#include "passes/search/measured_effect.h"

#include <algorithm>

namespace ember::passes::search {

std::vector<std::optional<double>> measured_effects(const std::vector<MeasuredState>& accepted, const std::vector<LayerAction>& chosen,
                                                    const std::function<double(size_t, const LayerAction&)>& predicted,
                                                    double metric_per_loss) {
  std::vector<std::optional<double>> out(chosen.size());
  if (accepted.empty() || !(metric_per_loss > 0)) return out;
  std::vector<LayerAction> previous(chosen.size());  // FP32: no damage
  double previous_damage = 0;
  std::vector<double> sum(chosen.size(), 0.0);
  for (const MeasuredState& state : accepted) {
    std::vector<size_t> changed;
    std::vector<double> share;
    double total = 0;
    for (size_t i = 0; i < chosen.size() && i < state.actions.size(); ++i) {
      if (state.actions[i] == previous[i]) continue;
      changed.push_back(i);
      share.push_back(predicted(i, state.actions[i]) - predicted(i, previous[i]));
      total += share.back();
    }
    // Signed shares: a layer a stage gives bytes back to (a pruning undone) takes back its part.
    const double delta = state.damage - previous_damage;
    for (size_t k = 0; k < changed.size(); ++k)
      sum[changed[k]] += delta * (total > 0 ? share[k] / total : 1.0 / double(changed.size()));
    previous = state.actions;
    previous_damage = state.damage;
  }
  for (size_t i = 0; i < chosen.size(); ++i)
    if (i < previous.size() && previous[i] == chosen[i]) out[i] = sum[i] / metric_per_loss;
  return out;
}

}  // namespace ember::passes::search
