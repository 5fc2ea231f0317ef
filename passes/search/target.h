// What a search's target means in the units the allocation works in (allocation.h), and
// whether the allowed actions can meet it at all.
//   size_bytes:       the model file; the layers may use  target - fixed  bytes, where fixed is
//                     the prepared FP32 file minus its layers' f32 bytes, plus a small
//                     per-quantized-layer allowance for the DequantizeLinear node and names
//                     (the search checks the real serialized size and tightens when over)
//   bits_per_weight:  8 * sum bytes / sum params over the search's layers <= target
//   none:             no limit on cost (the smallest model within the budget)
// Energy and latency targets are not implemented yet (invalid input, saying so).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/search/actions.h"
#include "passes/search/search_recipe.h"

namespace ember::passes::search {

constexpr int64_t kBytesPerQuantizedLayer = 160;  // a DequantizeLinear node, its inputs' names and tensor headers

std::string target_kind_name(SearchTarget::Kind kind);  // "none", "size_bytes", ...

// A finite positive value for a limiting kind; energy and latency are refused for now.
Status check_target(const SearchTarget& target);

// The byte budget of the layers' weights (see the header comment); invalid input, saying why,
// when even the cheapest action of every layer cannot meet the target.
// `prepared_bytes`: the serialized size of the prepared FP32 model.
Result<int64_t> layer_capacity(const SearchTarget& target, const std::vector<SearchLayer>& layers, int64_t prepared_bytes);

// The bytes of the model outside the search's layers.
int64_t fixed_bytes(const std::vector<SearchLayer>& layers, int64_t prepared_bytes);

}  // namespace ember::passes::search
