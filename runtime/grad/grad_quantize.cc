// Backward rule of DequantizeLinear, y = (x - zero_point) scale with one scale per tensor, per
// axis index or per block (quant_params.h). x and the zero point are integers and carry no
// gradient; the scale does: dscale_k = sum over the elements e that scale k covers of
// dy_e (x_e - zero_point_k) = dy_e y_e / scale_k (from the saved output; a zero scale, whose
// elements are all 0 whatever x is, gets 0).
#include "runtime/grad/grad_util.h"
#include "runtime/kernels/quant_params.h"

namespace ember::runtime::grad {
namespace {

GradNeeds dequantize_needs(const ir::Node&, IndexMask) { return {bit(1), bit(0)}; }

Status dequantize_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(1)) return Status::Ok();
  const Tensor& scale = ctx.input(1);
  const Tensor& y = ctx.output(0);
  EMBER_TRY(require_f32(ctx, scale, "the scale"));
  EMBER_TRY(require_f32(ctx, y, "the output"));
  EMBER_ASSIGN_OR_RETURN(QuantLayout layout, resolve_quant_layout(ctx.input_shapes[0], scale.shape(), ctx.node.attr_int("axis", 1),
                                                                  ctx.node.attr_int("block_size", 0), ctx.where()));
  const float* s = scale.data<float>();
  const float* py = y.data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  std::vector<double> ds(size_t(scale.numel()), 0.0);
  for_each_quant_element(layout, 0, y.numel(), [&](int64_t e, int64_t k) {
    if (s[k] != 0.0f) ds[size_t(k)] += double(dy[e]) * py[e] / s[k];
  });
  ctx.input_grads[1] = Tensor::from_vector<float>(ctx.input_shapes[1], std::vector<float>(ds.begin(), ds.end()));
  return Status::Ok();
}

}  // namespace

void register_quantize_grads(GradRegistry& r) {
  r.add("DequantizeLinear", bit(1), dequantize_needs, dequantize_backward);
}

}  // namespace ember::runtime::grad
