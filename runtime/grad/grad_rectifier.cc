// Backward rules of the rectifier-like activations, from the saved input x:
//   Elu:   dy (x > 0 ? 1 : alpha e^x)              Selu: dy gamma (x > 0 ? 1 : alpha e^x)
//   Celu:  dy (x > 0 ? 1 : e^(x / alpha))          Softplus: dy sigmoid(x)
//   Softsign: dy / (1 + |x|)^2                       ThresholdedRelu: dy [x > alpha]
//   Shrink: dy [|x| > lambd]
//   Mish, y = x tanh(s), s = softplus(x):  dy (tanh s + x (1 - tanh^2 s) sigmoid x)
//   PRelu, y = x < 0 ? slope x : x (slope broadcast to x; before opset 7 a [C] slope is per
//   channel of [N, C, ...]):  dx = dy (x < 0 ? slope : 1),  dslope = sum over broadcast axes
//   of dy [x < 0] x. The slope is often a weight.
#include <cmath>

#include "runtime/grad/grad_util.h"

namespace ember::runtime::grad {
namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float softplus(float x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

Status elu_backward(BackwardContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  return pointwise_backward(ctx, ctx.input(0), [alpha](float g, float x) { return x > 0 ? g : g * alpha * std::exp(x); });
}
Status selu_backward(BackwardContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.67326319217681884765625f);
  const float gamma = ctx.node.attr_float("gamma", 1.05070102214813232421875f);
  return pointwise_backward(ctx, ctx.input(0),
                            [alpha, gamma](float g, float x) { return g * gamma * (x > 0 ? 1.0f : alpha * std::exp(x)); });
}
Status celu_backward(BackwardContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  if (alpha == 0) return invalid_input(ctx.where() + ": alpha must not be 0");
  return pointwise_backward(ctx, ctx.input(0), [alpha](float g, float x) { return x > 0 ? g : g * std::exp(x / alpha); });
}
Status softplus_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g * sigmoid(x); });
}
Status softsign_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) {
    const float d = 1.0f + std::fabs(x);
    return g / (d * d);
  });
}
Status thresholded_relu_backward(BackwardContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  return pointwise_backward(ctx, ctx.input(0), [alpha](float g, float x) { return x > alpha ? g : 0.0f; });
}
Status shrink_backward(BackwardContext& ctx) {
  const float lambd = ctx.node.attr_float("lambd", 0.5f);
  return pointwise_backward(ctx, ctx.input(0), [lambd](float g, float x) { return x < -lambd || x > lambd ? g : 0.0f; });
}
Status mish_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) {
    const float t = std::tanh(softplus(x));
    return g * (t + x * (1.0f - t * t) * sigmoid(x));
  });
}

GradNeeds prelu_needs(const ir::Node&, IndexMask wanted) {
  GradNeeds n{bit(0), 0};
  if (wanted & bit(0)) n.inputs |= bit(1);
  return n;
}

Status prelu_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  const Shape& slope_shape = ctx.input_shapes[1];
  // The forward's per-channel form (opset < 7): a [C] slope over [N, C, ...] acts as [C, 1, ...].
  Shape slope_view = slope_shape;
  if (ctx.opset < 7 && slope_shape.size() == 1 && x.rank() >= 3 && slope_shape[0] == x.dim(1) && slope_shape[0] != 1) {
    slope_view.assign(static_cast<size_t>(x.rank() - 1), 1);
    slope_view[0] = slope_shape[0];
  }
  const Tensor& dy = ctx.output_grad(0);
  if (ctx.wants(0)) {
    EMBER_TRY(require_f32(ctx, ctx.input(1), "slope"));
    const Tensor slope = ctx.input(1).reshaped(slope_view);
    Tensor dx = ctx.allocate(x.shape());
    broadcast_binary<float, float, float>(x, slope, dx, [](float v, float s) { return v < 0 ? s : 1.0f; });
    ctx.input_grads[0] = multiply_broadcast(ctx, dy, dx, x.shape());
  }
  if (ctx.wants(1)) {
    Tensor g = ctx.allocate(x.shape());
    const float* px = x.data<float>();
    const float* pg = dy.data<float>();
    float* out = g.mutable_data<float>();
    for (int64_t i = 0; i < g.numel(); ++i) out[i] = px[i] < 0 ? pg[i] * px[i] : 0.0f;
    ctx.input_grads[1] = reduce_to_shape(ctx, g, slope_view).reshaped(slope_shape);
  }
  return Status::Ok();
}

}  // namespace

void register_rectifier_grads(GradRegistry& r) {
  r.add("Elu", bit(0), needs_input0, elu_backward);
  r.add("Selu", bit(0), needs_input0, selu_backward);
  r.add("Celu", bit(0), needs_input0, celu_backward);
  r.add("Softplus", bit(0), needs_input0, softplus_backward);
  r.add("Softsign", bit(0), needs_input0, softsign_backward);
  r.add("ThresholdedRelu", bit(0), needs_input0, thresholded_relu_backward);
  r.add("Shrink", bit(0), needs_input0, shrink_backward);
  r.add("Mish", bit(0), needs_input0, mish_backward);
  r.add("PRelu", bit(0) | bit(1), prelu_needs, prelu_backward);
}

}  // namespace ember::runtime::grad
