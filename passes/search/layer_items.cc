#include "passes/search/layer_items.h"

#include <algorithm>
#include <numeric>

namespace ember::passes::search {
namespace {

// Every combination of one allowed action per member with one prune ratio shared by all, in
// lexicographic order of the members' action indices (a pair: first x second, as before).
void add_combinations(const std::vector<SearchLayer>& layers, LayerItem& item, std::vector<size_t>& partial) {
  const size_t k = partial.size();
  if (k == item.layers.size()) {
    item.options.push_back(partial);
    return;
  }
  const auto& allowed = layers[item.layers[k]].allowed;
  for (size_t a = 0; a < allowed.size(); ++a) {
    if (k > 0 && prune_ratio(allowed[a]) != prune_ratio(layers[item.layers[0]].allowed[partial[0]])) continue;
    partial.push_back(a);
    add_combinations(layers, item, partial);
    partial.pop_back();
  }
}

}  // namespace

std::vector<size_t> prune_members(const std::vector<SearchLayer>& layers, size_t i) {
  if (layers[i].prune_group.empty()) return {i};
  std::vector<size_t> out;
  for (size_t j = 0; j < layers.size(); ++j)
    if (layers[j].prune_group == layers[i].prune_group) out.push_back(j);
  return out;
}

std::optional<size_t> prune_partner(const std::vector<SearchLayer>& layers, size_t i) {
  const std::vector<size_t> members = prune_members(layers, i);
  if (members.size() < 2) return std::nullopt;
  const size_t at = size_t(std::find(members.begin(), members.end(), i) - members.begin());
  return members[(at + 1) % members.size()];
}

std::vector<LayerItem> layer_items(const std::vector<SearchLayer>& layers) {
  std::vector<LayerItem> items;
  std::vector<bool> placed(layers.size(), false);
  for (size_t i = 0; i < layers.size(); ++i) {
    if (placed[i]) continue;
    LayerItem item;
    item.layers = prune_members(layers, i);
    for (size_t m : item.layers) placed[m] = true;
    std::vector<size_t> partial;
    add_combinations(layers, item, partial);
    items.push_back(std::move(item));
  }
  return items;
}

std::vector<std::vector<Option>> item_options(const std::vector<LayerItem>& items, const std::vector<std::vector<double>>& loss,
                                              const std::function<int64_t(size_t i, size_t a)>& cost) {
  std::vector<std::vector<Option>> out;
  for (const LayerItem& item : items) {
    std::vector<Option> options;
    for (const auto& option : item.options) {
      Option o;
      for (size_t k = 0; k < item.layers.size(); ++k) {
        o.cost += cost(item.layers[k], option[k]);
        o.loss += loss[item.layers[k]][option[k]];
      }
      options.push_back(o);
    }
    out.push_back(std::move(options));
  }
  return out;
}

std::vector<std::vector<Option>> item_options(const std::vector<SearchLayer>& layers, const std::vector<LayerItem>& items,
                                              const std::vector<std::vector<double>>& loss, int64_t per_quantized_layer) {
  return item_options(items, loss, [&](size_t i, size_t a) {
    const LayerAction& act = layers[i].allowed[a];
    return action_bytes(layers[i], act) + (act.kind != LayerAction::Kind::kKeepFloat ? per_quantized_layer : 0);
  });
}

std::vector<LayerAction> item_actions(const std::vector<SearchLayer>& layers, const std::vector<LayerItem>& items,
                                      const std::vector<size_t>& choice) {
  std::vector<LayerAction> actions(layers.size());
  for (size_t t = 0; t < items.size() && t < choice.size(); ++t)
    for (size_t k = 0; k < items[t].layers.size(); ++k)
      actions[items[t].layers[k]] = layers[items[t].layers[k]].allowed[items[t].options[choice[t]][k]];
  return actions;
}

EfficientOptions efficient_options(const std::vector<std::vector<Option>>& options) {
  EfficientOptions out;
  for (const auto& item : options) {
    std::vector<size_t> order(item.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return item[a].cost != item[b].cost ? item[a].cost < item[b].cost : item[a].loss < item[b].loss;
    });
    // Cheapest first: an option survives when its loss is below every cheaper (or equal) one's.
    std::vector<bool> keep(item.size(), false);
    double best = 0;
    for (size_t k = 0; k < order.size(); ++k)
      if (k == 0 || item[order[k]].loss < best) keep[order[k]] = true, best = item[order[k]].loss;
    std::vector<Option> kept;
    std::vector<size_t> source;
    for (size_t a = 0; a < item.size(); ++a)
      if (keep[a]) kept.push_back(item[a]), source.push_back(a);
    out.options.push_back(std::move(kept));
    out.source.push_back(std::move(source));
  }
  return out;
}

std::vector<LayerAction> item_actions(const std::vector<SearchLayer>& layers, const std::vector<LayerItem>& items,
                                      const EfficientOptions& efficient, const std::vector<size_t>& choice) {
  std::vector<size_t> original(choice.size());
  for (size_t t = 0; t < choice.size() && t < efficient.source.size(); ++t) original[t] = efficient.source[t][choice[t]];
  return item_actions(layers, items, original);
}

}  // namespace ember::passes::search
