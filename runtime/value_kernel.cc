#include "runtime/value_kernel.h"

#include <set>

#include "ir/memory_limits.h"
#include "runtime/kernel_guard.h"

namespace ember::runtime {

Result<const Tensor*> ValueRunContext::tensor(size_t i, const std::string& what) const {
  if (!has_input(i)) return invalid_input(where() + ": " + what + " (input " + std::to_string(i) + ") is missing");
  if (!inputs[i].is_tensor())
    return invalid_input(where() + ": " + what + " (input " + std::to_string(i) + ") must be a tensor, it is a " +
                         inputs[i].describe());
  return &inputs[i].tensor();
}

Result<const Value*> ValueRunContext::sequence(size_t i, const std::string& what) const {
  if (!has_input(i)) return invalid_input(where() + ": " + what + " (input " + std::to_string(i) + ") is missing");
  if (!inputs[i].is_sequence())
    return invalid_input(where() + ": " + what + " (input " + std::to_string(i) + ") must be a sequence, it is a " +
                         inputs[i].describe());
  return &inputs[i];
}

Status ValueKernel::run(RunContext& ctx) {
  std::vector<Value> inputs;
  for (const Tensor* t : ctx.inputs) inputs.push_back(t ? Value(*t) : Value());
  std::vector<Value> outputs(ctx.outputs.size());
  ValueRunContext values{ctx.node, inputs, outputs, ctx.allocator};
  EMBER_TRY(run_values(values));
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].is_tensor())
      return unsupported(ctx.where() + ": output " + std::to_string(i) + " is a " + outputs[i].describe() +
                         ", which only the interpreter carries");
    ctx.outputs[i] = outputs[i].tensor();
  }
  return Status::Ok();
}

void add_value_function(KernelRegistry& registry, std::string op_type, int since_version, ValueRunFunction fn) {
  registry.add(std::move(op_type), "", since_version, [fn] { return std::make_unique<ValueFunctionKernel>(fn); });
}

bool makes_non_tensor_values(const ir::Node& node) {
  static const std::set<std::string> kOps = {
      "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SplitToSequence",
      "SequenceMap",   "Optional",          "OptionalGetElement"};
  return (node.domain.empty() || node.domain == "ai.onnx") && kOps.count(node.op_type) > 0;
}

namespace {

// ONNX types every operator's values as tensors, seq(tensor) and optionals of those at most
// (Identity, If and Loop's V, Optional's V and O, the sequence ops' S): a nested sequence is
// a graph input or output only. `what` names the value ("input 1 ('s')").
Status refuse_nested(const ValueRunContext& ctx, const Value& v, const std::string& what) {
  if (!v.nested()) return Status::Ok();
  return invalid_input(ctx.where() + ": " + what + " is a " + v.describe() + " (" + v.type_string() +
                       "); ONNX types this operator's values as tensor, seq(tensor) or optionals of them, never a "
                       "sequence of sequences");
}

}  // namespace

Status run_value_kernel(ValueKernel& kernel, ValueRunContext& ctx) {
  // The declared inputs only: outer-scope values a subgraph reads (appended after them) are
  // checked where the subgraph's own nodes take them.
  for (size_t i = 0; i < ctx.node.inputs.size() && i < ctx.inputs.size(); ++i)
    EMBER_TRY(refuse_nested(ctx, ctx.inputs[i], "input " + std::to_string(i) + " ('" + ctx.node.inputs[i] + "')"));
  Status status;
  try {
    status = kernel.run_values(ctx);
  } catch (...) {
    return guard_allocations(ctx.where(), []() -> Status { throw; });
  }
  EMBER_TRY(status);
  for (size_t o = 0; o < ctx.outputs.size(); ++o)  // an If branch or Loop body passing an outer nested value out
    EMBER_TRY(refuse_nested(ctx, ctx.outputs[o], "output " + std::to_string(o) + (o < ctx.node.outputs.size() ? " ('" + ctx.node.outputs[o] + "')" : "")));
  return Status::Ok();
}

Status check_sequence_size(const ValueRunContext& ctx, int64_t length) {
  EMBER_TRY(check_sequence_length(length, ctx.where() + ": the sequence's length"));
  return check_allocation(uint64_t(length) * sizeof(Tensor), ctx.where() + ": the sequence's " + std::to_string(length) + " tensor headers");
}

}  // namespace ember::runtime
