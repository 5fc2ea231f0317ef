// Backward rule of Resize and Upsample: the forward is linear in X, one axis at a time
// (Y = T_k ... T_1 X with each T a matrix of taps along one axis), so
//   dX = T_1^T ... T_k^T dY
// applied axis by axis in the reverse order (resize_plan.h). Extrapolated outputs
// (tf_crop_and_resize outside the region) pass no gradient. Scales, sizes and roi carry none.
#include "runtime/grad/grad_util.h"
#include "runtime/kernels/resize_plan.h"

namespace ember::runtime::grad {
namespace {

GradNeeds resize_needs(const ir::Node& node, IndexMask) {
  IndexMask inputs = 0;
  for (size_t i = 1; i < node.inputs.size() && i < 4; ++i) inputs |= bit(i);  // roi, scales, sizes
  return {inputs, 0};
}

Status resize_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(const ResizePlan plan,
                         plan_resize(ctx.node, ctx.opset, ctx.node.op_type == "Upsample", ctx.input_shapes[0], ctx.inputs));
  Tensor grad = ctx.output_grad(0);
  for (size_t k = plan.steps.size(); k-- > 0;) {
    const ResizeStep& step = plan.steps[k];
    Tensor dx = ctx.allocate(step.in);
    resize_axis_adjoint(grad.data<float>(), dx.mutable_data<float>(), step.in, step.axis, step.out, step.taps);
    grad = std::move(dx);
  }
  ctx.input_grads[0] = std::move(grad);
  return Status::Ok();
}

}  // namespace

void register_resize_grads(GradRegistry& r) {
  r.add("Resize", bit(0), resize_needs, resize_backward);
  r.add("Upsample", bit(0), resize_needs, resize_backward);
}

}  // namespace ember::runtime::grad
