#include "runtime/single_op.h"

#include <cstring>

#include "runtime/kernel_guard.h"

namespace ember::runtime {

Tensor HeapAllocator::allocate(DType dtype, Shape shape) {
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  if (t.nbytes()) std::memset(t.raw_mutable(), 0xFF, t.nbytes());
  return t;
}

Result<std::vector<Tensor>> run_single_op(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                                          bool inputs_are_constant, const KernelRegistry& registry) {
  const KernelDef* def = registry.find(node.op_type, node.domain, opset);
  if (!def) return unsupported("no kernel for " + node.op_type + " (domain '" + node.domain + "', opset " + std::to_string(opset) + ")");
  std::unique_ptr<Kernel> kernel = def->make();
  std::vector<const Tensor*> input_ptrs;
  for (const auto& t : inputs) input_ptrs.push_back(t.defined() ? &t : nullptr);
  PrepareContext prepare{node, opset, inputs_are_constant ? input_ptrs : std::vector<const Tensor*>(inputs.size(), nullptr)};
  EMBER_TRY(prepare_kernel(*kernel, prepare));
  HeapAllocator allocator;
  std::vector<Tensor> outputs(node.outputs.size());
  RunContext ctx{node, input_ptrs, outputs, allocator};
  EMBER_TRY(run_kernel(*kernel, ctx));
  return outputs;
}

}  // namespace ember::runtime
