// The allocation's items (allocation.h) over a search's layers: one item per layer, except the
// layers of a prunable group (an FFN's two layers, an attention block's Q/K/V projections and
// output projection), which form one item because they lose the same units.
// Before: layers with their allowed actions (actions.h; the layers of a group name the same
//         prune_group).
// After:  items; an item's option is one allowed action per layer of the item: every
//         combination whose layers share one prune ratio, P^L (R + 1) options for L layers,
//         P precisions and R ratios. Cost and loss add over the item's layers, so the
//         multiple-choice knapsack stays exact. A block of separate Q, K, V and output
//         projections has P^4 (R + 1) combinations (20,480 for 8 precisions and 4 ratios);
//         efficient_options keeps those no other combination beats in both cost and loss (the
//         knapsack never needs the others), which is what the DP then solves over.
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

// The options of each item that no other option of it dominates (cost <= and loss <=, one of
// them strictly; of equal ones the first), in their original order, and where each came from.
struct EfficientOptions {
  std::vector<std::vector<Option>> options;  // what the allocation solves over
  std::vector<std::vector<size_t>> source;   // per item and kept option: its index in item_options
};
EfficientOptions efficient_options(const std::vector<std::vector<Option>>& options);
// One action per layer from a choice over efficient options.
std::vector<LayerAction> item_actions(const std::vector<SearchLayer>& layers, const std::vector<LayerItem>& items,
                                      const EfficientOptions& efficient, const std::vector<size_t>& choice);

// The next layer of layer i's prune group (cyclically: following partners from any member
// visits the whole group and returns to it), if it has one.
std::optional<size_t> prune_partner(const std::vector<SearchLayer>& layers, size_t i);
// Every layer of layer i's prune group, in layer order ({i} when it has none).
std::vector<size_t> prune_members(const std::vector<SearchLayer>& layers, size_t i);

}  // namespace ember::passes::search
