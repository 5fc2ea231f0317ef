// The allocation's items (allocation.h) over a search's layers: one item per layer, except the
// two layers of a prunable FFN, which form one item because they lose the same neurons.
// Before: layers with their allowed actions (actions.h; a prunable FFN's first and second layer
//         name the same prune_group).
// After:  items; an item's option is one allowed action per layer of the item. For an FFN pair
//         the options are every (first action, second action) with the same prune ratio:
//         P^2 (R + 1) options for P precisions and R ratios. Cost and loss add over the item's
//         layers, so the multiple-choice knapsack stays exact.
#pragma once
#include <functional>
#include <optional>
#include <vector>

#include "passes/search/actions.h"
#include "passes/search/allocation.h"

namespace ember::passes::search {

struct LayerItem {
  std::vector<size_t> layers;                // indices into the layers
  std::vector<std::vector<size_t>> options;  // per option, per layer of the item: an index into its allowed actions
};

std::vector<LayerItem> layer_items(const std::vector<SearchLayer>& layers);

// The knapsack's options of every item: costs are action_bytes plus `per_quantized_layer` for
// each layer not kept FP32, losses are loss[i][a] summed over the item's layers.
std::vector<std::vector<Option>> item_options(const std::vector<SearchLayer>& layers, const std::vector<LayerItem>& items,
                                              const std::vector<std::vector<double>>& loss, int64_t per_quantized_layer);
// The same with the cost of action a of layer i given by `cost` (an energy or latency target's units).
std::vector<std::vector<Option>> item_options(const std::vector<LayerItem>& items, const std::vector<std::vector<double>>& loss,
                                              const std::function<int64_t(size_t i, size_t a)>& cost);
// One action per layer from the allocation's choice per item.
std::vector<LayerAction> item_actions(const std::vector<SearchLayer>& layers, const std::vector<LayerItem>& items,
                                      const std::vector<size_t>& choice);

// Index of layer i's partner in its FFN (the other layer of the same prune_group), if any.
std::optional<size_t> prune_partner(const std::vector<SearchLayer>& layers, size_t i);

}  // namespace ember::passes::search
