#include "passes/search/layer_items.h"

namespace ember::passes::search {

std::optional<size_t> prune_partner(const std::vector<SearchLayer>& layers, size_t i) {
  if (layers[i].prune_group.empty()) return std::nullopt;
  for (size_t j = 0; j < layers.size(); ++j)
    if (j != i && layers[j].prune_group == layers[i].prune_group) return j;
  return std::nullopt;
}

std::vector<LayerItem> layer_items(const std::vector<SearchLayer>& layers) {
  std::vector<LayerItem> items;
  std::vector<bool> placed(layers.size(), false);
  for (size_t i = 0; i < layers.size(); ++i) {
    if (placed[i]) continue;
    LayerItem item;
    const std::optional<size_t> partner = prune_partner(layers, i);
    if (!partner) {
      item.layers = {i};
      for (size_t a = 0; a < layers[i].allowed.size(); ++a) item.options.push_back({a});
    } else {
      item.layers = {i, *partner};
      placed[*partner] = true;
      const auto& first = layers[i].allowed;
      const auto& second = layers[*partner].allowed;
      for (size_t a = 0; a < first.size(); ++a)
        for (size_t b = 0; b < second.size(); ++b)
          if (prune_ratio(first[a]) == prune_ratio(second[b])) item.options.push_back({a, b});
    }
    placed[i] = true;
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

}  // namespace ember::passes::search
