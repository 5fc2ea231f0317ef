// The roles of an attention block's projection sections, for narrowing its heads (head_width.h):
// query and key meet in the score MatMul (inputs 0 and 1), the value is the context MatMul's
// input 1. Each section is followed from its projection's output along the one reader of each
// head value (a Split's output, or the Slice starting at the section, at the fork) to the first
// MatMul of two head values; the score MatMul is the one whose output reaches the other's input 0.
#pragma once
#include <cstdint>
#include <set>
#include <string>

#include "ir/model.h"
#include "passes/graph_edit.h"
#include "passes/prune/head_groups.h"

namespace ember::passes::prune {

// Fills group.roles (one query, key and value) and returns "", or returns why the heads cannot be
// narrowed (grouped-query attention, a per-channel constant on the heads, no head-dimension
// constant, a path that cannot be followed). `matmuls`: the block's MatMuls of two head values;
// group.values: its head values (as HeadTracer found them).
std::string find_head_roles(const ir::Graph& graph, const ValueReaders& readers, const std::set<size_t>& matmuls,
                            int64_t head_dim, HeadGroup& group);

}  // namespace ember::passes::prune
