// Run-time limits that keep a hostile model from spinning forever or asking for absurd
// memory: the iteration cap of the control-flow kernels, and the element cap of ops whose
// output size comes from attributes or small inputs (Resize scales, Random shapes...).
// Errors quote the limit.
// (To be merged with the central allocation cap of the runtime's limits when it lands.)
#pragma once
#include <cstdint>
#include <string>

#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::runtime {

struct ControlFlowLimits {
  // Loop iterations per node execution (trip count or a condition that stays true).
  static constexpr int64_t kMaxLoopIterations = 10'000'000;
  // Elements of one sequence value.
  static constexpr int64_t kMaxSequenceLength = 1'000'000;
  // Elements of one output whose size the model states (2^31, 8 GiB of floats).
  static constexpr int64_t kMaxCreatedElements = int64_t(1) << 31;
};

// An error naming the node when `shape` holds more than kMaxCreatedElements elements.
inline Status check_created_size(const std::string& where, const Shape& shape) {
  double count = 1;
  for (int64_t d : shape) count *= double(d < 0 ? 0 : d);
  if (count > double(ControlFlowLimits::kMaxCreatedElements))
    return invalid_input(where + ": the output " + shape_to_string(shape) + " would hold more than " +
                         std::to_string(ControlFlowLimits::kMaxCreatedElements) + " elements, the limit");
  return Status::Ok();
}

}  // namespace ember::runtime
