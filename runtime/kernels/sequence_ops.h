// The sequence kernel family (kernels.def), split over sequence.cc (the list operations),
// sequence_split_concat.cc (SplitToSequence, ConcatFromSequence) and sequence_map.cc.
#pragma once
#include <memory>

#include "runtime/value_kernel.h"

namespace ember::runtime {

// Position input `i` (int32 or int64 scalar) normalised to [0, length) — or [0, length] when
// `inserting` — else invalid_input naming the node, the position and the length.
Result<int64_t> read_position(const ValueRunContext& ctx, size_t i, int64_t length, bool inserting);

Status split_to_sequence(ValueRunContext& ctx);
Status concat_from_sequence(ValueRunContext& ctx);
std::unique_ptr<Kernel> make_sequence_map_kernel();

}  // namespace ember::runtime
