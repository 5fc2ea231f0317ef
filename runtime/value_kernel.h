// Kernels over values that are not only tensors: sequences and optionals (ir/value.h).
// A ValueKernel is a Kernel (registered and prepared like any other) that the interpreter runs
// through run_values with Value inputs and outputs. Plain kernels keep their tensor-only
// RunContext: the interpreter refuses to hand them a sequence or an optional (naming the
// node), and a ValueKernel refuses a tensor where it needs a sequence, so a graph that mixes
// them up stops with invalid_input instead of computing nonsense.
// Tensor-only callers (run_single_op, constant folding) may still run a ValueKernel through
// Kernel::run when its inputs and outputs are tensors (Identity, OptionalHasElement on one).
#pragma once
#include <string>
#include <vector>

#include "ir/value.h"
#include "runtime/kernel.h"

namespace ember::runtime {

struct ValueRunContext {
  const ir::Node& node;
  const std::vector<Value>& inputs;  // an undefined tensor for an omitted input
  std::vector<Value>& outputs;       // sized to node.outputs; kernels assign them
  TensorAllocator& allocator;

  size_t num_inputs() const { return inputs.size(); }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].defined(); }
  std::string where() const { return "node '" + node.name + "' (" + node.op_type + ")"; }
  // The input `i` as a tensor / a sequence: invalid_input naming the node and what it got when
  // it is absent or of another kind. `what` names the input ("the position").
  Result<const Tensor*> tensor(size_t i, const std::string& what) const;
  Result<const Value*> sequence(size_t i, const std::string& what) const;
  // A new tensor from the allocator, for output `i` (throws AllocationRefused over the caps).
  Tensor allocate(DType dtype, Shape shape) { return allocator.allocate(dtype, std::move(shape)); }
  // Sets output `i`, when the node has it.
  void set_output(size_t i, Value value) {
    if (i < outputs.size()) outputs[i] = std::move(value);
  }
};

class ValueKernel : public Kernel {
 public:
  virtual Status run_values(ValueRunContext& ctx) = 0;
  // Tensors in, tensors out: for run_single_op and constant folding.
  Status run(RunContext& ctx) final;
};

// A ValueKernel without prepared state: a plain function.
using ValueRunFunction = Status (*)(ValueRunContext&);
class ValueFunctionKernel final : public ValueKernel {
 public:
  explicit ValueFunctionKernel(ValueRunFunction fn) : fn_(fn) {}
  Status run_values(ValueRunContext& ctx) override { return fn_(ctx); }

 private:
  ValueRunFunction fn_;
};

void add_value_function(KernelRegistry& registry, std::string op_type, int since_version, ValueRunFunction fn);

// Ops whose outputs are sequences or optionals: constant folding leaves them to run time.
bool makes_non_tensor_values(const ir::Node& node);

// Runs `kernel` like run_kernel (kernel_guard.h): failed allocations and missing inputs
// become invalid_input naming the node.
Status run_value_kernel(ValueKernel& kernel, ValueRunContext& ctx);

// A sequence length about to be created, against the caps (ir/memory_limits.h): the length
// cap (max_sequence_length) and, for the tensor headers it holds, the total-allocation cap.
// Its tensors' storage was counted when they were allocated.
Status check_sequence_size(const ValueRunContext& ctx, int64_t length);

}  // namespace ember::runtime
