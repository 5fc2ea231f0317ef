// Run functions of the shape and indexing families, defined in shape_*.cc and indexing*.cc
// and listed in the registration tables of shape.cc and indexing.cc. A suffix _vN names the
// opset since which that form of the op applies.
#pragma once
#include <cstdint>

#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

// shape_views.cc: ops that only change the shape and return views of their input.
Status run_shape(RunContext& ctx);
Status run_size(RunContext& ctx);
Status run_identity(RunContext& ctx);
Status run_reshape(RunContext& ctx);
Status run_flatten(RunContext& ctx);
Status run_squeeze_v1(RunContext& ctx);    // axes attribute
Status run_squeeze_v13(RunContext& ctx);   // axes input
Status run_unsqueeze_v1(RunContext& ctx);  // axes attribute
Status run_unsqueeze_v13(RunContext& ctx); // axes input

// shape_constant.cc
Status run_constant(RunContext& ctx);
Status run_constant_of_shape(RunContext& ctx);
Status run_range(RunContext& ctx);

// shape_transpose.cc
Status run_transpose(RunContext& ctx);

// shape_concat_split.cc
Status run_concat(RunContext& ctx);
Status run_split_v2(RunContext& ctx);   // split attribute
Status run_split_v13(RunContext& ctx);  // split input
Status run_split_v18(RunContext& ctx);  // split input or num_outputs attribute

// shape_expand_tile.cc
Status run_expand(RunContext& ctx);
Status run_tile(RunContext& ctx);

// shape_pad.cc
// Where output coordinate i - begin of an axis of n reads from: a coordinate in [0, n), or
// -1 for the constant (also used by Pad's backward rule).
enum class PadMode { kConstant, kReflect, kEdge, kWrap };
int64_t pad_source_coordinate(PadMode mode, int64_t i, int64_t n);
// The node's "mode" attribute (default constant); `where` names the node in the error.
Result<PadMode> read_pad_mode(const ir::Node& node, const std::string& where);
Status run_pad_v2(RunContext& ctx);   // pads and value attributes
Status run_pad_v11(RunContext& ctx);  // pads, constant_value and (opset 18) axes inputs

// shape_slice.cc
Status run_slice_v1(RunContext& ctx);   // starts/ends/axes attributes
Status run_slice_v10(RunContext& ctx);  // starts/ends/axes/steps inputs

// indexing_gather.cc
Status run_gather(RunContext& ctx);
Status run_gather_elements(RunContext& ctx);
Status run_gather_nd(RunContext& ctx);

// indexing_scatter.cc
Status run_scatter_elements(RunContext& ctx);
Status run_scatter_nd(RunContext& ctx);

// indexing_misc.cc
Status run_one_hot(RunContext& ctx);
Status run_trilu(RunContext& ctx);
Status run_non_zero(RunContext& ctx);

}  // namespace ember::runtime
