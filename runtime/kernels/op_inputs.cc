#include "runtime/kernels/op_inputs.h"

#include <string>

namespace ember::runtime {

Status require_inputs(const RunContext& ctx, size_t required, size_t max_count) {
  for (size_t i = 0; i < required; ++i)
    if (!ctx.has_input(i))
      return invalid_input(ctx.where() + ": input " + std::to_string(i) + " is required but missing");
  for (size_t i = max_count; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i))
      return invalid_input(ctx.where() + ": takes at most " + std::to_string(max_count) + " inputs, got " +
                           std::to_string(ctx.num_inputs()));
  return Status::Ok();
}

Status require_same_dtype(const RunContext& ctx, size_t a, size_t b) {
  const DType da = ctx.input(a).dtype();
  const DType db = ctx.input(b).dtype();
  if (da == db) return Status::Ok();
  return invalid_input(ctx.where() + ": inputs " + std::to_string(a) + " and " + std::to_string(b) +
                       " must have the same element type, got " + std::string(dtype_name(da)) + " and " +
                       std::string(dtype_name(db)));
}

bool wants_output(const RunContext& ctx, size_t i) {
  return i < ctx.outputs.size() && i < ctx.node.outputs.size() && !ctx.node.outputs[i].empty();
}

Result<std::optional<double>> read_optional_scalar(const RunContext& ctx, size_t index) {
  if (!ctx.has_input(index)) return std::optional<double>{};
  const Tensor& t = ctx.input(index);
  if (t.numel() != 1)
    return invalid_input(ctx.where() + ": input " + std::to_string(index) + " must hold one value, got shape " +
                         shape_to_string(t.shape()));
  if (t.dtype() == DType::kF64) return std::optional<double>(t.data<double>()[0]);
  if (t.dtype() == DType::kI64) return std::optional<double>(static_cast<double>(t.data<int64_t>()[0]));
  auto values = t.to_floats();
  if (!values.ok()) return values.status().with_context(ctx.where() + " input " + std::to_string(index));
  return std::optional<double>((*values)[0]);
}

}  // namespace ember::runtime
