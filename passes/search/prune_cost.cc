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

namespace {

// Per unit of the block: the rank prune-structured orders by (head-score=taylor) and the
// removal score; empty when the importance analysis has no scores for the block.
std::pair<std::vector<double>, std::vector<double>> unit_scores(const prune::HeadGroup& g, const analysis::ImportanceReport& importance) {
  const analysis::HeadImportance* q = analysis::find_head_importance(importance, g.block);
  if (!q || int64_t(q->taylor.size()) != g.heads() || q->fisher.size() != q->taylor.size()) return {};
  if (!g.grouped_query()) return {q->taylor, q->fisher};
  const analysis::HeadImportance* kv = analysis::find_head_importance(importance, g.kv_block);
  if (!kv || int64_t(kv->fisher_first.size()) != g.units() || int64_t(kv->taylor_first.size()) != g.units()) return {};
  const int64_t per_unit = g.heads() / g.units();
  std::vector<double> rank(size_t(g.units()), 0.0), removal(size_t(g.units()), 0.0);
  for (int64_t h = 0; h < g.heads(); ++h) {
    rank[size_t(h / per_unit)] += q->taylor[size_t(h)];
    removal[size_t(h / per_unit)] += q->fisher[size_t(h)];
  }
  for (size_t u = 0; u < rank.size(); ++u) {
    rank[u] += kv->taylor_first[u];
    removal[u] += kv->fisher_first[u];
  }
  if (int64_t(kv->group_taylor.size()) == g.units()) rank = kv->group_taylor;  // the unit's own score, as the pass ranks
  return {rank, removal};
}

}  // namespace

PruneLosses predict_prune_losses(const std::vector<SearchLayer>& layers, const analysis::ImportanceReport& importance,
                                 const std::vector<prune::HeadGroup>& head_groups) {
  PruneLosses out = predict_prune_losses(layers, importance);
  for (const prune::HeadGroup& g : head_groups) {
    std::vector<size_t> members;
    for (size_t i = 0; i < layers.size(); ++i)
      if (layers[i].prune_heads && layers[i].prune_group == g.name()) members.push_back(i);
    const auto [rank, removal] = unit_scores(g, importance);
    if (members.empty() || int64_t(rank.size()) != g.units()) continue;
    for (size_t i : members)
      for (const auto& a : layers[i].allowed) {
        const double r = prune_ratio(a);
        if (r > 0 && !out[i].count(r))
          out[i][r] = lowest_units_loss(rank, removal, pruned_units(layers[i], r)) / double(members.size());
      }
  }
  return out;
}

PruneLosses predict_prune_losses(const std::vector<SearchLayer>& layers, const analysis::ImportanceReport& importance) {
  std::map<std::string, const analysis::TensorImportance*> first_layer;  // node of an FFN's first layer -> its scores
  for (const auto& t : importance.tensors)
    if (t.groups.kind == analysis::GroupKind::kFfnNeuron && !t.layer_node.empty()) first_layer[t.layer_node] = &t;
  PruneLosses out(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const SearchLayer& layer = layers[i];
    if (layer.prune_heads) continue;  // heads: the overload with the head groups
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
