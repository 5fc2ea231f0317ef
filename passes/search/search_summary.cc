#include "passes/search/search_summary.h"

namespace ember::passes::search {

SearchLayerRecord layer_record(const SearchLayer& layer, const LayerAction& chosen, const std::vector<double>& sensitivity) {
  SearchLayerRecord r;
  r.node = layer.node;
  r.weight = layer.weight;
  r.op = layer.op;
  r.stage = stage_name(layer.stage);
  r.action = action_name(chosen);
  r.params = layer.params;
  r.bits_per_weight = layer.params > 0 ? 8.0 * double(action_bytes(layer, chosen)) / double(layer.params) : 32;
  r.pruned_ratio = prune_ratio(chosen);
  for (size_t a = 0; a < layer.allowed.size() && a < sensitivity.size(); ++a) {
    r.sensitivity[action_name(layer.allowed[a])] = sensitivity[a];
    if (layer.allowed[a] == chosen) r.predicted_loss = sensitivity[a];
  }
  return r;
}

void mark_pareto(std::vector<Candidate>& candidates, bool lower_is_better) {
  auto better = [&](double a, double b) { return lower_is_better ? a < b : a > b; };
  for (auto& c : candidates) {
    c.pareto = true;
    for (const auto& o : candidates) {
      const bool no_worse = o.model_bytes <= c.model_bytes && !better(c.quality, o.quality);
      const bool strictly = o.model_bytes < c.model_bytes || better(o.quality, c.quality);
      if (&o != &c && no_worse && strictly) c.pareto = false;
    }
  }
}

}  // namespace ember::passes::search
