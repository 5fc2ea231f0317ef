// What a search's target means in the units the allocation works in (allocation.h), and
// whether the allowed actions can meet it at all.
//   size_bytes:       the model file; the layers may use  target - fixed  bytes, where fixed is
//                     the prepared FP32 file minus its layers' f32 bytes, plus a small
//                     per-quantized-layer allowance for the DequantizeLinear node and names
//                     (the search checks the real serialized size and tightens when over)
//   bits_per_weight:  8 * sum bytes / sum params over the search's layers <= target
//   energy_joules, latency_seconds:  fixed + sum of the layers' action costs <= target
//                     (resource_cost.h), in integer picojoules or nanoseconds: each action's
//                     cost rounded up, the capacity down, so the predicted value never exceeds it
//   none:             no limit on cost (the smallest model within the budget)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/search/actions.h"
#include "passes/search/resource_cost.h"
#include "passes/search/search_recipe.h"

namespace ember::passes::search {

constexpr int64_t kBytesPerQuantizedLayer = 160;  // a DequantizeLinear node, its inputs' names and tensor headers

std::string target_kind_name(SearchTarget::Kind kind);  // "none", "size_bytes", ...

// A finite positive value for a limiting kind.
Status check_target(const SearchTarget& target);

// The byte budget of the layers' weights (see the header comment); invalid input, saying why,
// when even the cheapest action of every layer cannot meet the target.
// `prepared_bytes`: the serialized size of the prepared FP32 model.
Result<int64_t> layer_capacity(const SearchTarget& target, const std::vector<SearchLayer>& layers, int64_t prepared_bytes);

// Energy and latency targets: integer units per joule or second (1e12: picojoules; 1e9: nanoseconds).
double resource_units_per_value(SearchTarget::Kind kind);
// An action's cost in those units, rounded up.
int64_t resource_units(SearchTarget::Kind kind, double value);
// The units the layers' actions may use: floor((target - fixed) * units); invalid input, saying
// what the cheapest allowed action of every layer predicts, when that is over the target.
Result<int64_t> resource_capacity(const SearchTarget& target, const std::vector<SearchLayer>& layers, const ResourceCosts& costs);
// "12.5 ms", "2.1 mJ".
std::string resource_text(SearchTarget::Kind kind, double value);

// The bytes of the model outside the search's layers.
int64_t fixed_bytes(const std::vector<SearchLayer>& layers, int64_t prepared_bytes);

}  // namespace ember::passes::search
