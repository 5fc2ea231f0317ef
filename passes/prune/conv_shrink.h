// The physical shrink of a channel group (conv_groups.h): C channels -> the kept C'.
// Before: Conv(W [C, ...], b [C]) -> BN(scale, B, mean, var [C]) -> ... -> depthwise Conv
//         (W [C, 1, k...], group = C) -> ... -> Conv(V [M, C, k...]) / Flatten -> Gemm(U [M, C*S])
// After:  W [C', ...], b [C'], BN [C'], per-channel constants [.., C', ..], depthwise [C', 1, k...]
//         with group = C', V' [M, C', k...] and U' [M, C'*S] from the recovery (recovery.h, on the
//         consumer's canonical [M, C*k] or [M, C*S] matrix with columns c*k .. c*k + k - 1 for
//         channel c), a 2-D Reshape constant that spells C*S becomes C'*S, and value_info dims.
// Each tensor keeps the positions of its value's kept units (channel_units.h): after a Concat,
// a consumer keeps the columns of the kept channels of every input, at their offsets.
// A consumer Conv without a bias gets one when the recovery produced one (bias compensation).
// Every tensor is replaced, never written through, so a copy of the model stays whole.
#pragma once
#include <vector>

#include "passes/prune/conv_groups.h"
#include "passes/prune/recovery.h"

namespace ember::passes::prune {

// The consumer's weight as its canonical [M, C*S] matrix (S = kernel elements or features per channel).
std::vector<float> consumer_canonical(const ir::Graph& graph, const ChannelConsumer& c, int64_t& rows, int64_t& cols);

// The columns of `kept` channels (S each), in order.
std::vector<int64_t> channel_columns(const std::vector<int64_t>& channels, int64_t s);

// `updates`: one per consumer of `g`, canonical [M, C'*S] and the bias (empty: unchanged);
// `removed_unit`: per unit of `g`, whether it goes.
Status shrink_channel_group(ir::Graph& graph, const ChannelGroup& g, const std::vector<bool>& removed_unit,
                            const std::vector<ConsumerUpdate>& updates);

}  // namespace ember::passes::prune
