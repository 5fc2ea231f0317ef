// Run-time limits that keep a hostile model from spinning forever: the iteration and
// sequence-length caps of the control-flow and sequence kernels. Errors quote the limit.
// (To be merged with the central allocation cap of the runtime's limits when it lands.)
#pragma once
#include <cstdint>

namespace ember::runtime {

struct ControlFlowLimits {
  // Loop iterations per node execution (trip count or a condition that stays true).
  static constexpr int64_t kMaxLoopIterations = 10'000'000;
  // Elements of one sequence value.
  static constexpr int64_t kMaxSequenceLength = 1'000'000;
};

}  // namespace ember::runtime
