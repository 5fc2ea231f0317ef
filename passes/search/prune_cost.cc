#include "passes/search/prune_cost.h"

#include <algorithm>
#include <numeric>

namespace ember::passes::search {

double lowest_units_loss(const std::vector<double>& rank, const std::vector<double>& removal, int64_t units) {
  std::vector<size_t> order(rank.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // The pass's order: lowest score first, ties by index (neuron_selection.h).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rank[a] < rank[b]; });
  double sum = 0;
  for (int64_t k = 0; k < units && size_t(k) < order.size(); ++k) sum += removal[order[size_t(k)]];
  return sum;
}

PruneLosses predict_prune_losses(const std::vector<SearchLayer>& layers, const analysis::ImportanceReport& importance) {
  std::map<std::string, const analysis::TensorImportance*> first_layer;  // node of an FFN's first layer -> its scores
  for (const auto& t : importance.tensors)
    if (t.groups.kind == analysis::GroupKind::kFfnNeuron && !t.layer_node.empty()) first_layer[t.layer_node] = &t;
  PruneLosses out(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const SearchLayer& layer = layers[i];
    auto it = layer.prune_group.empty() ? first_layer.end() : first_layer.find(layer.prune_group);
    if (it == first_layer.end()) continue;
    const analysis::GroupScores& g = it->second->groups;
    if (int64_t(g.taylor_first.size()) != layer.prune_units || g.fisher.size() != g.taylor_first.size()) continue;
    for (const auto& a : layer.allowed) {
      const double r = prune_ratio(a);
      if (r > 0 && !out[i].count(r)) out[i][r] = 0.5 * lowest_units_loss(g.taylor_first, g.fisher, pruned_units(layer, r));
    }
  }
  return out;
}

}  // namespace ember::passes::search
