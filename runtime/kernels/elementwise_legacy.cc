// Binary ops before opset 7 broadcast only when broadcast=1, and then B aligns with A's
// trailing dims, or with A's dims from `axis` when that attribute is given. B is viewed
// with trailing 1s appended so the numpy-broadcasting kernel computes the same thing.
#include <string>
#include <vector>

#include "runtime/kernels/elementwise_ops.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {

Status run_with_legacy_broadcast(RunContext& ctx, RunFunction kernel) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (ctx.node.attr_int("broadcast", 0) == 0) {
    if (a.shape() != b.shape())
      return invalid_input(ctx.where() + ": shapes " + shape_to_string(a.shape()) + " and " +
                           shape_to_string(b.shape()) + " differ and broadcast is not enabled");
    return kernel(ctx);
  }
  const ir::Attribute* axis_attr = ctx.node.find_attr("axis");
  if (!axis_attr) return kernel(ctx);
  const int64_t axis = axis_attr->i < 0 ? axis_attr->i + a.rank() : axis_attr->i;
  if (axis < 0 || axis + b.rank() > a.rank())
    return invalid_input(ctx.where() + ": cannot align shape " + shape_to_string(b.shape()) + " at axis " +
                         std::to_string(axis_attr->i) + " of shape " + shape_to_string(a.shape()));
  Shape aligned = b.shape();
  aligned.resize(static_cast<size_t>(a.rank() - axis), 1);
  const Tensor b_view = b.reshaped(aligned);
  const std::vector<const Tensor*> inputs = {&a, &b_view};
  RunContext inner{ctx.node, inputs, ctx.outputs, ctx.allocator};
  return kernel(inner);
}

}  // namespace ember::runtime
