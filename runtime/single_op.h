// Runs one node outside a graph: for constant folding and for kernel unit tests.
#pragma once
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

// Allocates fresh tensors (no reuse). Used where simplicity beats speed. The bytes are
// filled with 0xFF (NaN for floats) so a kernel that forgets to write an output shows up.
class HeapAllocator final : public TensorAllocator {
 public:
  Tensor allocate(DType dtype, Shape shape) override;
};

// `inputs[i]` undefined (default Tensor) marks an omitted optional input. When
// `inputs_are_constant` is set, prepare sees every input as a constant.
Result<std::vector<Tensor>> run_single_op(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                                          bool inputs_are_constant = false,
                                          const KernelRegistry& registry = default_registry());

}  // namespace ember::runtime
